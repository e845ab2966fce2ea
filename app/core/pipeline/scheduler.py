"""The scheduler: queued files, the workers that run them `target` at a time, pause, idle."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar


class Schedulable(Protocol):
    @property
    def file_id(self) -> int: ...


J = TypeVar("J", bound=Schedulable)


class Scheduler(Generic[J]):
    """Runs queued jobs through `run`, `target` at a time.

    Counted exactly: a worker is counted when it is made and uncounted in the same step
    as its decision to retire, so lowering the target while many files finish at once
    never leaves fewer workers than the target, and raising it right after adds exactly
    what is missing. A job has at most one live place in the queue: queueing it again
    (a retry) takes a new ticket, and an entry whose ticket is stale is skipped, so one
    file never runs twice at once.
    """

    def __init__(self, run: Callable[[J], Awaitable[None]], *, target: int) -> None:
        self._run = run
        self._target = target
        self._live = 0  # workers made and not retired
        self._running = 0  # jobs inside `run`
        self._entries: deque[tuple[J, int]] = deque()
        self._queued: dict[int, int] = {}  # file id -> the ticket of its live entry
        self._tickets = itertools.count(1)
        self._paused = False
        self._closed = False
        self._wakeup = asyncio.Event()  # set (and replaced) when waiting workers should look
        self._idle = asyncio.Event()
        self._idle.set()
        self._workers: set[asyncio.Task[None]] = set()
        self._spawn()

    # -- what it holds -------------------------------------------------------------

    @property
    def target(self) -> int:
        return self._target

    @property
    def live(self) -> int:
        """Workers that exist now (above the target only until the extra ones retire)."""
        return self._live

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def busy(self) -> bool:
        """A job is queued or running."""
        return bool(self._queued) or self._running > 0

    def is_queued(self, job: J) -> bool:
        return job.file_id in self._queued

    # -- changing it ---------------------------------------------------------------

    def push(self, job: J) -> None:
        """Queue `job` (again): any earlier entry of it is dropped."""
        if self._closed:
            return
        ticket = next(self._tickets)
        self._queued[job.file_id] = ticket
        self._entries.append((job, ticket))
        self._idle.clear()
        self._notify()

    def drop(self, job: J) -> bool:
        """Take `job` out of the queue; False when it was not queued."""
        found = self._queued.pop(job.file_id, None) is not None
        self._check_idle()
        return found

    def set_target(self, target: int) -> None:
        self._target = target
        self._spawn()
        self._notify()  # idle workers above the target retire now

    def pause(self) -> None:
        """Start no new jobs; running ones finish."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._notify()

    async def wait_idle(self) -> None:
        """Until nothing is queued or running (while paused with jobs queued: until resumed
        and done)."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Stop the workers (running jobs are cancelled with them)."""
        self._closed = True
        self._queued.clear()
        self._entries.clear()
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._idle.set()

    # -- workers -------------------------------------------------------------------

    def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        while self._live < self._target and not self._closed:
            self._live += 1
            task = loop.create_task(self._worker(), name="upload-worker")
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def _worker(self) -> None:
        retired = False
        try:
            while True:
                job = await self._next_job()
                if job is None:
                    retired = True  # _next_job counted this worker out
                    return
                self._running += 1
                try:
                    await self._run(job)
                finally:
                    self._running -= 1
                    self._check_idle()
        finally:
            if not retired:
                self._live -= 1

    async def _next_job(self) -> J | None:
        """The next live entry once not paused; None when this worker is to retire."""
        while not self._ready():
            await self._wakeup.wait()
        if self._closed or self._live > self._target:
            self._live -= 1  # decided and counted in one step: the next worker sees it
            return None
        job, _ticket = self._entries.popleft()
        del self._queued[job.file_id]
        return job

    def _ready(self) -> bool:
        if self._closed or self._live > self._target:
            return True
        while self._entries:  # stale entries (dropped or queued again) go
            job, ticket = self._entries[0]
            if self._queued.get(job.file_id) == ticket:
                return not self._paused
            self._entries.popleft()
        return False

    def _notify(self) -> None:
        wakeup, self._wakeup = self._wakeup, asyncio.Event()
        wakeup.set()

    def _check_idle(self) -> None:
        if not self.busy:
            self._idle.set()
