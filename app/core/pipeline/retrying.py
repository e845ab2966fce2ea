"""Trying one storage operation of one file again after passing failures.

Three kinds of failure, three ways (see app.core.pipeline.health):
- permanent (credentials, a missing bucket, a clock far off): fail at once; one that
  makes the whole destination unusable blocks it for the other files too;
- the server cannot be reached: one outage for the destination; the file waits for it
  with the others, for the outage's budget, without using up its own tries;
- passing (throttling, a server error, a lost connection): retried with backoff; a try is
  used up only when no other request to the destination got through meanwhile, so a file
  does not give up in a throttling storm the server is otherwise answering.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from app.core.errors import StoreError
from app.core.pipeline.job import FileJob
from app.core.pipeline.tools import PipelineTools, context_of
from app.core.retry import retry_notice, waiting_notice

log = logging.getLogger(__name__)
T = TypeVar("T")


async def with_retries(
    job: FileJob,
    tools: PipelineTools,
    attempt: Callable[[], Awaitable[T]],
    *,
    before_retry: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """Run one storage operation of `job`, trying again as the module says; while it
    waits, the file's notice says so ("retrying (2/5): ...", "waiting for the storage
    server: ..."). `before_retry` may stop the retries by raising.
    """
    context = context_of(job)
    health, policy = context.health, context.settings.retry
    tries = 0  # failed tries of this operation
    used = 0  # tries it used up (not excused by other requests getting through)
    seen = health.successes
    notice: str | None = None

    def say(text: str) -> None:
        nonlocal notice
        notice = job.notice = text
        tools.changed(job)

    try:
        while True:
            health.check()
            unreachable = health.unreachable
            if unreachable is not None:
                say(waiting_notice(unreachable))
                await health.wait_for_contact()  # raises when the outage is given up
                seen = health.successes
            sent_at = health.now()
            try:
                result = await attempt()
            except StoreError as exc:
                if exc.whole_destination:
                    health.block(exc)
                if not exc.retryable:
                    raise
                tries += 1
                if exc.unreachable:
                    health.lost_contact(exc)
                    continue
                if not health.excuse(seen):
                    used += 1
                seen = health.successes
                if used >= policy.attempts:
                    if policy.attempts == 1:
                        raise
                    raise StoreError(f"{exc} (Tried {tries} times.)") from exc
                say(retry_notice(tries, policy, exc))
                log.info("%s: %s", job.path.name, notice)
                await asyncio.sleep(policy.delay(min(tries, policy.attempts)))
                if before_retry is not None:
                    await before_retry()
            else:
                health.succeeded(sent_at)
                return result
    finally:
        if notice is not None and job.notice == notice:
            job.notice = None
            tools.changed(job)


async def store_call(job: FileJob, tools: PipelineTools, fn: Callable[..., T], *args: Any) -> T:
    """A blocking store call on the I/O threads, with retries (see with_retries)."""
    return await with_retries(job, tools, lambda: tools.run_io(fn, *args))
