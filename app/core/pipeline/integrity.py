"""Making sure what stays in the bucket is the content that was hashed: the sentences for
a file that changed or vanished, and the checks behind them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

from app.core.errors import ChecksumMismatch, StoreError, describe_os_error
from app.core.hashing import file_identity
from app.core.pipeline.job import FileJob
from app.core.pipeline.retrying import store_call
from app.core.pipeline.tools import PipelineTools, context_of

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


async def identity_is(
    tools: PipelineTools, path: Path, size: int | None, mtime_ns: int | None
) -> bool:
    if size is None or mtime_ns is None:
        return False
    try:
        return await tools.run_io(file_identity, path) == (size, mtime_ns)
    except OSError:
        return False


async def unchanged(job: FileJob, tools: PipelineTools) -> bool:
    """The file is as it was hashed (same size and mtime)."""
    return await identity_is(tools, job.path, job.outcome.size, job.outcome.mtime_ns)


async def problem_with(job: FileJob, tools: PipelineTools) -> str | None:
    """See identity_problem."""
    outcome = job.outcome
    return await tools.run_io(identity_problem, job.path, outcome.size, outcome.mtime_ns)


async def ensure_unchanged(job: FileJob, tools: PipelineTools, if_changed: str) -> None:
    """Raise (`if_changed`, or why the file cannot be looked at) unless the file is as
    it was hashed."""
    problem = await problem_with(job, tools)
    if problem is not None:
        raise StoreError(if_changed if problem == _CHANGED else problem, permanent=True)


async def copy_matches(job: FileJob, tools: PipelineTools) -> bool:
    """Read the object at the file's key back (streamed) and compare its SHA-256."""
    store, key = context_of(job).store, job.outcome.key or ""

    def read_back() -> str | None:
        try:
            return store.object_sha256(key)
        except ChecksumMismatch:  # the server's own checksum disagrees with its bytes
            return None

    job.notice = VERIFYING_NOTICE
    tools.changed(job)
    try:
        return await store_call(job, tools, read_back) == job.outcome.sha256
    finally:
        if job.notice == VERIFYING_NOTICE:
            job.notice = None


async def remove_copy(job: FileJob, tools: PipelineTools, reason: str) -> NoReturn:
    """Take a wrong copy out of the bucket, then fail the file with `reason`."""
    key, context = job.outcome.key or "", context_of(job)
    try:
        await store_call(job, tools, context.store.delete_object, key)
        context.inventory.removed(key)
    except StoreError as exc:
        raise StoreError(
            f"{reason.split('. ')[0].split(', so ')[0]}, and the copy in the bucket "
            f"(which may be wrong) could not be removed: {exc.reason}. Remove "
            f"{key} from the bucket, then retry.",
            permanent=True,
        ) from exc
    raise StoreError(reason, permanent=True)
