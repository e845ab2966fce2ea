"""Collecting "this file changed" marks from any thread into at most one flush per interval."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable


class ChangeCoalescer:
    """Marks file ids dirty from any thread; calls `flush(ids)` on the loop, at most
    once per `interval` seconds, so a burst of progress never floods an observer."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        flush: Callable[[list[int]], None],
        interval: float = 1 / 30,
    ) -> None:
        self._loop = loop
        self._flush = flush
        self._interval = interval
        self._lock = threading.Lock()
        self._dirty: dict[int, None] = {}  # insertion-ordered set
        self._armed = False
        self._timer: asyncio.TimerHandle | None = None

    def mark(self, file_id: int) -> None:
        """Note a change; safe from any thread."""
        with self._lock:
            self._dirty[file_id] = None
            if self._armed:
                return
            self._armed = True
        if self._on_loop_thread():
            self._arm()
        else:
            self._loop.call_soon_threadsafe(self._arm)

    def flush_now(self) -> None:
        """Deliver everything pending immediately (loop thread only)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deliver()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _arm(self) -> None:
        if self._timer is None and not self._loop.is_closed():
            self._timer = self._loop.call_later(self._interval, self._deliver)

    def _deliver(self) -> None:
        self._timer = None
        with self._lock:
            ids = list(self._dirty)
            self._dirty.clear()
            self._armed = False
        if ids:
            self._flush(ids)
