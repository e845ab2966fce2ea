"""Observing the pipeline: plain FileSnapshots, coalesced, to whoever listens."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

from app.core.coalesce import ChangeCoalescer
from app.core.models import FileSnapshot
from app.core.pipeline.job import FileJob

log = logging.getLogger(__name__)

Observer = Callable[[Sequence[FileSnapshot]], None]


class Observers:
    """Marks files changed (from any thread) and calls every observer at most once per
    `interval` with the snapshots of what changed, on the loop.

    A job's thumbnail bytes ride along in the snapshots until it is in the bucket and has
    been delivered once; then the job lets go of them (10,000 files must not keep theirs).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        jobs: Mapping[int, FileJob],
        bucket_of: Callable[[FileJob], str],
        interval: float,
    ) -> None:
        self._jobs = jobs
        self._bucket_of = bucket_of
        self._observers: list[Observer] = []
        self._coalescer = ChangeCoalescer(loop, self._deliver, interval)

    def add(self, observer: Observer) -> None:
        self._observers.append(observer)

    def snapshot(self, job: FileJob) -> FileSnapshot:
        return job.snapshot(self._bucket_of(job))

    def changed(self, job: FileJob) -> None:
        """Safe from any thread."""
        self._coalescer.mark(job.file_id)

    def flush_now(self) -> None:
        self._coalescer.flush_now()

    def close(self) -> None:
        self._coalescer.flush_now()
        self._coalescer.close()

    def _deliver(self, ids: list[int]) -> None:
        jobs = [self._jobs[i] for i in ids if i in self._jobs]
        snapshots = [self.snapshot(job) for job in jobs]
        for job in jobs:
            if job.outcome.thumbnail_in_bucket:
                job.thumbnail_bytes = None  # delivered once; not kept for 10,000 files
        if not snapshots:
            return
        for observer in list(self._observers):
            try:
                observer(snapshots)
            except Exception:  # one broken view must not keep the others in the dark
                log.exception("an observer of the upload queue failed: %r", observer)
