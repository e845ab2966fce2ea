"""What every stage works with, given once by the pipeline: executors, the thumbnailer,
single flight, the journal link and the observers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from app.core.models import FileState
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.job import FileJob
from app.core.pipeline.journaling import PipelineJournal
from app.core.pipeline.observe import Observers
from app.core.pipeline.singleflight import SingleFlight
from app.core.thumbnails import ThumbnailSpec

T = TypeVar("T")
Thumbnailer = Callable[[Path, ThumbnailSpec], bytes]


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

    async def run_io(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.loop.run_in_executor(self.io, fn, *args)

    async def run_cpu(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.loop.run_in_executor(self.cpu, fn, *args)

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
