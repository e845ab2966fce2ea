"""The upload pipeline: each file goes read+hash -> duplicate check -> thumbnail ->
upload original -> upload thumbnail -> record, several files at once.

Everything here runs on the asyncio loop; every blocking step is handed to the
executors passed in. Observers get plain `FileSnapshot`s, coalesced.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from app.core.coalesce import ChangeCoalescer
from app.core.config import EngineSettings
from app.core.errors import ChecksumMismatch, StoreError, describe_os_error
from app.core.formats import (
    HEAD_SIZE,
    describe_unrecognised,
    detect_format,
    key_extension,
)
from app.core.hashing import FileCancelled, FileChanged, file_identity, inspect_file
from app.core.journal import JournalRecorder, JournalRow
from app.core.keys import KeyTemplateError, render_keys
from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.integrity import (
    _CHANGED,
    CHANGED_BEFORE_UPLOAD,
    CHANGED_DURING_UPLOAD,
    CHANGED_WHILE_READING,
    CHANGED_WHILE_SENDING,
    GONE_DURING_UPLOAD,
    VERIFY_MISMATCH,
    VERIFYING_NOTICE,
    describe_unreadable,
    identity_problem,
)
from app.core.pipeline.job import _FileRecord, format_for, index_missing
from app.core.pipeline.scheduler import Scheduler
from app.core.pipeline.singleflight import SingleFlight
from app.core.retry import retry_notice
from app.core.store import MULTIPART_THRESHOLD, IndexEntry, ObjectStore
from app.core.thumbnails import ThumbnailError, ThumbnailSpec, make_thumbnail
from app.core.walker import WalkEntry, walk_paths_in_batches

log = logging.getLogger(__name__)

T = TypeVar("T")
Observer = Callable[[Sequence[FileSnapshot]], None]
Thumbnailer = Callable[[Path, ThumbnailSpec], bytes]

THUMBNAIL_CONTENT_TYPE = "image/jpeg"
WRITE_AHEAD_TIMEOUT = 2.0  # seconds a multipart upload waits for the journal at most


class UploadPipeline:
    """Runs queued files through the stages, `settings.concurrency` at a time.

    Args:
        store: the bucket (S3Store, or a fake in tests).
        settings: concurrency, thumbnail spec, key templates.
        prefix: key prefix, already normalised.
        io_executor: threads for file reads, hashing and S3 calls.
        cpu_executor: threads for thumbnails.
        thumbnailer: makes thumbnail bytes from a path (injectable for tests).
        journal: where each file's state is recorded, so a restart can finish the queue.
        destination_id: the destination as the journal names it.
    """

    def __init__(
        self,
        store: ObjectStore,
        settings: EngineSettings,
        *,
        prefix: str,
        io_executor: Executor,
        cpu_executor: Executor,
        thumbnailer: Thumbnailer = make_thumbnail,
        flush_interval: float = 1 / 30,
        journal: JournalRecorder | None = None,
        destination_id: str = "",
    ) -> None:
        self._context = PipelineContext(store, settings, prefix, destination_id)
        self._journal = journal
        self._journal_ids: set[int] = set()  # rows that files of this pipeline stand for
        self._io = io_executor
        self._cpu = cpu_executor
        self._thumbnailer = thumbnailer
        self._loop = asyncio.get_running_loop()
        self._records: dict[int, _FileRecord] = {}
        self._ids = itertools.count(1)
        self._observers: list[Observer] = []
        self._coalescer = ChangeCoalescer(self._loop, self._deliver, flush_interval)
        self._progress_lock = threading.Lock()
        self._flights = SingleFlight()
        self._walks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._scheduler: Scheduler[_FileRecord] = Scheduler(
            self._run_file, target=settings.concurrency
        )

    # -- observing -----------------------------------------------------------------

    def add_observer(self, observer: Observer) -> None:
        self._observers.append(observer)

    def snapshot(self, file_id: int) -> FileSnapshot | None:
        rec = self._records.get(file_id)
        return self._snapshot(rec) if rec else None

    def snapshots(self) -> list[FileSnapshot]:
        return [self._snapshot(rec) for rec in self._records.values()]

    @property
    def bucket(self) -> str:
        return self._context.store.bucket

    @property
    def context(self) -> PipelineContext:
        return self._context

    def reconfigure(
        self,
        store: ObjectStore,
        settings: EngineSettings,
        *,
        prefix: str,
        destination_id: str = "",
    ) -> None:
        """Send files started from now on with this store and these settings.

        Files already running finish where they started; a failed thumbnail is retried
        beside its original. Returns at once; the old store is the caller's to close once
        `context.active` of the old context drops to zero (see Engine).
        """
        self._context = PipelineContext(store, settings, prefix, destination_id)
        self._scheduler.set_target(settings.concurrency)

    @property
    def paused(self) -> bool:
        return self._scheduler.paused

    # -- feeding -------------------------------------------------------------------

    def add_paths(self, paths: Sequence[Path]) -> asyncio.Task[None]:
        """Walk files and folders in the background and queue what they hold."""
        task = self._loop.create_task(self._walk(list(paths)), name="walk-paths")
        self._walks.add(task)
        task.add_done_callback(self._walk_done)
        return task

    def enqueue(
        self, entries: Iterable[WalkEntry], known: Mapping[Path, JournalRow] | None = None
    ) -> list[int]:
        """Queue walked entries; returns their file ids.

        `known` maps absolute paths to the journal's newest row for them at this
        destination: a file an earlier run was still sending is resumed (that run's row
        is finished by this one), and one it uploaded is reported a duplicate if its
        object is still there and the file is unchanged (size and mtime), without
        reading it again.
        """
        if self._closed:
            return []
        ids: list[int] = []
        for entry in entries:
            rec = _FileRecord(file_id=next(self._ids), path=entry.path, problem=entry.problem)
            rec.journal_path = _absolute(entry.path)
            rec.queued_at = time.time()
            row = known.get(rec.journal_path) if known and not entry.problem else None
            if row is not None and row.row_id not in self._journal_ids:
                if not row.state.is_final:
                    rec.journal_id, rec.queued_at, rec.resume = row.row_id, row.queued_at, row
                elif row.state in (FileState.UPLOADED, FileState.DUPLICATE):
                    rec.resume = row
            self._file_in_journal(rec)
            self._records[rec.file_id] = rec
            self._push(rec)
            ids.append(rec.file_id)
        return ids

    def restore(self, rows: Iterable[JournalRow]) -> list[int]:
        """Show files from an earlier run again (see Journal.queue): unfinished ones are
        queued and finished (an upload cut off is checked and redone cleanly, see
        _resume_stage); finished ones come back as they ended, so failed ones can be
        retried. Returns their new file ids."""
        if self._closed:
            return []
        ids: list[int] = []
        for row in rows:
            if row.row_id in self._journal_ids:
                continue
            rec = _FileRecord(file_id=next(self._ids), path=row.path)
            rec.journal_path, rec.queued_at, rec.last_row = row.path, row.queued_at, row
            rec.journal_id = row.row_id
            self._file_in_journal(rec)
            self._records[rec.file_id] = rec
            if row.state.is_final:
                self._take_results(rec, row)
                rec.state, rec.thumbnail_state = row.state, row.thumbnail_state
                rec.error, rec.thumbnail_error = row.error, row.thumbnail_error
                if row.destination == self._context.destination_id:
                    rec.original_in_bucket = row.original_in_bucket
                    rec.thumbnail_in_bucket = row.thumbnail_in_bucket
                    rec.index_in_bucket = row.index_in_bucket
                self._changed(rec)
            else:
                rec.size = row.size
                if row.destination == self._context.destination_id:
                    rec.resume = row
                self._push(rec)
            ids.append(rec.file_id)
        return ids

    def retry_failed(self) -> list[int]:
        """Re-queue failed files, failed thumbnails and index entries that could not be
        written (the server went away just then); only what failed is redone."""
        return self.retry(
            rec.file_id
            for rec in self._records.values()
            if rec.state is FileState.FAILED
            or (rec.state is FileState.UPLOADED and rec.thumbnail_state is ThumbnailState.FAILED)
            or index_missing(rec)
        )

    def retry(self, file_ids: Iterable[int]) -> list[int]:
        ids: list[int] = []
        self._context.blocked = None  # the collector may have fixed what blocked it
        for file_id in file_ids:
            rec = self._records.get(file_id)
            if rec is None or not rec.state.is_final or rec.state is FileState.DUPLICATE:
                continue
            if (
                rec.state is FileState.UPLOADED
                and rec.thumbnail_state is not ThumbnailState.FAILED
                and not index_missing(rec)
            ):
                continue
            if rec.context is not None:
                rec.context.blocked = None
            rec.reset_for_retry()
            self._push(rec)
            ids.append(file_id)
        return ids

    def cancel(self, file_ids: Iterable[int]) -> list[int]:
        """Stop files that have not finished; returns the ids that were stopped."""
        ids: list[int] = []
        for file_id in file_ids:
            rec = self._records.get(file_id)
            if rec is None or rec.state.is_final:
                continue
            rec.cancel_event.set()
            if rec.task is not None:
                rec.task.cancel()
            else:
                self._scheduler.drop(rec)
                self._finish(rec, FileState.CANCELLED)
            ids.append(file_id)
        return ids

    def remove(self, file_ids: Iterable[int]) -> list[int]:
        """Forget files (cancelling any still running); returns the ids removed."""
        ids = list(file_ids)
        self.cancel(ids)
        for file_id in ids:  # the journal keeps them as history, out of the next queue
            rec = self._records.get(file_id)
            if rec is not None:
                rec.dismissed = True
                self._post_journal(rec)
                self._journal_ids.discard(rec.journal_id)
        removed = [i for i in ids if self._records.pop(i, None) is not None]
        return removed

    def pause(self) -> None:
        """Start no new files; those already running finish."""
        self._scheduler.pause()

    def resume(self) -> None:
        self._scheduler.resume()

    async def wait_idle(self) -> None:
        """Wait until every queued file has a final state and observers have seen it."""
        while True:
            await self._scheduler.wait_idle()
            if not self._walks:
                break
            await asyncio.gather(*list(self._walks), return_exceptions=True)
        self._coalescer.flush_now()

    async def aclose(self) -> None:
        """Cancel everything and stop the workers. The executors belong to the caller."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._walks):
            task.cancel()
        self.cancel(list(self._records))
        await asyncio.gather(self._scheduler.aclose(), *self._walks, return_exceptions=True)
        self._coalescer.flush_now()
        self._coalescer.close()

    # -- internals -----------------------------------------------------------------

    def _push(self, rec: _FileRecord) -> None:
        self._scheduler.push(rec)
        if rec.resume is None or rec.resume.row_id != rec.journal_id:
            self._post_journal(rec)  # (a row being resumed keeps what it knows until then)
        self._changed(rec)

    async def _walk(self, paths: list[Path]) -> None:
        async for batch in walk_paths_in_batches(paths, self._io):
            known: dict[Path, JournalRow] = {}
            if self._journal is not None and self._journal.enabled:
                wanted = [_absolute(e.path) for e in batch if not e.problem]
                known = await self._journal.latest(wanted, self._context.destination_id)
            self.enqueue(batch, known)

    def _walk_done(self, task: asyncio.Task[None]) -> None:
        self._walks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("walking dropped paths failed", exc_info=task.exception())

    async def _run_file(self, rec: _FileRecord) -> None:
        """One file through its stages, as a task of its own so that it can be cancelled
        without stopping the worker that runs it."""
        if rec.state is not FileState.QUEUED or rec.file_id not in self._records:
            return
        rec.task = self._loop.create_task(self._process(rec), name=f"file-{rec.file_id}")
        try:
            await rec.task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the worker itself is being stopped
        finally:
            rec.task = None

    async def _run(self, executor: Executor, fn: Callable[..., T], *args: Any) -> T:
        return await self._loop.run_in_executor(executor, fn, *args)

    async def _process(self, rec: _FileRecord) -> None:
        if not rec.original_in_bucket and rec.context is not self._context:
            # Nothing of it is in a bucket yet: it goes where settings now say, with keys
            # made afresh for the new prefix and template.
            rec.context = self._context
            rec.sha256 = None
            rec.thumbnail_bytes = None
        context = rec.context = rec.context or self._context
        context.active += 1
        try:
            if rec.problem:
                self._reject(rec, rec.problem)
                return
            if rec.resume is not None and await self._resume_stage(rec):
                return
            if not rec.original_in_bucket:
                if not await self._hash_stage(rec):
                    return
                if await self._duplicate_stage(rec):
                    return
                if rec.thumbnail_bytes is None:
                    await self._thumbnail_stage(rec)
                await self._journal_before_upload(rec)
                await self._upload_original_stage(rec)
                self._post_journal(rec)  # the original is in: a restart must not resend it
            elif rec.thumbnail_bytes is None and not rec.thumbnail_in_bucket:
                await self._retry_thumbnail_stage(rec)
            if rec.thumbnail_bytes is not None and not rec.thumbnail_in_bucket:
                await self._upload_thumbnail_stage(rec)
            await self._record_stage(rec)
            self._finish(rec, FileState.UPLOADED)
        except StoreError as exc:
            rec.error = str(exc)
            if not rec.original_in_bucket and rec.thumbnail_state is ThumbnailState.PENDING:
                rec.thumbnail_state = ThumbnailState.SKIPPED
            self._finish(rec, FileState.FAILED)
        except asyncio.CancelledError:
            self._finish(rec, FileState.CANCELLED)
            raise
        except Exception as exc:  # a bug must not take the batch down
            log.exception("unexpected failure for %s", rec.path)
            rec.error = f"Unexpected error: {type(exc).__name__}: {exc}"
            self._finish(rec, FileState.FAILED)
        finally:
            context.active -= 1
            self._land_flight(rec)

    def _ctx(self, rec: _FileRecord) -> PipelineContext:
        return rec.context or self._context

    def _reject(self, rec: _FileRecord, reason: str) -> None:
        """Fail a file at intake: nothing uploaded, thumbnail skipped."""
        rec.error = reason
        rec.thumbnail_state = ThumbnailState.SKIPPED
        self._finish(rec, FileState.FAILED)

    async def _hash_stage(self, rec: _FileRecord) -> bool:
        if rec.sha256 is not None and await self._unchanged(rec):
            return True  # a retry after a later stage failed: the hash still holds
        self._set_state(rec, FileState.HASHING)
        try:
            facts = await self._run(self._io, inspect_file, rec.path, HEAD_SIZE, rec.cancel_event)
        except FileCancelled:
            raise asyncio.CancelledError() from None
        except FileChanged:
            self._reject(rec, CHANGED_WHILE_READING)
            return False
        except OSError as exc:
            self._reject(rec, describe_unreadable(rec.path, exc))
            return False
        rec.size, rec.mtime_ns, rec.bytes_total = facts.size, facts.mtime_ns, facts.size
        rec.thumbnail_bytes = None
        if facts.size == 0:
            self._reject(rec, describe_unrecognised(b""))
            return False
        fmt = detect_format(facts.head)
        if fmt is None:
            self._reject(rec, describe_unrecognised(facts.head))
            return False
        rec.sha256, rec.fmt = facts.sha256, fmt
        try:
            rec.key, rec.thumbnail_key = render_keys(
                self._ctx(rec).settings.keys,
                prefix=self._ctx(rec).prefix,
                filename=rec.path.name,
                sha256=facts.sha256,
                ext=key_extension(rec.path.name, fmt),
            )
        except KeyTemplateError as exc:
            self._reject(rec, str(exc))
            return False
        return True

    async def _unchanged(self, rec: _FileRecord) -> bool:
        return await self._identity_is(rec.path, rec.size, rec.mtime_ns)

    async def _duplicate_stage(self, rec: _FileRecord) -> bool:
        """True when the content is already in the bucket, or was just sent by an
        identical file in this batch (which we wait for rather than race)."""
        assert rec.sha256 is not None
        self._set_state(rec, FileState.CHECKING)
        flight = (self._ctx(rec).bucket_id, rec.sha256)

        def waiting() -> None:
            rec.notice = "Waiting for an identical file in this batch."
            self._changed(rec)

        entry = await self._flights.follow(flight, waiting)
        rec.notice = None
        if entry is None:
            self._flights.lead(flight)
            rec.flight = flight
            entry = await self._find_in_bucket(rec)
        if entry is None:
            if await self._already_at_own_key(rec):
                rec.original_in_bucket = True  # nothing left to send but its thumbnail
            return False
        rec.entry = entry
        rec.key, rec.thumbnail_key = entry.key, entry.thumbnail_key
        rec.thumbnail_state = ThumbnailState.SKIPPED
        rec.notice = f"Already in the bucket as {entry.key}"
        rec.original_in_bucket = True
        self._finish(rec, FileState.DUPLICATE)
        return True

    async def _find_in_bucket(self, rec: _FileRecord) -> IndexEntry | None:
        assert rec.sha256
        return await self._call(rec, self._ctx(rec).store.find_by_hash, rec.sha256)

    async def _already_at_own_key(self, rec: _FileRecord) -> bool:
        """Whether the content is at the file's own key though no index entry names it: an
        earlier upload whose answer or index write was lost (the server went away, a
        crash). Keys carry the hash (KeyTemplate insists), so same key and size means same
        content (read back to make sure when verify-after-upload is on). The file then
        carries on from there: the original is not sent again; thumbnail and index follow.
        """
        assert rec.key and rec.size is not None
        if await self._call(rec, self._ctx(rec).store.object_size, rec.key) != rec.size:
            return False
        return not self._ctx(rec).settings.verify_after_upload or await self._copy_matches(rec)

    # -- retries and integrity -----------------------------------------------------------

    async def _retrying(
        self,
        rec: _FileRecord,
        attempt: Callable[[], Awaitable[T]],
        *,
        before_retry: Callable[[], Awaitable[None]] | None = None,
    ) -> T:
        """Run one storage operation, trying again after passing failures (throttling,
        server errors, lost connections) with the backoff of the file's settings; while it
        waits, the file's notice says so ("retrying (2/5): ..."). `before_retry` may stop
        the retries by raising. A failure that makes the whole destination unusable is
        remembered in the context, so the other files fail with it at once.
        """
        context = self._ctx(rec)
        policy = context.settings.retry
        retry = 0
        notice: str | None = None
        try:
            while True:
                if context.blocked is not None:
                    raise StoreError(str(context.blocked), permanent=True, whole_destination=True)
                try:
                    return await attempt()
                except StoreError as exc:
                    if exc.whole_destination:
                        context.blocked = exc
                    if not exc.retryable:
                        raise
                    if retry >= policy.retries:
                        if not policy.retries:
                            raise
                        raise StoreError(f"{exc} (Tried {policy.attempts} times.)") from exc
                    retry += 1
                    notice = rec.notice = retry_notice(retry, policy, exc)
                    self._changed(rec)
                    log.info("%s: %s", rec.path.name, notice)
                    await asyncio.sleep(policy.delay(retry))
                    if before_retry is not None:
                        await before_retry()
        finally:
            if notice is not None and rec.notice == notice:
                rec.notice = None
                self._changed(rec)

    async def _call(self, rec: _FileRecord, fn: Callable[..., T], *args: Any) -> T:
        """A blocking store call on the I/O threads, with retries (see _retrying)."""
        return await self._retrying(rec, lambda: self._run(self._io, fn, *args))

    async def _identity_problem(self, rec: _FileRecord) -> str | None:
        return await self._run(self._io, identity_problem, rec.path, rec.size, rec.mtime_ns)

    async def _ensure_unchanged(self, rec: _FileRecord, if_changed: str) -> None:
        """Raise (`if_changed`, or why the file cannot be looked at) unless the file is as
        it was hashed."""
        problem = await self._identity_problem(rec)
        if problem is not None:
            raise StoreError(if_changed if problem == _CHANGED else problem, permanent=True)

    async def _copy_matches(self, rec: _FileRecord) -> bool:
        """Read the object at the file's key back (streamed) and compare its SHA-256."""
        store, key = self._ctx(rec).store, rec.key or ""

        def read_back() -> str | None:
            try:
                return store.object_sha256(key)
            except ChecksumMismatch:  # the server's own checksum disagrees with its bytes
                return None

        rec.notice = VERIFYING_NOTICE
        self._changed(rec)
        try:
            return await self._call(rec, read_back) == rec.sha256
        finally:
            if rec.notice == VERIFYING_NOTICE:
                rec.notice = None

    async def _remove_copy(self, rec: _FileRecord, reason: str) -> NoReturn:
        """Take a wrong copy out of the bucket, then fail the file with `reason`."""
        try:
            await self._call(rec, self._ctx(rec).store.delete_object, rec.key or "")
        except StoreError as exc:
            raise StoreError(
                f"{reason.split('. ')[0].split(', so ')[0]}, and the copy in the bucket "
                f"(which may be wrong) could not be removed: {exc.reason}. Remove "
                f"{rec.key} from the bucket, then retry.",
                permanent=True,
            ) from exc
        raise StoreError(reason, permanent=True)

    async def _thumbnail_stage(self, rec: _FileRecord) -> None:
        self._set_state(rec, FileState.THUMBNAILING)
        rec.thumbnail_state = ThumbnailState.PENDING
        try:
            rec.thumbnail_bytes = await self._run(
                self._cpu, self._thumbnailer, rec.path, self._ctx(rec).settings.thumbnail
            )
        except ThumbnailError as exc:
            rec.thumbnail_state, rec.thumbnail_error = ThumbnailState.FAILED, str(exc)
        except OSError as exc:
            rec.thumbnail_state = ThumbnailState.FAILED
            rec.thumbnail_error = describe_os_error(exc)
        except MemoryError:
            rec.thumbnail_state = ThumbnailState.FAILED
            rec.thumbnail_error = "There was not enough memory to make the thumbnail."

    async def _retry_thumbnail_stage(self, rec: _FileRecord) -> None:
        """Remake a failed thumbnail for an original already in the bucket."""
        if await self._unchanged(rec):
            await self._thumbnail_stage(rec)
            return
        rec.thumbnail_state = ThumbnailState.FAILED
        rec.thumbnail_error = (
            "The file has changed since its original was uploaded, so no thumbnail was made "
            "for it. Add the file again to upload the new version."
        )

    async def _upload_original_stage(self, rec: _FileRecord) -> None:
        """Send the original, retrying passing failures, and make sure what stays in the
        bucket is the content that was hashed: never a mix of two versions of the file."""
        assert rec.key and rec.fmt and rec.sha256
        if rec.original_in_bucket:
            return  # the duplicate check found it at its own key: nothing left to send
        await self._ensure_unchanged(rec, CHANGED_BEFORE_UPLOAD)
        self._set_state(rec, FileState.UPLOADING)
        await self._retrying(
            rec,
            lambda: self._send_original(rec),
            before_retry=lambda: self._ensure_unchanged(rec, CHANGED_WHILE_SENDING),
        )
        # A server that checks the ChecksumSHA256 we send refuses a body that changed
        # since hashing; one that does not (rclone) stores it. Either way: if the file
        # moved on while it was sent, what landed may be a mix, so it goes.
        problem = await self._identity_problem(rec)
        if problem is not None:
            await self._remove_copy(
                rec, CHANGED_DURING_UPLOAD if problem == _CHANGED else GONE_DURING_UPLOAD
            )
        if self._ctx(rec).settings.verify_after_upload and not await self._copy_matches(rec):
            await self._remove_copy(rec, VERIFY_MISMATCH)
        rec.original_in_bucket = True

    async def _send_original(self, rec: _FileRecord) -> None:
        """One try at sending the original; progress starts again from zero."""
        with self._progress_lock:
            rec.bytes_sent = 0
        self._changed(rec)
        store = self._ctx(rec).store
        handle = await self._run(
            self._io,
            lambda: store.start_upload(
                rec.path,
                rec.key or "",
                content_type=rec.fmt.content_type if rec.fmt else "",
                sha256=rec.sha256 or "",
                on_progress=lambda n: self._add_progress(rec, n),
            ),
        )
        try:
            await self._run(self._io, handle.result)
        except asyncio.CancelledError:
            handle.cancel()
            raise

    async def _upload_thumbnail_stage(self, rec: _FileRecord) -> None:
        assert rec.thumbnail_key and rec.thumbnail_bytes is not None
        try:
            await self._call(
                rec,
                lambda: self._ctx(rec).store.put_bytes(
                    rec.thumbnail_key or "",
                    rec.thumbnail_bytes or b"",
                    content_type=THUMBNAIL_CONTENT_TYPE,
                ),
            )
        except StoreError as exc:
            rec.thumbnail_state = ThumbnailState.FAILED
            rec.thumbnail_error = f"The thumbnail could not be uploaded: {exc}"
            return
        rec.thumbnail_in_bucket = True
        rec.thumbnail_state = ThumbnailState.GENERATED

    async def _record_stage(self, rec: _FileRecord) -> None:
        assert rec.sha256 and rec.key and rec.fmt and rec.size is not None
        entry = IndexEntry(
            key=rec.key,
            thumbnail_key=rec.thumbnail_key if rec.thumbnail_in_bucket else None,
            size=rec.size,
            content_type=rec.fmt.content_type,
        )
        rec.entry = entry
        try:
            await self._call(rec, self._ctx(rec).store.record_hash, rec.sha256, entry)
        except StoreError as exc:
            rec.notice = f"Uploaded, but the duplicate index could not be updated: {exc}"
        else:
            rec.index_in_bucket = True

    async def _resume_stage(self, rec: _FileRecord) -> bool:
        """Pick up a file the journal knows; True when that finishes it.

        Uploaded earlier (file unchanged, object still there): a duplicate, not read again.
        Cut off while its thumbnail or original was on the way: an original that made it
        is kept (then the thumbnail and index follow); otherwise unfinished multipart
        uploads to its key are aborted and the file starts again from a clean state.
        """
        row, rec.resume = rec.resume, None
        context = self._ctx(rec)
        if row is None or row.destination != context.destination_id or not row.key:
            return False
        try:
            return await self._resume_from(rec, row, context)
        except StoreError:
            rec.resume = row  # a retry must still clean up after the earlier run
            raise

    async def _resume_from(
        self, rec: _FileRecord, row: JournalRow, context: PipelineContext
    ) -> bool:
        assert row.key
        unchanged = await self._identity_is(rec.path, row.size, row.mtime_ns)
        if row.state.is_final:
            if row.state not in (FileState.UPLOADED, FileState.DUPLICATE):
                return False
            if unchanged and await self._call(rec, context.store.object_size, row.key) == (
                row.size
            ):
                self._take_results(rec, row)
                if row.state is FileState.UPLOADED and not row.thumbnail_in_bucket:
                    rec.thumbnail_key = None  # as the index says: no thumbnail to point to
                rec.original_in_bucket = True
                rec.thumbnail_state = ThumbnailState.SKIPPED
                rec.notice = f"Already in the bucket as {row.key}"
                self._finish(rec, FileState.DUPLICATE)
                return True
            return False
        if row.state not in (FileState.THUMBNAILING, FileState.UPLOADING):
            return False  # nothing had been sent yet
        # The duplicate check had found nothing, so an object at its key is ours.
        if (
            unchanged
            and format_for(row.content_type) is not None
            and row.sha256
            and await self._call(rec, context.store.object_size, row.key) == row.size
        ):
            self._take_results(rec, row)
            rec.original_in_bucket = True
            if not row.thumbnail_in_bucket:
                return False  # _process makes and sends the thumbnail
            rec.thumbnail_in_bucket = True
            rec.thumbnail_state = ThumbnailState.GENERATED
            await self._record_stage(rec)
            self._finish(rec, FileState.UPLOADED)
            return True
        try:
            aborted = await self._call(rec, context.store.abort_incomplete_uploads, row.key)
        except StoreError as exc:  # the upload itself will meet the same problem, or not
            log.info("could not abort unfinished uploads to %s: %s", row.key, exc)
        else:
            if aborted:
                log.info("aborted %d unfinished upload(s) to %s", aborted, row.key)
        return False

    async def _journal_before_upload(self, rec: _FileRecord) -> None:
        """Write ahead for a multipart upload: the journal holds its key before any part
        is sent, so after a crash the next start can abort what is left on the server.
        A smaller file goes up in one request, which leaves nothing behind, so it does not
        wait. A journal that is slow to answer is not waited for long."""
        journal = self._journal
        if journal is None or not journal.enabled or (rec.size or 0) < MULTIPART_THRESHOLD:
            return
        self._post_journal(rec, state=FileState.UPLOADING)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(journal.flush(), WRITE_AHEAD_TIMEOUT)

    async def _identity_is(self, path: Path, size: int | None, mtime_ns: int | None) -> bool:
        if size is None or mtime_ns is None:
            return False
        try:
            return await self._run(self._io, file_identity, path) == (size, mtime_ns)
        except OSError:
            return False

    @staticmethod
    def _take_results(rec: _FileRecord, row: JournalRow) -> None:
        """Stage results the journal kept (hash, keys, type), as if the stages had run."""
        rec.size, rec.mtime_ns, rec.sha256 = row.size, row.mtime_ns, row.sha256
        rec.bytes_total = row.size or 0
        rec.fmt = format_for(row.content_type)
        rec.key, rec.thumbnail_key = row.key, row.thumbnail_key

    def _land_flight(self, rec: _FileRecord) -> None:
        """Tell files waiting for this content where it went (None: they must send it)."""
        if rec.flight is not None:
            self._flights.land(rec.flight, rec.entry if rec.original_in_bucket else None)
            rec.flight = None

    def _add_progress(self, rec: _FileRecord, n: int) -> None:
        """Called from transfer threads."""
        with self._progress_lock:
            rec.bytes_sent = max(0, rec.bytes_sent + n)
        self._coalescer.mark(rec.file_id)

    def _set_state(self, rec: _FileRecord, state: FileState) -> None:
        rec.state = state
        self._post_journal(rec)
        self._changed(rec)

    def _finish(self, rec: _FileRecord, state: FileState) -> None:
        rec.state = state
        if state is FileState.CANCELLED:
            rec.notice = "Cancelled."
            if rec.thumbnail_state is ThumbnailState.PENDING:
                rec.thumbnail_state = ThumbnailState.SKIPPED
        self._post_journal(rec)
        self._changed(rec)

    def _file_in_journal(self, rec: _FileRecord) -> None:
        if self._journal is None:
            return
        if not rec.journal_id:
            rec.journal_id = self._journal.row_id(rec.file_id)
        self._journal_ids.add(rec.journal_id)

    def _post_journal(self, rec: _FileRecord, *, state: FileState | None = None) -> None:
        """Hand the file's current state to the journal (written within ~100 ms).

        Not while closing: files stopped by a quit stay unfinished there, so the next
        start finishes them.
        """
        if self._journal is None or self._closed or not rec.journal_id:
            return
        last = rec.last_row
        if rec.dismissed and last is not None and last.state is rec.state and rec.state.is_final:
            row = replace(last, dismissed=True)  # as it ended, out of the queue
        else:
            context = self._ctx(rec)
            row = JournalRow(
                row_id=rec.journal_id,
                path=rec.journal_path or rec.path,
                state=state or rec.state,
                destination=context.destination_id,
                bucket=context.store.bucket,
                queued_at=rec.queued_at,
                updated_at=time.time(),
                thumbnail_state=rec.thumbnail_state,
                size=rec.size,
                mtime_ns=rec.mtime_ns,
                sha256=rec.sha256,
                content_type=rec.fmt.content_type if rec.fmt else None,
                key=rec.key,
                thumbnail_key=rec.thumbnail_key,
                error=rec.error,
                thumbnail_error=rec.thumbnail_error,
                original_in_bucket=rec.original_in_bucket,
                thumbnail_in_bucket=rec.thumbnail_in_bucket,
                index_in_bucket=rec.index_in_bucket,
                dismissed=rec.dismissed,
            )
        rec.last_row = row
        self._journal.post(row)

    def _changed(self, rec: _FileRecord) -> None:
        self._coalescer.mark(rec.file_id)

    def _deliver(self, ids: list[int]) -> None:
        records = [self._records[i] for i in ids if i in self._records]
        snapshots = [self._snapshot(rec) for rec in records]
        for rec in records:
            if rec.thumbnail_in_bucket:
                rec.thumbnail_bytes = None  # delivered once; not kept for 10,000 files
        if not snapshots:
            return
        for observer in list(self._observers):
            with contextlib.suppress(Exception):
                observer(snapshots)

    def _snapshot(self, rec: _FileRecord) -> FileSnapshot:
        with self._progress_lock:
            sent = rec.bytes_sent
        return FileSnapshot(
            file_id=rec.file_id,
            path=rec.path,
            state=rec.state,
            size=rec.size,
            bytes_sent=sent,
            bytes_total=rec.bytes_total,
            key=rec.key if rec.state is not FileState.FAILED or rec.original_in_bucket else None,
            thumbnail_key=rec.thumbnail_key
            if rec.thumbnail_in_bucket or (rec.state is FileState.DUPLICATE)
            else None,
            thumbnail_state=rec.thumbnail_state,
            thumbnail_error=rec.thumbnail_error,
            error=rec.error,
            sha256=rec.sha256,
            content_type=rec.fmt.content_type if rec.fmt else None,
            notice=rec.notice,
            bucket=self._ctx(rec).store.bucket,
            thumbnail_jpeg=rec.thumbnail_bytes,
        )


def _absolute(path: Path) -> Path:
    """The path the journal files a file under (walked paths are mostly absolute already)."""
    return path if path.is_absolute() else Path(os.path.abspath(path))
