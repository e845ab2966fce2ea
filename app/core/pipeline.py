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
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app.core.coalesce import ChangeCoalescer
from app.core.config import EngineSettings
from app.core.errors import StoreError, describe_os_error
from app.core.formats import HEAD_SIZE, describe_unrecognised, detect_format, key_extension
from app.core.hashing import FileCancelled, FileChanged, file_identity, inspect_file
from app.core.keys import KeyTemplateError, render_keys
from app.core.models import FileSnapshot, FileState, ImageFormat, ThumbnailState
from app.core.store import IndexEntry, ObjectStore
from app.core.thumbnails import ThumbnailError, ThumbnailSpec, make_thumbnail
from app.core.walker import WalkEntry, walk_paths_in_batches

log = logging.getLogger(__name__)

T = TypeVar("T")
Observer = Callable[[Sequence[FileSnapshot]], None]
Thumbnailer = Callable[[Path, ThumbnailSpec], bytes]

THUMBNAIL_CONTENT_TYPE = "image/jpeg"
CHANGED_WHILE_READING = (
    "The file changed while it was being read. Try again once it has finished copying."
)
CHANGED_BEFORE_UPLOAD = (
    "The file changed after it was checked, so it was not uploaded. Retry to send the new version."
)


@dataclass(eq=False)
class PipelineContext:
    """Where and how files are sent. A file keeps the context it started with, so its
    thumbnail always lands beside its original even if settings change meanwhile."""

    store: ObjectStore
    settings: EngineSettings
    prefix: str
    active: int = 0  # files running under this context


@dataclass(eq=False)
class _FileRecord:
    """One file's state and the results of each stage, kept so a retry redoes only what failed."""

    file_id: int
    path: Path
    problem: str | None = None
    state: FileState = FileState.QUEUED
    size: int | None = None
    mtime_ns: int | None = None
    sha256: str | None = None
    fmt: ImageFormat | None = None
    key: str | None = None
    thumbnail_key: str | None = None
    thumbnail_state: ThumbnailState = ThumbnailState.PENDING
    thumbnail_error: str | None = None
    thumbnail_bytes: bytes | None = None
    original_in_bucket: bool = False
    thumbnail_in_bucket: bool = False
    entry: IndexEntry | None = None  # where the content lives once it is in the bucket
    owns_inflight: bool = False  # other files with this hash wait for this one
    error: str | None = None
    notice: str | None = None
    bytes_sent: int = 0
    bytes_total: int = 0
    cancel_event: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None
    context: PipelineContext | None = None

    def reset_for_retry(self) -> None:
        self.state = FileState.QUEUED
        self.error = None
        self.notice = None
        self.cancel_event = threading.Event()
        if self.thumbnail_state is ThumbnailState.FAILED:
            self.thumbnail_state = ThumbnailState.PENDING
            self.thumbnail_error = None


