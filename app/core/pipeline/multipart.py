"""A large original sent part by part, resumable from the parts already stored.

The UploadId goes to the journal before the first part, and each stored part after it
lands, so a run cut off (a crash, kill -9, a lost network, a quit) leaves a row the next
run can carry on from: the server's own list of parts (ListParts) is asked first, and
only parts it holds with the same ETag and size are kept. An upload the server no longer
knows (completed, aborted, expired, or forgotten by a server that restarted) starts over.

Each part carries its SHA-256 (a checking server refuses a damaged one); the finished
object's composite checksum, when the server gives one, is checked against the parts'.
A file cancelled by the collector has its upload aborted; a quit keeps it for next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from app.core.errors import StoreError
from app.core.pipeline.integrity import remove_copy
from app.core.pipeline.job import FileJob
from app.core.pipeline.retrying import store_call
from app.core.pipeline.tools import PipelineTools, context_of
from app.core.store import (
    MULTIPART_CHUNK_SIZE,
    Part,
    UploadGone,
    composite_sha256,
    parts_from_text,
    parts_to_text,
)

log = logging.getLogger(__name__)

#: Parts of one file in flight at once (each holds its bytes in memory meanwhile).
PARTS_IN_FLIGHT = 4
UPLOAD_MISMATCH = (
    "The storage server put the parts together into something other than what was sent "
    "(its checksum differs), so the copy was removed. Retry to upload it again."
)


def part_count(size: int, part_size: int = MULTIPART_CHUNK_SIZE) -> int:
    return max(1, -(-size // part_size))


def read_part(path: Path, number: int, size: int, part_size: int = MULTIPART_CHUNK_SIZE) -> bytes:
    """Part `number` (from 1) of the file, read where it lies."""
    offset = (number - 1) * part_size
    length = min(part_size, size - offset)
    with open(path, "rb") as handle:
        data = os.pread(handle.fileno(), length, offset)
    if len(data) != length:
        raise StoreError(
            "The file became shorter while it was being uploaded, so it was not uploaded. "
            "Retry to send the new version.",
            permanent=True,
        )
    return data


async def send_in_parts(job: FileJob, tools: PipelineTools) -> None:
    """Send the original as a multipart upload, carrying on from a recorded one; once
    more from the start when the server will not finish that one (rclone serve s3, for
    one, fails an upload whose part was cut off mid-stream by a crash)."""
    try:
        await _send_in_parts(job, tools)
    except UploadGone as exc:
        key, upload_id = job.outcome.key or "", job.outcome.upload_id or ""
        log.info("the server will not finish the upload of %s (%s): starting over", key, exc)
        with contextlib.suppress(StoreError):
            await tools.run_io(context_of(job).store.abort_multipart, key, upload_id)
        job.multipart_ended()
        job.reset_progress()
        await _send_in_parts(job, tools)


async def _send_in_parts(job: FileJob, tools: PipelineTools) -> None:
    context, outcome = context_of(job), job.outcome
    store, key, size = context.store, outcome.key or "", outcome.size or 0
    count = part_count(size)
    stored = await _parts_to_keep(job, tools)
    if outcome.upload_id is None:
        upload_id = await store_call(
            job,
            tools,
            lambda: store.create_multipart(
                key, content_type=outcome.content_type or "", sha256=outcome.sha256 or ""
            ),
        )
        job.multipart_started(upload_id)
        await tools.journal.write_ahead(job)  # before any part: a crash must know of it
    upload_id = outcome.upload_id or ""
    job.add_progress(sum(part.size for part in stored.values()))
    tools.changed(job)
    try:
        await _send_missing(job, tools, upload_id, count, stored)
    except asyncio.CancelledError:
        if not tools.journal.closing:  # cancelled by the collector: nothing to carry on
            job.cleanup = tools.spawn(_abort(tools, job, key, upload_id), name="abort-parts")
        raise
    parts = [stored[n] for n in range(1, count + 1)]
    checksum = await store_call(job, tools, lambda: store.complete_multipart(key, upload_id, parts))
    job.multipart_ended()
    tools.journal.post(job)
    if checksum and all(part.sha256 for part in parts) and checksum != composite_sha256(parts):
        log.warning("multipart checksum of %s differs: %s", key, checksum)
        await remove_copy(job, tools, UPLOAD_MISMATCH)


async def _parts_to_keep(job: FileJob, tools: PipelineTools) -> dict[int, Part]:
    """The recorded parts the server still holds; forgets an upload it no longer knows."""
    outcome, store = job.outcome, context_of(job).store
    if outcome.upload_id is None:
        return {}
    recorded = parts_from_text(outcome.parts)
    upload_id, key = outcome.upload_id, outcome.key or ""
    held = await store_call(job, tools, store.list_parts, key, upload_id)
    if held is None:
        log.info("the upload of %s is no longer on the server: starting over", key)
        job.multipart_ended()
        return {}
    kept = {
        number: part
        for number, part in recorded.items()
        if number in held and held[number].etag == part.etag and held[number].size == part.size
    }
    log.info("carrying on with %s: %d of its parts are on the server", key, len(kept))
    return kept


async def _send_missing(
    job: FileJob, tools: PipelineTools, upload_id: str, count: int, stored: dict[int, Part]
) -> None:
    store, outcome = context_of(job).store, job.outcome
    key, size, path = outcome.key or "", outcome.size or 0, job.path
    slots = asyncio.Semaphore(PARTS_IN_FLIGHT)

    def send(number: int) -> Part:
        return store.upload_part(key, upload_id, number, read_part(path, number, size))

    async def one(number: int) -> None:
        async with slots, tools.parts_in_memory:
            part = await store_call(job, tools, send, number)
        stored[number] = part
        job.part_stored(parts_to_text(stored.values()))
        job.add_progress(part.size)
        tools.changed(job)
        tools.journal.post(job)

    sending = [asyncio.ensure_future(one(n)) for n in range(1, count + 1) if n not in stored]
    try:
        await asyncio.gather(*sending)
    finally:
        for task in sending:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*sending, return_exceptions=True)


async def _abort(tools: PipelineTools, job: FileJob, key: str, upload_id: str) -> None:
    store = context_of(job).store
    try:
        await tools.run_io(store.abort_multipart, key, upload_id)
        job.multipart_ended()
    except StoreError as exc:
        log.warning("a cancelled upload may have left parts of %s behind: %s", key, exc)
