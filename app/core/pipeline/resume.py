"""Finishing what an earlier run (cut off by a quit, a crash or kill -9) left in the journal."""

from __future__ import annotations

import logging

from app.core.errors import StoreError
from app.core.journal import JournalRow
from app.core.models import FileState
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.integrity import identity_is
from app.core.pipeline.job import FileJob, format_for
from app.core.pipeline.retrying import store_call
from app.core.pipeline.stages import record_stage
from app.core.pipeline.tools import PipelineTools, context_of

log = logging.getLogger(__name__)


async def resume_stage(job: FileJob, tools: PipelineTools) -> bool:
    """Pick up a file the journal knows; True when that finishes it.

    Uploaded earlier (file unchanged, object still there): a duplicate, not read again.
    Cut off while its thumbnail or original was on the way: an original that made it is
    kept (then the thumbnail and index follow); otherwise unfinished multipart uploads
    to its key are aborted and the file starts again from a clean state.
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
        if unchanged and await store_call(job, tools, context.store.object_size, row.key) == (
            row.size
        ):
            job.resumed_as_duplicate(row)
            job.finish(FileState.DUPLICATE)
            tools.finished(job)
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
        if not row.thumbnail_in_bucket:
            return False  # the pipeline makes and sends the thumbnail
        await record_stage(job, tools)
        job.finish(FileState.UPLOADED)
        tools.finished(job)
        return True
    try:
        aborted = await store_call(job, tools, context.store.abort_incomplete_uploads, row.key)
    except StoreError as exc:  # the upload itself will meet the same problem, or not
        log.info("could not abort unfinished uploads to %s: %s", row.key, exc)
    else:
        if aborted:
            log.info("aborted %d unfinished upload(s) to %s", aborted, row.key)
    return False
