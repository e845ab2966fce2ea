"""What every stage works with, given once by the pipeline: executors, the thumbnailer,
single flight, the journal link and the observers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from app.core.models import FileState
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.job import FileJob
from app.core.pipeline.journaling import PipelineJournal
from app.core.pipeline.observe import Observers
from app.core.pipeline.singleflight import SingleFlight
from app.core.thumbnails import Derivatives, PreviewSpec, ThumbnailSpec

log = logging.getLogger(__name__)
T = TypeVar("T")
# Makes a photo's thumbnail and, when asked, its preview: app.core.thumbnails.make_derivatives.
Thumbnailer = Callable[[Path, ThumbnailSpec, PreviewSpec | None], Derivatives]
PARTS_IN_MEMORY = 16  # x 8 MiB: what multipart uploads may hold in memory at once


@dataclass(eq=False)
class PipelineTools:
    """The stages' shared means. `io` runs file reads, hashing and S3 calls; `cpu` runs
    thumbnails; nothing blocking ever runs on the loop."""

    loop: asyncio.AbstractEventLoop
    io: Executor
    cpu: Executor
    thumbnailer: Thumbnailer
    flights: SingleFlight
    journal: PipelineJournal
    observers: Observers
    side_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # Parts of large originals in memory at once, all files together (8 MiB each).
    parts_in_memory: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(PARTS_IN_MEMORY)
    )

    async def run_io(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.loop.run_in_executor(self.io, fn, *args)

    async def run_cpu(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.loop.run_in_executor(self.cpu, fn, *args)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run `work` beside the files (clean-ups); the pipeline is not idle until it ends."""
        task = self.loop.create_task(work, name=name)
        self.side_tasks.add(task)
        task.add_done_callback(self._side_task_done)
        return task

    def _side_task_done(self, task: asyncio.Task[None]) -> None:
        self.side_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a clean-up failed", exc_info=task.exception())

    def changed(self, job: FileJob) -> None:
        self.observers.changed(job)

    def enter(self, job: FileJob, state: FileState) -> None:
        """Move the job to a stage, and say so to the journal and the observers."""
        job.enter(state)
        self.journal.post(job)
        self.observers.changed(job)

    def finished(self, job: FileJob) -> None:
        """The job just reached a final state (through one of its transitions)."""
        self.journal.post(job)
        self.observers.changed(job)


def context_of(job: FileJob) -> PipelineContext:
    """Where a running job goes (set when it started)."""
    assert job.context is not None, "the job has not started"
    return job.context
