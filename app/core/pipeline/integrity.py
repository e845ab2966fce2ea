"""Making sure what stays in the bucket is the content that was hashed: the sentences for
a file that changed or vanished, and the checks behind them."""

from __future__ import annotations

import os
from pathlib import Path

from app.core.errors import describe_os_error
from app.core.hashing import file_identity

CHANGED_WHILE_READING = (
    "The file changed while it was being read. Try again once it has finished copying."
)
CHANGED_BEFORE_UPLOAD = (
    "The file changed after it was checked, so it was not uploaded. Retry to send the new version."
)
CHANGED_WHILE_SENDING = (
    "The file changed while it was being uploaded, so it was not uploaded. Retry to send the "
    "new version."
)
CHANGED_DURING_UPLOAD = (
    "The file changed while it was being uploaded, so the copy in the bucket was removed. "
    "Retry to send the new version."
)
GONE_DURING_UPLOAD = (
    "The file was moved or deleted (or its drive disconnected) while it was being uploaded, "
    "so the copy in the bucket was removed."
)
FOLDER_GONE = (
    "The file's folder is no longer there (a drive was disconnected, or the folder was moved "
    "or deleted). Reconnect the drive and retry."
)
VERIFY_MISMATCH = (
    "The copy in the bucket did not match the file when it was read back (its SHA-256 "
    "differs), so it was removed. Retry to upload it again."
)
VERIFYING_NOTICE = "Checking the copy in the bucket."
_CHANGED = "changed"


def describe_unreadable(path: Path, exc: OSError) -> str:
    """One sentence for a file that cannot be opened, telling a vanished folder (an
    unplugged drive) from a vanished file."""
    if isinstance(exc, FileNotFoundError | NotADirectoryError) and not os.path.isdir(path.parent):
        return FOLDER_GONE
    return describe_os_error(exc)


def identity_problem(path: Path, size: int | None, mtime_ns: int | None) -> str | None:
    """None while the file is as it was hashed (same size and mtime); otherwise "changed",
    or a sentence saying why it cannot be looked at (gone, folder gone, unreadable)."""
    try:
        identity = file_identity(path)
    except OSError as exc:
        return describe_unreadable(path, exc)
    return None if identity == (size, mtime_ns) else _CHANGED