class UploadPipeline:
    """Runs queued files through the stages, `settings.concurrency` at a time.

    Args:
        store: the bucket (S3Store, or a fake in tests).
        settings: concurrency, thumbnail spec, key templates.
        prefix: key prefix, already normalised.
        io_executor: threads for file reads, hashing and S3 calls.
        cpu_executor: threads for thumbnails.
        thumbnailer: makes thumbnail bytes from a path (injectable for tests).
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
    ) -> None:
        self._context = PipelineContext(store, settings, prefix)
        self._io = io_executor
        self._cpu = cpu_executor
        self._thumbnailer = thumbnailer
        self._loop = asyncio.get_running_loop()
        self._records: dict[int, _FileRecord] = {}
        self._ids = itertools.count(1)
        self._queue: asyncio.Queue[_FileRecord] = asyncio.Queue()
        self._observers: list[Observer] = []
        self._coalescer = ChangeCoalescer(self._loop, self._deliver, flush_interval)
        self._progress_lock = threading.Lock()
        self._inflight: dict[str, asyncio.Future[IndexEntry | None]] = {}
        self._resume = asyncio.Event()
        self._resume.set()
        self._pending = 0  # queued or running files
        self._walks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._workers: set[asyncio.Task[None]] = set()
        self._add_workers(settings.concurrency)

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

    def reconfigure(self, store: ObjectStore, settings: EngineSettings, *, prefix: str) -> None:
        """Send files started from now on with this store and these settings.

        Files already running finish where they started; a failed thumbnail is retried
        beside its original. Returns at once; the old store is the caller's to close once
        `context.active` of the old context drops to zero (see Engine).
        """
        self._context = PipelineContext(store, settings, prefix)
        self._add_workers(settings.concurrency - len(self._workers))

    def _add_workers(self, count: int) -> None:
        for _ in range(count):
            task = self._loop.create_task(self._worker(), name="upload-worker")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    # -- feeding -------------------------------------------------------------------

    def add_paths(self, paths: Sequence[Path]) -> asyncio.Task[None]:
        """Walk files and folders in the background and queue what they hold."""
        task = self._loop.create_task(self._walk(list(paths)), name="walk-paths")
        self._walks.add(task)
        self._idle.clear()
        task.add_done_callback(self._walk_done)
        return task

    def enqueue(self, entries: Iterable[WalkEntry]) -> list[int]:
        """Queue walked entries; returns their file ids."""
        if self._closed:
            return []
        ids: list[int] = []
        for entry in entries:
            rec = _FileRecord(file_id=next(self._ids), path=entry.path, problem=entry.problem)
            self._records[rec.file_id] = rec
            self._push(rec)
            ids.append(rec.file_id)
        return ids

    def retry_failed(self) -> list[int]:
        """Re-queue failed files and failed thumbnails; only the failed stage is redone."""
        return self.retry(
            rec.file_id
            for rec in self._records.values()
            if rec.state is FileState.FAILED
            or (rec.state is FileState.UPLOADED and rec.thumbnail_state is ThumbnailState.FAILED)
        )

    def retry(self, file_ids: Iterable[int]) -> list[int]:
        ids: list[int] = []
        for file_id in file_ids:
            rec = self._records.get(file_id)
            if rec is None or not rec.state.is_final or rec.state is FileState.DUPLICATE:
                continue
            if rec.state is FileState.UPLOADED and rec.thumbnail_state is not ThumbnailState.FAILED:
                continue
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
                self._finish(rec, FileState.CANCELLED)
            ids.append(file_id)
        return ids

    def remove(self, file_ids: Iterable[int]) -> list[int]:
        """Forget files (cancelling any still running); returns the ids removed."""
        ids = list(file_ids)
        self.cancel(ids)
        removed = [i for i in ids if self._records.pop(i, None) is not None]
        return removed

    def pause(self) -> None:
        """Start no new files; those already running finish."""
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    async def wait_idle(self) -> None:
        """Wait until every queued file has a final state and observers have seen it."""
        while self._pending or self._walks:
            self._idle.clear()
            await self._idle.wait()
        self._coalescer.flush_now()

    async def aclose(self) -> None:
        """Cancel everything and stop the workers. The executors belong to the caller."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._walks):
            task.cancel()
        self.cancel(list(self._records))
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, *self._walks, return_exceptions=True)
        self._coalescer.flush_now()
        self._coalescer.close()

    # -- internals -----------------------------------------------------------------

    def _push(self, rec: _FileRecord) -> None:
        self._pending += 1
        self._idle.clear()
        self._queue.put_nowait(rec)
        self._changed(rec)

    async def _walk(self, paths: list[Path]) -> None:
        async for batch in walk_paths_in_batches(paths, self._io):
            self.enqueue(batch)

    def _walk_done(self, task: asyncio.Task[None]) -> None:
        self._walks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("walking dropped paths failed", exc_info=task.exception())
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        if not self._pending and not self._walks:
            self._idle.set()

    async def _worker(self) -> None:
        while True:
            if len(self._workers) > self._context.settings.concurrency:
                return  # concurrency was lowered: this worker bows out between files
            await self._resume.wait()
            rec = await self._queue.get()
            try:
                if rec.state is not FileState.QUEUED or rec.file_id not in self._records:
                    continue
                if not self._resume.is_set():  # paused while we waited for a file
                    self._queue.put_nowait(rec)
                    self._pending += 1
                    continue
                rec.task = self._loop.create_task(self._process(rec), name=f"file-{rec.file_id}")
                try:
                    await rec.task
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():
                        raise  # the worker itself is being stopped
                finally:
                    rec.task = None
            finally:
                self._pending -= 1
                self._maybe_idle()

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
            if not rec.original_in_bucket:
                if not await self._hash_stage(rec):
                    return
                if await self._duplicate_stage(rec):
                    return
                if rec.thumbnail_bytes is None:
                    await self._thumbnail_stage(rec)
                await self._upload_original_stage(rec)
            elif rec.thumbnail_bytes is None:
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
            self._resolve_inflight(rec)

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
            self._reject(rec, describe_os_error(exc))
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
        try:
            identity = await self._run(self._io, file_identity, rec.path)
        except OSError:
            return False
        return identity == (rec.size, rec.mtime_ns)

    async def _duplicate_stage(self, rec: _FileRecord) -> bool:
        """True when the content is already in the bucket, or was just sent by an
        identical file in this batch (which we wait for rather than race)."""
        assert rec.sha256 is not None
        self._set_state(rec, FileState.CHECKING)
        entry: IndexEntry | None = None
        while entry is None and (waiting := self._inflight.get(rec.sha256)) is not None:
            rec.notice = "Waiting for an identical file in this batch."
            self._changed(rec)
            entry = await asyncio.shield(waiting)
            rec.notice = None
        if entry is None:
            self._inflight[rec.sha256] = self._loop.create_future()
            rec.owns_inflight = True
            entry = await self._find_in_bucket(rec)
        if entry is None:
            return False
        rec.entry = entry
        rec.key, rec.thumbnail_key = entry.key, entry.thumbnail_key
        rec.thumbnail_state = ThumbnailState.SKIPPED
        rec.notice = f"Already in the bucket as {entry.key}"
        rec.original_in_bucket = True
        self._finish(rec, FileState.DUPLICATE)
        return True

    async def _find_in_bucket(self, rec: _FileRecord) -> IndexEntry | None:
        assert rec.sha256 and rec.key and rec.fmt and rec.size is not None
        entry = await self._run(self._io, self._ctx(rec).store.find_by_hash, rec.sha256)
        if entry is not None:
            return entry
        # Same content already at our own key (its index write was lost, say). Keys carry
        # the hash (KeyTemplate insists), so same key and size means same content.
        if await self._run(self._io, self._ctx(rec).store.object_size, rec.key) != rec.size:
            return None
        entry = IndexEntry(rec.key, None, rec.size, rec.fmt.content_type)
        await self._run(self._io, self._ctx(rec).store.record_hash, rec.sha256, entry)
        return entry

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
        assert rec.key and rec.fmt and rec.sha256
        if not await self._unchanged(rec):
            raise StoreError(CHANGED_BEFORE_UPLOAD, permanent=True)
        with self._progress_lock:
            rec.bytes_sent = 0
        self._set_state(rec, FileState.UPLOADING)
        handle = await self._run(
            self._io,
            lambda: self._ctx(rec).store.start_upload(
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
        rec.original_in_bucket = True

    async def _upload_thumbnail_stage(self, rec: _FileRecord) -> None:
        assert rec.thumbnail_key and rec.thumbnail_bytes is not None
        try:
            await self._run(
                self._io,
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
            await self._run(self._io, self._ctx(rec).store.record_hash, rec.sha256, entry)
        except StoreError as exc:
            rec.notice = f"Uploaded, but the duplicate index could not be updated: {exc}"

    def _resolve_inflight(self, rec: _FileRecord) -> None:
        """Tell files waiting on this hash where the content went (None: they must send it)."""
        if not rec.owns_inflight or rec.sha256 is None:
            return
        rec.owns_inflight = False
        waiter = self._inflight.pop(rec.sha256, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(rec.entry if rec.original_in_bucket else None)

    def _add_progress(self, rec: _FileRecord, n: int) -> None:
        """Called from transfer threads."""
        with self._progress_lock:
            rec.bytes_sent = max(0, rec.bytes_sent + n)
        self._coalescer.mark(rec.file_id)

    def _set_state(self, rec: _FileRecord, state: FileState) -> None:
        rec.state = state
        self._changed(rec)

    def _finish(self, rec: _FileRecord, state: FileState) -> None:
        rec.state = state
        if state is FileState.CANCELLED:
            rec.notice = "Cancelled."
            if rec.thumbnail_state is ThumbnailState.PENDING:
                rec.thumbnail_state = ThumbnailState.SKIPPED
        self._changed(rec)

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
