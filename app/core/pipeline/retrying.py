"""Trying one storage operation of one file again after passing failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from app.core.errors import StoreError
from app.core.pipeline.job import FileJob
from app.core.pipeline.tools import PipelineTools, context_of
from app.core.retry import retry_notice

log = logging.getLogger(__name__)
T = TypeVar("T")


async def with_retries(
    job: FileJob,
    tools: PipelineTools,
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
    context = context_of(job)
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
                notice = job.notice = retry_notice(retry, policy, exc)
                tools.changed(job)
                log.info("%s: %s", job.path.name, notice)
                await asyncio.sleep(policy.delay(retry))
                if before_retry is not None:
                    await before_retry()
    finally:
        if notice is not None and job.notice == notice:
            job.notice = None
            tools.changed(job)


async def store_call(job: FileJob, tools: PipelineTools, fn: Callable[..., T], *args: Any) -> T:
    """A blocking store call on the I/O threads, with retries (see with_retries)."""
    return await with_retries(job, tools, lambda: tools.run_io(fn, *args))
