"""The scheduler on its own: exact worker counts, one run per file, pause and idle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from app.core.pipeline.scheduler import Scheduler


@dataclass(frozen=True)
class Job:
    file_id: int


class Runner:
    """Jobs wait on a gate of their own; it records who ran and how many ran at once."""

    def __init__(self) -> None:
        self.ran: list[int] = []
        self.running: set[int] = set()
        self.most_at_once = 0
        self.gates: dict[int, asyncio.Event] = {}
        self.started = asyncio.Event()

    def gate(self, file_id: int) -> asyncio.Event:
        return self.gates.setdefault(file_id, asyncio.Event())

    async def __call__(self, job: Job) -> None:
        self.ran.append(job.file_id)
        self.running.add(job.file_id)
        self.most_at_once = max(self.most_at_once, len(self.running))
        self.started.set()
        try:
            await self.gate(job.file_id).wait()
        finally:
            self.running.discard(job.file_id)

    def open_all(self) -> None:
        for file_id in range(1, 100):
            self.gate(file_id).set()

    async def until_running(self, count: int) -> None:
        while len(self.running) < count:
            self.started.clear()
            await asyncio.wait_for(self.started.wait(), 5)


def run(body: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(body())


def test_at_most_target_jobs_run_at_once() -> None:
    async def go() -> Runner:
        runner = Runner()
        scheduler = Scheduler(runner, target=3)
        for n in range(1, 9):
            scheduler.push(Job(n))
        await runner.until_running(3)
        assert len(runner.running) == 3 and scheduler.busy
        runner.open_all()
        await asyncio.wait_for(scheduler.wait_idle(), 5)
        await scheduler.aclose()
        return runner

    runner = run(go)
    assert sorted(runner.ran) == list(range(1, 9)) and runner.most_at_once == 3


def test_lowering_then_raising_the_target_leaves_exactly_that_many_workers() -> None:
    async def go() -> tuple[int, int]:
        runner = Runner()
        scheduler = Scheduler(runner, target=4)
        for n in range(1, 5):
            scheduler.push(Job(n))
        await runner.until_running(4)
        scheduler.set_target(1)
        scheduler.set_target(2)
        for n in range(1, 5):  # all four finish in the same turn of the loop
            runner.gate(n).set()
        await asyncio.wait_for(scheduler.wait_idle(), 5)
        live_after = scheduler.live
        for n in range(5, 9):
            scheduler.push(Job(n))
        await runner.until_running(2)
        await asyncio.sleep(0)
        at_once = len(runner.running)
        runner.open_all()
        await asyncio.wait_for(scheduler.wait_idle(), 5)
        await scheduler.aclose()
        return live_after, at_once

    live_after, at_once = run(go)
    assert live_after == 2 and at_once == 2


def test_a_job_queued_again_runs_once() -> None:
    async def go() -> list[int]:
        runner = Runner()
        runner.open_all()
        scheduler = Scheduler(runner, target=2)
        scheduler.pause()
        job = Job(1)
        scheduler.push(job)
        assert scheduler.drop(job)  # cancelled while queued...
        scheduler.push(job)  # ...and retried
        scheduler.push(job)
        scheduler.resume()
        await asyncio.wait_for(scheduler.wait_idle(), 5)
        await scheduler.aclose()
        return runner.ran

    assert run(go) == [1]


def test_a_dropped_job_never_runs_and_the_scheduler_is_idle() -> None:
    async def go() -> tuple[list[int], bool]:
        runner = Runner()
        runner.open_all()
        scheduler = Scheduler(runner, target=1)
        scheduler.pause()
        scheduler.push(Job(1))
        scheduler.push(Job(2))
        scheduler.drop(Job(1))
        assert scheduler.busy and not scheduler.drop(Job(3))
        scheduler.resume()
        await asyncio.wait_for(scheduler.wait_idle(), 5)
        busy = scheduler.busy
        await scheduler.aclose()
        return runner.ran, busy

    assert run(go) == ([2], False)


def test_paused_nothing_starts_and_resuming_starts_the_queue() -> None:
    async def go() -> tuple[list[int], list[int]]:
        runner = Runner()
        runner.open_all()
        scheduler = Scheduler(runner, target=2)
        scheduler.pause()
        for n in (1, 2, 3):
            scheduler.push(Job(n))
        for _ in range(5):
            await asyncio.sleep(0)
        before = list(runner.ran)
        scheduler.resume()
        await asyncio.wait_for(scheduler.wait_idle(), 5)
        await scheduler.aclose()
        return before, runner.ran

    before, after = run(go)
    assert before == [] and sorted(after) == [1, 2, 3]


def test_closing_cancels_running_jobs_and_stops_every_worker() -> None:
    async def go() -> tuple[int, set[int]]:
        runner = Runner()
        scheduler = Scheduler(runner, target=3)
        for n in (1, 2, 3, 4):
            scheduler.push(Job(n))
        await runner.until_running(3)
        await asyncio.wait_for(scheduler.aclose(), 5)
        return scheduler.live, runner.running

    live, running = run(go)
    assert live == 0 and running == set()
