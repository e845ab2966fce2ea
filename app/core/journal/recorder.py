"""The pipeline's side of the journal, on the asyncio loop: coalesced writes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from app.core.journal.database import Journal
from app.core.journal.rows import JournalRow

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.1  # seconds: at most one write transaction this often


class JournalRecorder:
    """The pipeline's side of the journal, on the asyncio loop: keeps the latest row per
    file and writes what is pending at most once per `interval`, one batch in flight.

    `on_problem` is called on the loop with the journal's one sentence when it is (or
    becomes) unusable, once; and once with its notice if a damaged file was set aside.
    """

    def __init__(
        self,
        journal: Journal,
        *,
        interval: float = FLUSH_INTERVAL,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.journal = journal
        self._loop = asyncio.get_running_loop()
        self._interval = interval
        self._on_problem = on_problem
        self._pending: dict[int, JournalRow] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: asyncio.Future[bool] | None = None
        self._last_write = float("-inf")
        self._reported = False
        self._noticed = False
        self._closed = False
        self._check_problem()

    @property
    def enabled(self) -> bool:
        return self.journal.enabled and not self._closed

    def row_id(self, file_id: int) -> int:
        return self.journal.row_id(file_id)

    def post(self, row: JournalRow) -> None:
        """Note a file's current state (loop thread); written within about `interval`."""
        if not self.enabled:
            return
        self._pending[row.row_id] = row
        self._arm()

    async def latest(self, paths: Iterable[Path], destination: str) -> dict[Path, JournalRow]:
        if not self.enabled:
            return {}
        return await asyncio.wrap_future(self.journal.latest(paths, destination))

    async def queue(self) -> list[JournalRow]:
        if not self.enabled:
            return []
        return await asyncio.wrap_future(self.journal.queue())

    async def flush(self) -> None:
        """Write everything posted so far and wait for it."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._inflight is not None or (self._pending and self.journal.enabled):
            if self._inflight is None:
                self._write_now()
            inflight = self._inflight
            if inflight is not None:
                await asyncio.shield(inflight)
                if self._inflight is inflight:
                    # Done, but its callback (which clears it) is still queued: awaiting a
                    # done future does not yield, so without this the loop never ran it
                    # and this spun forever holding the GIL (seen: a CLI hung for minutes).
                    await asyncio.sleep(0)

    async def aclose(self, timeout: float) -> None:
        """Flush, then close the journal, in `timeout` seconds at most. Posting afterwards
        does nothing.

        A journal whose disk hangs is not waited for beyond that: what is still pending is
        dropped (the next start checks those files again; the bucket's index is the final
        word) and the close is left queued behind the stalled write on the journal's own
        daemon thread, which does not keep the app from quitting.
        """
        if self._closed:
            return
        deadline = self._loop.time() + timeout
        try:
            await asyncio.wait_for(self.flush(), timeout)
        except TimeoutError:
            log.warning("the journal did not answer within %.0f s; closing without it", timeout)
        finally:
            self._closed = True
            self._pending.clear()
            closed = asyncio.wrap_future(self.journal.close())
            remaining = max(0.0, deadline - self._loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(closed), remaining)

    def _arm(self) -> None:
        if self._timer is not None or self._inflight is not None:
            return
        delay = max(0.0, self._last_write + self._interval - self._loop.time())
        self._timer = self._loop.call_later(delay, self._write_now)

    def _write_now(self) -> None:
        self._timer = None
        if not self._pending or self._inflight is not None:
            return
        rows = list(self._pending.values())
        self._pending.clear()
        self._last_write = self._loop.time()
        inflight = asyncio.wrap_future(self.journal.write(rows), loop=self._loop)
        self._inflight = inflight
        inflight.add_done_callback(lambda done: self._written(done, rows))

    def _written(self, done: asyncio.Future[bool], rows: list[JournalRow]) -> None:
        self._inflight = None
        if not done.cancelled() and done.exception() is None and done.result() is False:
            for row in rows:  # busy: try again, unless a newer state came meanwhile
                self._pending.setdefault(row.row_id, row)
        self._check_problem()
        if self._pending and self.journal.enabled and not self._closed:
            self._arm()

    def _check_problem(self) -> None:
        messages: list[str] = []
        if self.journal.notice is not None and not self._noticed:
            self._noticed = True
            messages.append(self.journal.notice)
        if self.journal.problem is not None and not self._reported:
            self._reported = True
            self._pending.clear()
            messages.append(self.journal.problem)
        if self._on_problem is not None:
            for message in messages:
                self._loop.call_soon(self._on_problem, message)
