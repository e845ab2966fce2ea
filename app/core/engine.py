"""The engine as a unit: thread pools, store and pipeline, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from app.core.config import MAX_CONCURRENCY, Destination, EngineSettings, cpu_workers
from app.core.pipeline import Thumbnailer, UploadPipeline
from app.core.store import ObjectStore, S3Store
from app.core.threads import BackgroundThreadPool
from app.core.thumbnails import make_thumbnail

StoreFactory = Callable[[Destination, int], ObjectStore]


def default_store_factory(destination: Destination, concurrency: int) -> ObjectStore:
    return S3Store(destination, concurrency=concurrency)


class Engine:
    """Owns the executors (qasync's default one waits forever on close, so we never use it)."""

    def __init__(
        self,
        destination: Destination,
        settings: EngineSettings,
        *,
        store_factory: StoreFactory = default_store_factory,
        thumbnailer: Thumbnailer = make_thumbnail,
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
            raise
        self.pipeline = UploadPipeline(
            self.store,
            settings,
            prefix=destination.prefix,
            io_executor=self.io_pool,
            cpu_executor=self.cpu_pool,
            thumbnailer=thumbnailer,
        )

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
        self.pipeline.reconfigure(store, settings, prefix=destination.prefix)

    async def aclose(self) -> None:
        """Cancel all work and stop every thread; never waits long on a stuck upload."""
        await self.pipeline.aclose()
        loop = asyncio.get_running_loop()
        for store in [self.store, *self._retired]:
            # A connection that will not die must not hang quitting.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(loop.run_in_executor(self.io_pool, store.close), 5)
        self._shutdown_pools()

    def _shutdown_pools(self) -> None:
        self.io_pool.shutdown(wait=False, cancel_futures=True)
        self.cpu_pool.shutdown(wait=False, cancel_futures=True)
