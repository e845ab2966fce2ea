"""Trying a storage request again after a passing failure: bounded exponential backoff.

botocore's own retries are off for our clients (see app.core.store.make_client): the
pipeline retries each operation itself, so it can tell the collector what is going on
("retrying (2/5): the storage server asked us to slow down") and so tests can shrink the
waits to milliseconds.

The default schedule waits about 2.5, 5, 10, 20 and 40 seconds before the five retries of
an operation, each wait shortened by a random part of up to half of it. The random part
spreads files that failed together (throttling, an outage) so they do not all come back
at the same instant. It is half the wait, not all of it ("full jitter"), so the waits
always add up to at least 38.75 seconds: a network outage of up to 30 seconds in the
middle of a batch (every connection refused or reset) is ridden out without the collector
doing anything, with room to spare. When the server stays away, each file fails after at
most about 80 seconds with the reason, and Retry failed picks it up later.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from app.core.errors import StoreError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one storage operation is tried.

    Attributes:
        attempts: tries in all, the first included (so `attempts - 1` retries).
        base_delay: the longest wait before the first retry, in seconds; it doubles
            for each later retry, up to `max_delay`.
        max_delay: no single wait is longer than this.
        jitter: the random part of each wait, as a fraction of it (1.0 would be "full
            jitter"; 0.5 keeps at least half of every wait, so the total is bounded below).
    """

    attempts: int = 6
    base_delay: float = 2.5
    max_delay: float = 40.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("A retry policy needs at least one attempt.")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("Retry delays cannot be negative.")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("Retry jitter is a fraction between 0 and 1.")

    @property
    def retries(self) -> int:
        return self.attempts - 1

    def ceiling(self, retry: int) -> float:
        """The longest wait before retry number `retry` (1-based)."""
        return float(min(self.max_delay, self.base_delay * 2 ** (retry - 1)))

    def delay(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """The wait before retry number `retry` (1-based): the ceiling, less a random part."""
        return self.ceiling(retry) * (1.0 - self.jitter * rand())

    def min_total_delay(self) -> float:
        """The shortest time all retries of one operation can be spread over."""
        return sum(self.ceiling(n) * (1.0 - self.jitter) for n in range(1, self.attempts))

    def max_total_delay(self) -> float:
        return sum(self.ceiling(n) for n in range(1, self.attempts))


#: What the app uses: six tries, spread over 38.75 to 77.5 seconds.
DEFAULT_RETRY = RetryPolicy()


def retry_notice(retry: int, policy: RetryPolicy, error: StoreError) -> str:
    """What a file shows while it waits to try again: "retrying (2/5): <reason>", or
    "retrying (7): <reason>" past its own tries while other requests get through."""
    count = f"{retry}/{policy.retries}" if retry <= policy.retries else str(retry)
    return f"retrying ({count}): {error.reason}"


def waiting_notice(error: StoreError) -> str:
    """What a file shows while the server cannot be reached (one outage for all)."""
    return f"waiting for the storage server: {error.reason}"


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[int, StoreError], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `fn` (blocking), trying again after StoreErrors that are `retryable`."""
    retry = 0
    while True:
        try:
            return fn()
        except StoreError as exc:
            if not exc.retryable or retry >= policy.retries:
                raise
            retry += 1
            if on_retry is not None:
                on_retry(retry, exc)
            sleep(policy.delay(retry))
