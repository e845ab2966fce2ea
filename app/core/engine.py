"""The engine as a unit: thread pools, store and pipeline, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.bandwidth import UPLOAD_LIMIT
from app.core.config import MAX_CONCURRENCY, Destination, EngineSettings, cpu_workers
from app.core.journal import Journal, JournalRecorder, JournalRow
from app.core.journal.rows import identity_parts
from app.core.models import FileSnapshot
from app.core.pipeline import Observer, Thumbnailer, UploadPipeline
from app.core.pipeline.health import StatusListener
from app.core.store import ObjectStore, S3Store
from app.core.threads import BackgroundThreadPool
from app.core.thumbnails import make_derivatives

if TYPE_CHECKING:  # (imported when a watch starts: the command line needs no watchdog)
    from app.core.watch import FolderWatch, WatchStatus, WatchTiming

StoreFactory = Callable[[Destination, int], ObjectStore]
ProblemHandler = Callable[[str], None]
JOURNAL_CLOSE_TIMEOUT = 5.0
RESTORE_SLICE = 200


def default_store_factory(destination: Destination, concurrency: int) -> ObjectStore:
    return S3Store(destination, concurrency=concurrency)


POOL_JOIN_TIMEOUT = 5.0
SecretLookup = Callable[[str], str | None]  # access key id -> its secret (keyring)


def earlier_destination(
    row: JournalRow, today: Destination, secret_for: SecretLookup | None = None
) -> Destination | None:
    """The destination `row` was going to, as far as it can be rebuilt: from the row's
    destination_spec (schema 2), else from its identity (bucket, endpoint, prefix), with
    today's region, profile and keys when it is on today's endpoint.

    None for the local test bucket: its server kept unfinished uploads in memory, so
    they went with it. A secret comes from `secret_for` (the keyring) or, for today's
    access key, from today's destination; without one the default credential chain is
    tried.
    """
    destination = Destination.from_spec(row.destination_spec) if row.destination_spec else None
    if destination is None:
        parts = identity_parts(row.destination)
        if parts is None:
            return None
        bucket, endpoint, prefix = parts
        if endpoint.startswith("label:"):
            return None
        same_place = (endpoint or None) == today.endpoint_url
        destination = (
            replace(today, bucket=bucket, prefix=prefix, label=None)
            if same_place
            else Destination(bucket=bucket, prefix=prefix, endpoint_url=endpoint or None)
        )
        return destination
    if destination.label:
        return None
    if destination.access_key:
        secret = today.secret_key if destination.access_key == today.access_key else None
        if secret is None and secret_for is not None:
            secret = secret_for(destination.access_key)
        destination = replace(
            destination, secret_key=secret, access_key=destination.access_key if secret else None
        )
    return destination


async def _wait_in_thread(fn: Callable[[], None]) -> None:
    """Run a blocking wait in a daemon thread of its own and await it."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle() -> None:
        if not done.done():
            done.set_result(None)

    def run() -> None:
        try:
            fn()
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may be gone if we timed out
                loop.call_soon_threadsafe(settle)

    threading.Thread(target=run, name="engine-join", daemon=True).start()
    await done


