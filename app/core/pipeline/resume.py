"""Finishing what an earlier run (cut off by a quit, a crash or kill -9) left in the journal."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.core.errors import StoreError
from app.core.journal import JournalRow
from app.core.models import FileState, ThumbnailState
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.integrity import identity_is
from app.core.pipeline.job import FileJob, format_for
from app.core.pipeline.retrying import store_call
from app.core.pipeline.stages import finish_duplicate, record_stage
from app.core.pipeline.tools import PipelineTools, context_of
from app.core.store import ObjectStore

log = logging.getLogger(__name__)


async def resume_stage(job: FileJob, tools: PipelineTools) -> bool:
    """Pick up a file the journal knows; True when that finishes it.

    Uploaded earlier (file unchanged, object still there): a duplicate, not read again.
    Cut off while its thumbnail or original was on the way: an original that made it is
    kept (then the thumbnail and index follow); a multipart upload carries on from the
    parts the server still holds, unless the file changed: then that upload (the one the
    journal recorded, no other) is aborted and the file starts again from a clean state.
    """
    row, job.journal.resume = job.journal.resume, None
    context = context_of(job)
    if row is None or row.destination != context.destination_id or not row.key:
        return False
    try:
        return await _resume_from(job, tools, row, context)
    except StoreError:
        job.journal.resume = row  # a retry must still clean up after the earlier run
        raise


async def _resume_from(
    job: FileJob, tools: PipelineTools, row: JournalRow, context: PipelineContext
) -> bool:
    assert row.key
    unchanged = await identity_is(tools, job.path, row.size, row.mtime_ns)
    if row.state.is_final:
        if row.state not in (FileState.UPLOADED, FileState.DUPLICATE):
            return False
        if context.settings.preview is not None and not row.preview_in_bucket:
            return False  # previews are made now: read and checked again, it gets one
        if unchanged and await store_call(job, tools, context.store.object_size, row.key) == (
            row.size
        ):
            job.resumed_as_duplicate(row)
            thumbnail_lost = not row.thumbnail_in_bucket and (
                row.state is FileState.UPLOADED or row.thumbnail_state is ThumbnailState.FAILED
            )
            await finish_duplicate(job, tools, row.thumbnail_key if thumbnail_lost else None)
            return True
        return False
    if row.state not in (FileState.THUMBNAILING, FileState.UPLOADING):
        return False  # nothing had been sent yet
    # The duplicate check had found nothing, so an object at its key is ours.
    if (
        unchanged
        and format_for(row.content_type) is not None
        and row.sha256
        and await store_call(job, tools, context.store.object_size, row.key) == row.size
    ):
        job.resumed_with_original(row)
        if not row.thumbnail_in_bucket or not row.metadata_in_bucket:
            return False  # the pipeline makes and sends the thumbnail and the sidecar
        await record_stage(job, tools)
        job.finish(FileState.UPLOADED)
        tools.finished(job)
        return True
    if not row.upload_id:
        return False  # sent in one request: nothing was left on the server
    if unchanged and row.sha256 and format_for(row.content_type) is not None:
        job.resumed_in_parts(row)  # carries on from the parts the server holds
        return False
    try:  # the file changed: its parts are of no use
        await store_call(job, tools, context.store.abort_multipart, row.key, row.upload_id)
    except StoreError as exc:  # the upload itself will meet the same problem, or not
        log.info("could not abort the unfinished upload to %s: %s", row.key, exc)
    else:
        log.info("aborted the unfinished upload to %s", row.key)
    return False


StoreElsewhere = Callable[[JournalRow], ObjectStore | None]


def needs_abort_elsewhere(row: JournalRow, destination_id: str) -> bool:
    """An earlier run was sending this file, maybe in parts, to another destination than
    today's: those parts stay there (billed) until aborted."""
    return (
        row.destination != destination_id
        and row.state is FileState.UPLOADING
        and bool(row.key)
        and bool(row.upload_id)
    )


async def abort_elsewhere(
    tools: PipelineTools, elsewhere: StoreElsewhere, rows: list[JournalRow]
) -> None:
    """Abort the unfinished uploads an earlier run left at one other destination: for
    exactly the UploadIds our journal recorded, never by key. The files themselves go to
    today's destination, from the start."""
    try:
        store = await tools.run_io(elsewhere, rows[0])
    except StoreError as exc:
        log.info("cannot reach %s to abort unfinished uploads: %s", rows[0].bucket, exc)
        return
    if store is None:
        return
    try:
        for row in rows:
            try:
                await tools.run_io(store.abort_multipart, row.key or "", row.upload_id or "")
            except StoreError as exc:
                log.info("could not abort the unfinished upload to %s: %s", row.key, exc)
            else:
                log.info("aborted the unfinished upload to %s in %s", row.key, row.bucket)
    finally:
        await tools.run_io(store.close)
