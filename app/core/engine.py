"""The engine as a unit: thread pools, store and pipeline, started and stopped together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from app.core.config import Destination, EngineSettings, cpu_workers
from app.core.pipeline import Thumbnailer, UploadPipeline
from app.core.store import ObjectStore, S3Store
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
        self.io_pool = ThreadPoolExecutor(
            max_workers=settings.concurrency * 2 + 4, thread_name_prefix="upload-io"
        )
        self.cpu_pool = ThreadPoolExecutor(max_workers=cpu_workers(), thread_name_prefix="thumb")
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

    async def aclose(self) -> None:
        """Cancel all work and stop every thread; never waits on a stuck upload."""
        await self.pipeline.aclose()
        await asyncio.get_running_loop().run_in_executor(self.io_pool, self.store.close)
        self._shutdown_pools()

    def _shutdown_pools(self) -> None:
        self.io_pool.shutdown(wait=False, cancel_futures=True)
        self.cpu_pool.shutdown(wait=False, cancel_futures=True)