class Engine:
    """Owns the executors (qasync's default one waits forever on close, so we never use it).

    With a `journal` (opened by the caller, see app.core.journal.open_journal; the engine
    closes it), every file's progress is recorded, paths already known are resumed, and
    `restore_queue()` brings back the queue of an earlier run. `on_problem` hears, once and
    on the loop, that the journal cannot be used; uploads carry on without it.
    """

    def __init__(
        self,
        destination: Destination,
        settings: EngineSettings,
        *,
        store_factory: StoreFactory = default_store_factory,
        thumbnailer: Thumbnailer = make_derivatives,
        journal: Journal | None = None,
        on_problem: ProblemHandler | None = None,
        secret_for: SecretLookup | None = None,
    ) -> None:
        self.destination = destination
        self._secret_for = secret_for
        self._closed = False
        self._watches: set[FolderWatch] = set()
        self.settings = settings
        UPLOAD_LIMIT.set(settings.upload_limit)  # process-wide: every store's requests
        # Sized for the highest concurrency settings allow (threads start only when
        # needed), so reconfigure() never outgrows it.
        self.io_pool = BackgroundThreadPool(
            max_workers=MAX_CONCURRENCY * 2 + 4, thread_name_prefix="upload-io"
        )
        self.cpu_pool = BackgroundThreadPool(max_workers=cpu_workers(), thread_name_prefix="thumb")
        self._store_factory = store_factory
        try:
            self.store = store_factory(destination, settings.concurrency)
        except BaseException:
            self._shutdown_pools()
            if journal is not None:
                journal.close()
            raise
        self.journal = (
            JournalRecorder(journal, on_problem=on_problem) if journal is not None else None
        )
        self.pipeline = UploadPipeline(
            self.store,
            settings,
            prefix=destination.prefix,
            io_executor=self.io_pool,
            cpu_executor=self.cpu_pool,
            thumbnailer=thumbnailer,
            journal=self.journal,
            destination=destination,
            elsewhere=self._store_elsewhere,
            reopen=lambda d: self._store_factory(d, self.settings.concurrency),
        )

    # -- the door: what the window and the command line ask of the engine ----------

    def add_observer(self, observer: Observer) -> None:
        """Hear of every file's changes: FileSnapshots, coalesced, on the loop."""
        self.pipeline.add_observer(observer)

    def add_status_observer(self, observer: StatusListener) -> None:
        """Hear of outages of the destination (see app.core.pipeline.health)."""
        self.pipeline.add_status_observer(observer)

    def add_paths(self, paths: Sequence[Path]) -> asyncio.Task[None]:
        """Walk files and folders off the loop and queue what they hold; the task ends
        when all of it is queued."""
        return self.pipeline.add_paths(paths)

    def watch(
        self,
        folders: Sequence[Path],
        *,
        timing: WatchTiming | None = None,
        on_status: Callable[[WatchStatus], None] | None = None,
    ) -> FolderWatch:
        """Watch folders: photos that appear in them are queued once complete, and what
        they hold that is not in the bucket yet is queued now (app.core.watch). Stopped
        with its `aclose()`, or when the engine closes."""
        from app.core.watch import FolderWatch, WatchTiming

        watch = FolderWatch(
            folders,
            io=self.io_pool,
            lookup=self.pipeline.fates_of,
            enqueue=self.pipeline.enqueue,
            timing=timing or WatchTiming(),
            on_status=on_status or (lambda _status: None),
        )
        self._watches.add(watch)
        watch.start()
        return watch

    async def stop_watching(self, watch: FolderWatch) -> None:
        self._watches.discard(watch)
        await watch.aclose()

    def retry_failed(self) -> list[int]:
        return self.pipeline.retry_failed()

    def retry(self, file_ids: Iterable[int]) -> list[int]:
        return self.pipeline.retry(file_ids)

    def cancel(self, file_ids: Iterable[int]) -> list[int]:
        return self.pipeline.cancel(file_ids)

    def edit_items(self, file_ids: Iterable[int], changes: Mapping[str, object]) -> list[int]:
        """Set item fields; photos in the bucket get their sidecars rewritten."""
        return self.pipeline.edit_items(file_ids, changes)

    def remove(self, file_ids: Iterable[int]) -> list[int]:
        return self.pipeline.remove(file_ids)

    def pause(self) -> None:
        self.pipeline.pause()

    def resume(self) -> None:
        self.pipeline.resume()

    @property
    def paused(self) -> bool:
        return self.pipeline.paused

    def snapshots(self) -> list[FileSnapshot]:
        return self.pipeline.snapshots()

    async def wait_idle(self) -> None:
        """Until every queued file is final and observers have seen it."""
        await self.pipeline.wait_idle()

    async def restore_queue(self) -> list[int]:
        """Queue again what an earlier run of the same kind (window or CLI) left in the
        journal; returns the file ids that came back. Unfinished files meant for another
        destination than today's go to today's, from the start.

        In slices, letting the loop run between them: 10,000 files left from a crash
        must not freeze the window.
        """
        if self.journal is None:
            return []
        rows = await self.journal.queue()
        restored: list[int] = []
        for start in range(0, len(rows), RESTORE_SLICE):
            restored += self.pipeline.restore(rows[start : start + RESTORE_SLICE])
            await asyncio.sleep(0)
        return restored

    def _store_elsewhere(self, row: JournalRow) -> ObjectStore | None:
        """(On an I/O thread.) A store for the destination an earlier run was sending
        `row` to, to abort its unfinished upload there; None when there is nothing to
        abort or no way to reach it."""
        destination = earlier_destination(row, self.destination, self._secret_for)
        return None if destination is None else self._store_factory(destination, 1)

    async def check_destination(self, *, warm_up: bool = True) -> None:
        """Raise StoreError with one clear sentence unless the bucket is usable. With
        `warm_up`, the destination's listings are taken meanwhile: two round trips fewer
        before the first file is sent (for the command line, which has files to send; a
        window opened to browse should not list a big bucket for nothing)."""
        if warm_up:
            self.pipeline.warm_up()
        await asyncio.get_running_loop().run_in_executor(self.io_pool, self.store.check_bucket)

    def reconfigure(
        self,
        destination: Destination,
        settings: EngineSettings,
        store: ObjectStore | None = None,
    ) -> None:
        """Use a new destination and settings for files started from now on.

        `store` may be built beforehand (off the loop: creating a boto3 client blocks);
        otherwise the store factory makes one, raising StoreError and changing nothing.
        The previous store is closed once no file uses it, and opened again if a file
        that started with it retries a thumbnail beside its original.
        """
        if store is None:
            store = self._store_factory(destination, settings.concurrency)
        self.store, self.destination, self.settings = store, destination, settings
        UPLOAD_LIMIT.set(settings.upload_limit)  # at once, for requests already going
        self.pipeline.reconfigure(
            store,
            settings,
            prefix=destination.prefix,
            destination=destination,
        )

    async def aclose(self) -> None:
        """Cancel all work and stop every thread; never waits long on a stuck upload.
        A second call does nothing."""
        if self._closed:
            return
        self._closed = True
        for watch in list(self._watches):
            await self.stop_watching(watch)
        await self.pipeline.aclose()
        if self.journal is not None:  # a journal on a stalled disk must not hang quitting
            await self.journal.aclose(JOURNAL_CLOSE_TIMEOUT)
        loop = asyncio.get_running_loop()
        for store in self.pipeline.open_stores():
            # A connection that will not die must not hang quitting.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(loop.run_in_executor(self.io_pool, store.close), 5)
        self._shutdown_pools()
        # Let running jobs finish before the loop goes away: a worker that completes
        # later would call into a closed loop (under qasync that can crash). Bounded, so a
        # stuck job cannot hang quitting; waited on from a plain thread, not an executor.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_wait_in_thread(self._join_pools), POOL_JOIN_TIMEOUT)

    def _join_pools(self) -> None:
        self.io_pool.shutdown(wait=True)
        self.cpu_pool.shutdown(wait=True)

    def _shutdown_pools(self) -> None:
        self.io_pool.shutdown(wait=False, cancel_futures=True)
        self.cpu_pool.shutdown(wait=False, cancel_futures=True)
