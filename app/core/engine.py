"""The engine as a unit: thread pools, store and pipeline, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

from app.core.config import MAX_CONCURRENCY, Destination, EngineSettings, cpu_workers
from app.core.journal import Journal, JournalRecorder
from app.core.pipeline import Thumbnailer, UploadPipeline
from app.core.store import ObjectStore, S3Store
from app.core.threads import BackgroundThreadPool
from app.core.thumbnails import make_thumbnail

StoreFactory = Callable[[Destination, int], ObjectStore]
ProblemHandler = Callable[[str], None]
JOURNAL_CLOSE_TIMEOUT = 5.0
RESTORE_SLICE = 200


def default_store_factory(destination: Destination, concurrency: int) -> ObjectStore:
    return S3Store(destination, concurrency=concurrency)


POOL_JOIN_TIMEOUT = 5.0


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
        thumbnailer: Thumbnailer = make_thumbnail,
        journal: Journal | None = None,
        on_problem: ProblemHandler | None = None,
    ) -> None:
        self.destination = destination
        self.settings = settings
        # Sized for the highest concurrency settings allow (threads start only when
        # needed), so reconfigure() never outgrows it.
        self.io_pool = BackgroundThreadPool(
            max_workers=MAX_CONCURRENCY * 2 + 4, thread_name_prefix="upload-io"
        )
        self.cpu_pool = BackgroundThreadPool(max_workers=cpu_workers(), thread_name_prefix="thumb")
        self._store_factory = store_factory
        self._retired: list[ObjectStore] = []
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
        )

    async def restore_queue(self) -> int:
        """Queue again what an earlier run of the same kind (window or CLI) left in the
        journal; returns how many files came back. Unfinished files meant for another
        destination than today's go to today's, from the start.

        In slices, letting the loop run between them: 10,000 files left from a crash
        must not freeze the window.
        """
        if self.journal is None:
            return 0
        rows = await self.journal.queue()
        restored = 0
        for start in range(0, len(rows), RESTORE_SLICE):
            restored += len(self.pipeline.restore(rows[start : start + RESTORE_SLICE]))
            await asyncio.sleep(0)
        return restored

    async def check_destination(self) -> None:
        """Raise StoreError with one clear sentence unless the bucket is usable."""
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
        The previous store stays open until aclose(): files that started with it may
        still retry a thumbnail beside their original.
        """
        if store is None:
            store = self._store_factory(destination, settings.concurrency)
        self._retired.append(self.store)
        self.store, self.destination, self.settings = store, destination, settings
        self.pipeline.reconfigure(
            store,
            settings,
            prefix=destination.prefix,
            destination=destination,
        )

    async def aclose(self) -> None:
        """Cancel all work and stop every thread; never waits long on a stuck upload."""
        await self.pipeline.aclose()
        if self.journal is not None:  # a journal on a stalled disk must not hang quitting
            await self.journal.aclose(JOURNAL_CLOSE_TIMEOUT)
        loop = asyncio.get_running_loop()
        for store in [self.store, *self._retired]:
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
