"""One file, from the queue to a final state: the order of the stages, and every way out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.core.errors import StoreError
from app.core.models import FileState
from app.core.pipeline.job import FileJob
from app.core.pipeline.resume import resume_stage
from app.core.pipeline.stages import (
    derivatives_and_sidecar_stage,
    duplicate_stage,
    hash_stage,
    make_thumbnail,
    record_stage,
    retry_thumbnail_stage,
    upload_original_stage,
)
from app.core.pipeline.tools import PipelineTools

log = logging.getLogger(__name__)


async def process_file(
    job: FileJob, tools: PipelineTools, prepare: Callable[[], Awaitable[None]]
) -> None:
    """Take one file from where it is to a final state: `prepare` (the pipeline's: its
    store open, an earlier cancelled upload taken back), then the stages it still needs.
    Every way out is a final state: a failure with its reason, or cancelled."""
    outcome = job.outcome
    try:
        await prepare()
        if job.problem:
            job.reject(job.problem)
            tools.finished(job)
            return
        if job.journal.resume is not None and await resume_stage(job, tools):
            return
        if not outcome.original_in_bucket:
            if not await hash_stage(job, tools):
                return
            if await duplicate_stage(job, tools):
                return
            await _original_and_thumbnail(job, tools)
        elif job.thumbnail_bytes is None and not outcome.thumbnail_in_bucket:
            await retry_thumbnail_stage(job, tools)
        await derivatives_and_sidecar_stage(job, tools)
        await record_stage(job, tools)
        job.finish(FileState.DUPLICATE if job.duplicate else FileState.UPLOADED)
        tools.finished(job)
    except StoreError as exc:
        job.fail(str(exc))
        tools.finished(job)
    except asyncio.CancelledError:
        job.finish(FileState.CANCELLED)
        tools.finished(job)
        raise
    except Exception as exc:  # a bug must not take the batch down
        log.exception("unexpected failure for %s", job.path)
        if not job.state.is_final:
            job.fail(f"Unexpected error: {type(exc).__name__}: {exc}")
            tools.finished(job)


async def _original_and_thumbnail(job: FileJob, tools: PipelineTools) -> None:
    """Send the original while its thumbnail is made: the network and the CPU work side
    by side, and the first bytes of a batch go out without waiting for thumbnails. (A
    thumbnail is kept only if the file is still what was hashed: see stages._derive.)
    The file shows Uploading, then Thumbnailing only if the thumbnail is still being
    made once the original is in."""
    making = None
    if job.thumbnail_bytes is None:
        job.thumbnail_pending()
        making = asyncio.ensure_future(make_thumbnail(job, tools))
    try:
        await tools.journal.before_upload(job)
        await upload_original_stage(job, tools)
    except asyncio.CancelledError:
        if making is not None:
            making.cancel()
        raise
    except BaseException:
        if making is not None:  # kept for Retry failed, as if made before the upload
            await making
        raise
    tools.journal.post(job)  # the original is in: a restart must not resend it
    if making is not None:
        if not making.done():
            tools.enter(job, FileState.THUMBNAILING)
        await making
