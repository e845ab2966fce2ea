"""A pipeline over a store, with its own pools, for tests that drive the pipeline itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from app.core.config import EngineSettings
from app.core.pipeline import UploadPipeline
from app.core.retry import DEFAULT_RETRY, RetryPolicy
from app.core.store import ObjectStore


@asynccontextmanager
async def open_pipeline(
    store: ObjectStore,
    *,
    concurrency: int = 4,
    retry: RetryPolicy = DEFAULT_RETRY,
    prefix: str = "",
    **options: Any,
) -> AsyncIterator[UploadPipeline]:
    """Yield a running pipeline (observers flushed every millisecond); close it and its
    pools afterwards, whatever happened."""
    io, cpu = ThreadPoolExecutor(16), ThreadPoolExecutor(2)
    options.setdefault("flush_interval", 0.001)
    pipeline = UploadPipeline(
        store,
        EngineSettings(concurrency=concurrency, retry=retry),
        prefix=prefix,
        io_executor=io,
        cpu_executor=cpu,
        **options,
    )
    try:
        yield pipeline
    finally:
        await pipeline.aclose()
        io.shutdown(wait=False, cancel_futures=True)
        cpu.shutdown(wait=False, cancel_futures=True)
