"""An upload speed limit for the whole process, as `--bwlimit` and in Settings.

Rates are written as rclone writes them: a number with an optional binary suffix, so
"20M" is 20 MiB/s, "512K" is 512 KiB/s, "1.5G" is 1.5 GiB/s and a bare number is KiB/s;
"off" or "0" means no limit. One token bucket is shared by every request body the app
sends (originals, thumbnails, index entries; every destination), so the limit holds
however many uploads run at once, and a new rate takes effect at once.

The bodies are metered as the connection reads them, after botocore has signed them
(its 'before-send' event), so hashing the payload for a signature is not counted.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable
from typing import Any

_UNITS = {"": 1024, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([BKMGT]?)(?:i?B?)?(?:/s)?\s*$", re.IGNORECASE)
#: At most this much may go out in one burst after a quiet spell (per second of rate).
BURST_SECONDS = 0.25
_MIN_BURST = 64 * 1024
#: Bodies are handed to the socket in pieces of at most this size, each paid for first.
PIECE = 64 * 1024


class RateError(ValueError):
    """A rate that cannot be read; the message says how to write one."""


def parse_rate(text: str) -> int | None:
    """Bytes per second for a rate such as "20M" (None: no limit)."""
    stripped = text.strip()
    if stripped.lower() in ("", "off", "0", "none", "unlimited"):
        return None
    match = _RATE.match(stripped)
    if match is None:
        raise RateError(
            f"“{text}” is not an upload speed limit: write e.g. 20M (MiB/s), 512K or off."
        )
    number, unit = float(match.group(1)), match.group(2).upper()
    rate = int(number * _UNITS[unit])
    if rate <= 0:
        return None
    return rate


def describe_rate(rate: int | None) -> str:
    """The rate as a person would write it back: "20M", "512K", "off"."""
    if rate is None:
        return "off"
    for unit in ("G", "M", "K"):
        if rate >= _UNITS[unit]:
            return f"{rate / _UNITS[unit]:g}{unit}"
    return f"{rate}B"


class RateLimit:
    """A token bucket: `pay(n)` returns once `n` bytes may go (at once when unlimited).

    Thread-safe; `set()` may be called from any thread while uploads run.
    """

    def __init__(
        self,
        rate: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._rate: int | None = None
        self._tokens = 0.0
        self._stamp = clock()
        self.set(rate)

    @property
    def rate(self) -> int | None:
        return self._rate

    def set(self, rate: int | None) -> None:
        with self._lock:
            self._rate = rate if rate and rate > 0 else None
            self._tokens = min(self._tokens, self._burst())
            self._stamp = self._clock()

    def _burst(self) -> float:
        return max(_MIN_BURST, (self._rate or 0) * BURST_SECONDS)

    def pay(self, size: int) -> None:
        with self._lock:
            rate = self._rate
            if rate is None:
                return
            now = self._clock()
            self._tokens = min(self._burst(), self._tokens + (now - self._stamp) * rate)
            self._stamp = now
            self._tokens -= size  # may go into debt: the wait below pays it back
            wait = -self._tokens / rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)


#: The process's one limit (the CLI's --bwlimit, the window's Settings).
UPLOAD_LIMIT = RateLimit()


class MeteredBody(io.RawIOBase):
    """A request body that pays the limit for each piece the connection reads."""

    def __init__(self, body: Any, limit: RateLimit) -> None:
        super().__init__()
        self._body = io.BytesIO(body) if isinstance(body, bytes | bytearray) else body
        self._limit = limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > PIECE:
            size = PIECE
        data = self._body.read(size)
        if data:
            self._limit.pay(len(data))
        return bytes(data)

    def seekable(self) -> bool:
        return bool(getattr(self._body, "seekable", lambda: False)())

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return int(self._body.seek(offset, whence))

    def tell(self) -> int:
        return int(self._body.tell())


def meter_request_bodies(client: Any, limit: RateLimit = UPLOAD_LIMIT) -> None:
    """Make every body `client` sends pay `limit` as it goes out (when one is set)."""

    def before_send(request: Any, **_kwargs: Any) -> None:
        if limit.rate is not None and request.body:
            request.body = MeteredBody(request.body, limit)

    client.meta.events.register("before-send.s3", before_send)
