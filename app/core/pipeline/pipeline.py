"""The upload pipeline: each file goes read+hash -> duplicate check -> thumbnail ->
upload original -> upload thumbnail -> record, several files at once.

This module composes the rooms (job, scheduler, stages, single flight, integrity,
resume, observers, journal link) and is the pipeline's whole public surface.
Everything here runs on the asyncio loop; every blocking step is handed to the
executors passed in. Observers get plain `FileSnapshot`s, coalesced.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path

from app.core.config import Destination, EngineSettings
from app.core.journal import JournalRecorder, JournalRow
from app.core.models import FileOutcome, FileSnapshot, FileState
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.destinations import Destinations, StoreOpener
from app.core.pipeline.health import StatusListener
from app.core.pipeline.intake import walk_into_queue
from app.core.pipeline.job import FileJob
from app.core.pipeline.journaling import PipelineJournal, absolute
from app.core.pipeline.observe import Observer, Observers
from app.core.pipeline.process import process_file
from app.core.pipeline.resume import (
    StoreElsewhere,
    abort_elsewhere,
    needs_abort_elsewhere,
)
from app.core.pipeline.scheduler import Scheduler
from app.core.pipeline.singleflight import SingleFlight
from app.core.pipeline.stages import item_of, rewrite_item_stage
from app.core.pipeline.tools import PipelineTools, Thumbnailer
from app.core.policy import is_retryable, needs_retry, takes_item
from app.core.store import ObjectStore
from app.core.thumbnails import make_derivatives
from app.core.walker import WalkEntry

log = logging.getLogger(__name__)

SIDE_TASK_GRACE = 2.0  # seconds closing waits for clean-ups of cancelled uploads


class UploadPipeline:
    """Runs queued files through the stages, `settings.concurrency` at a time.

    Args:
        store: the bucket (S3Store, or a fake in tests).
        settings: concurrency, thumbnail spec, key templates.
        prefix: key prefix, already normalised.
        io_executor: threads for file reads, hashing and S3 calls.
        cpu_executor: threads for thumbnails.
        thumbnailer: makes a photo's thumbnail and preview (injectable for tests).
        journal: where each file's state is recorded, so a restart can finish the queue.
        destination: where the store sends files, as the journal names and keeps it.
        elsewhere: a store for where an earlier run's row was going (blocking; None when
            there is nothing to do there), to abort uploads left unfinished at another
            destination than today's.
        reopen: a store for a destination again (blocking). With it, the store of a
            destination the settings moved on from is closed once no file uses it, and
            opened again if a retry needs it; without it, stores stay open.
    """

    def __init__(
        self,
        store: ObjectStore,
        settings: EngineSettings,
        *,
        prefix: str,
        io_executor: Executor,
        cpu_executor: Executor,
        thumbnailer: Thumbnailer = make_derivatives,
        flush_interval: float = 1 / 30,
        journal: JournalRecorder | None = None,
        destination: Destination | None = None,
        elsewhere: StoreElsewhere | None = None,
        reopen: StoreOpener | None = None,
    ) -> None:
        self._elsewhere = elsewhere
        self._loop = asyncio.get_running_loop()
        self._jobs: dict[int, FileJob] = {}
        self._newest: dict[Path, FileJob] = {}  # the newest job of each absolute path
        self._ids = itertools.count(1)
        self._journal = PipelineJournal(journal, lambda: self._destinations.current)
        self._observers = Observers(self._loop, self._jobs, self._bucket_of, flush_interval)
        self._tools = PipelineTools(
            loop=self._loop,
            io=io_executor,
            cpu=cpu_executor,
            thumbnailer=thumbnailer,
            flights=SingleFlight(),
            journal=self._journal,
            observers=self._observers,
        )
        self._destinations = Destinations(self._tools, reopen, store, settings, prefix, destination)
        self._walks: set[asyncio.Task[None]] = set()
        self._rewrites: dict[int, asyncio.Task[None]] = {}  # item edits being saved
        self._closed = False
        self._scheduler: Scheduler[FileJob] = Scheduler(self._run_file, target=settings.concurrency)

    # -- observing -----------------------------------------------------------------

    def add_observer(self, observer: Observer) -> None:
        self._observers.add(observer)

    def add_status_observer(self, observer: StatusListener) -> None:
        """Hear of outages: once when one starts (and as its next try nears), once when it
        ends (see app.core.pipeline.health)."""
        self._destinations.add_status_observer(observer)

    def snapshot(self, file_id: int) -> FileSnapshot | None:
        job = self._jobs.get(file_id)
        return self._observers.snapshot(job) if job else None

    def snapshots(self) -> list[FileSnapshot]:
        return [self._observers.snapshot(job) for job in self._jobs.values()]

    @property
    def bucket(self) -> str:
        return self._context.store.bucket

    @property
    def _context(self) -> PipelineContext:
        """Where files starting now go."""
        return self._destinations.current

    @property
    def paused(self) -> bool:
        return self._scheduler.paused

    def warm_up(self) -> None:
        """Start learning what the destination holds (its listings), so the first files
        need not wait for them one after the other."""
        self._context.inventory.start()

    def reconfigure(
        self,
        store: ObjectStore,
        settings: EngineSettings,
        *,
        prefix: str,
        destination: Destination | None = None,
    ) -> None:
        """Send files started from now on with this store and these settings.

        Files already running finish where they started; a failed thumbnail is retried
        beside its original. Returns at once; the old store is closed once no file uses
        it (with `reopen`; see PipelineContext).
        """
        self._destinations.switch(store, settings, prefix, destination)
        self._scheduler.set_target(settings.concurrency)

    # -- feeding -------------------------------------------------------------------

    def add_paths(self, paths: Sequence[Path]) -> asyncio.Task[None]:
        """Walk files and folders in the background and queue what they hold."""
        walk = walk_into_queue(
            list(paths),
            self._tools,
            self._journal,
            lambda: self._context.destination_id,
            self.enqueue,
        )
        task = self._loop.create_task(walk, name="walk-paths")
        self._walks.add(task)
        task.add_done_callback(self._walk_done)
        return task

    def enqueue(
        self, entries: Iterable[WalkEntry], known: Mapping[Path, JournalRow] | None = None
    ) -> list[int]:
        """Queue walked entries; returns their file ids.

        `known` maps absolute paths to the journal's newest row for them at this
        destination (see PipelineJournal.link_known).
        """
        if self._closed:
            return []
        ids: list[int] = []
        for entry in entries:
            job = FileJob(next(self._ids), entry.path, problem=entry.problem, folder=entry.folder)
            self._journal.link_known(job, known)
            self._add_job(job)
            self._push(job)
            ids.append(job.file_id)
        return ids

    async def fates_of(
        self, paths: Sequence[Path]
    ) -> tuple[dict[Path, FileOutcome], dict[Path, JournalRow]]:
        """What is known of these absolute paths: the newest file of this queue for each
        (its outcome), and for the others the journal's newest row at the destination
        files go to now (see app.core.watch.decide)."""
        held = {p: self._newest[p].outcome for p in paths if p in self._newest}
        rest = [p for p in paths if p not in held]
        rows = await self._journal.known(rest, self._context.destination_id) if rest else {}
        return held, rows

    def restore(self, rows: Iterable[JournalRow]) -> list[int]:
        """Show files from an earlier run again (see Journal.queue): unfinished ones are
        queued and finished (an upload cut off is checked and redone cleanly, see
        app.core.pipeline.resume); finished ones come back as they ended, so failed ones
        can be retried. Returns their new file ids."""
        if self._closed:
            return []
        ids: list[int] = []
        left_elsewhere: dict[str, list[JournalRow]] = {}
        for row in rows:
            if self._journal.stands_for(row.row_id):
                continue
            if needs_abort_elsewhere(row, self._context.destination_id):
                left_elsewhere.setdefault(row.destination, []).append(row)
            job = FileJob.from_row(next(self._ids), row)
            self._journal.file_in(job)
            self._add_job(job)
            here = row.destination == self._context.destination_id
            if row.state.is_final:
                if here:
                    job.in_bucket_as_recorded(row)
                self._observers.changed(job)
            else:
                if here:
                    job.journal.resume = row
                self._push(job)
            ids.append(job.file_id)
        if self._elsewhere is not None:
            for destination_id, cut_off in left_elsewhere.items():
                self._tools.spawn(
                    abort_elsewhere(self._tools, self._elsewhere, cut_off),
                    name=f"abort-elsewhere {destination_id}",
                )
        return ids

    def retry_failed(self) -> list[int]:
        """Re-queue what failed and a retry may mend (app.core.policy.needs_retry): failed
        files, failed thumbnails, index entries that could not be written. Only what
        failed is redone."""
        return self.retry(job.file_id for job in self._jobs.values() if needs_retry(job.outcome))

    def retry(self, file_ids: Iterable[int]) -> list[int]:
        """Re-queue these files where a retry does something (policy.is_retryable)."""
        ids: list[int] = []
        self._context.health.unblock()  # the collector may have fixed what blocked it
        for file_id in file_ids:
            job = self._jobs.get(file_id)
            if job is None or job.running or not is_retryable(job.outcome):
                continue
            if job.context is not None:
                job.context.health.unblock()
            job.requeue()
            self._push(job)
            ids.append(file_id)
        return ids

    def edit_items(self, file_ids: Iterable[int], changes: Mapping[str, object]) -> list[int]:
        """Set item fields (app.core.models.ITEM_FIELDS) of these files. A photo in the
        bucket has its sidecar rewritten (its keys stay); one on its way takes the item
        with it. Returns the ids changed. Raises ValueError for a field that is none."""
        ids: list[int] = []
        for file_id in file_ids:
            job = self._jobs.get(file_id)
            if job is None or not takes_item(job.outcome):
                continue
            job.give_item(
                item_of(job, job.context or self._context).changed(changes), dict(changes)
            )
            if job.journal.resume is None and not job.state.is_final:
                self._journal.post(job)  # (a file still queued takes it along after a restart)
            self._observers.changed(job)
            ids.append(file_id)
            if file_id not in self._rewrites:
                self._rewrites[file_id] = self._tools.spawn(
                    self._rewrite_item(job), name=f"item-{file_id}"
                )
        return ids

    async def _rewrite_item(self, job: FileJob) -> None:
        """Once the file is through (it may be on its way), its sidecar gets the item."""
        try:
            if job.task is not None:
                await asyncio.wait([job.task])
            in_bucket = job.state in (FileState.UPLOADED, FileState.DUPLICATE)
            # (A row an earlier run finished here has no context yet: today's.)
            context = job.context or (self._context if job.outcome.original_in_bucket else None)
            if not in_bucket or context is None or job.outcome.key is None:
                return  # (a file still to be sent carries the item with it)
            job.context = context
            await self._destinations.use(context)
            try:
                await rewrite_item_stage(job, self._tools)
            finally:
                self._destinations.release(context)
            self._observers.changed(job)
        finally:
            self._rewrites.pop(job.file_id, None)

    def cancel(self, file_ids: Iterable[int]) -> list[int]:
        """Stop files that have not finished; returns the ids that were stopped."""
        ids: list[int] = []
        for file_id in file_ids:
            job = self._jobs.get(file_id)
            if job is None or job.state.is_final:
                continue
            job.cancel_event.set()
            if job.task is not None:
                job.task.cancel()
            else:
                self._scheduler.drop(job)
                job.finish(FileState.CANCELLED)
                self._tools.finished(job)
            ids.append(file_id)
        return ids

    def remove(self, file_ids: Iterable[int]) -> list[int]:
        """Forget files (cancelling any still running); returns the ids removed."""
        ids = list(file_ids)
        self.cancel(ids)
        for file_id in ids:  # the journal keeps them as history, out of the next queue
            job = self._jobs.get(file_id)
            if job is not None:
                self._journal.let_go(job)
        removed = [job for i in ids if (job := self._jobs.pop(i, None)) is not None]
        for job in removed:
            path = self._path_of(job)
            if self._newest.get(path) is job:
                del self._newest[path]
        return [job.file_id for job in removed]

    def pause(self) -> None:
        """Start no new files; those already running finish."""
        self._scheduler.pause()

    def resume(self) -> None:
        self._scheduler.resume()

    async def wait_idle(self) -> None:
        """Wait until every queued file has a final state, every clean-up is done and
        observers have seen it all."""
        while True:
            await self._scheduler.wait_idle()
            pending = [*self._walks, *self._tools.side_tasks]
            if not pending:
                break
            await asyncio.gather(*pending, return_exceptions=True)
        self._observers.flush_now()

    async def aclose(self) -> None:
        """Cancel everything and stop the workers. The executors belong to the caller."""
        if self._closed:
            return
        self._closed = True
        self._journal.closing = True  # files stopped by a quit stay unfinished there
        for task in list(self._walks):
            task.cancel()
        self.cancel(list(self._jobs))
        await asyncio.gather(self._scheduler.aclose(), *self._walks, return_exceptions=True)
        side = list(self._tools.side_tasks)
        if side:  # clean-ups of cancelled uploads: a moment, not forever
            _done, late = await asyncio.wait(side, timeout=SIDE_TASK_GRACE)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._destinations.aclose()
        self._observers.close()

    # -- internals -----------------------------------------------------------------

    def open_stores(self) -> list[ObjectStore]:
        """Stores not closed yet: the caller closes them after aclose()."""
        return self._destinations.open_stores()

    def _add_job(self, job: FileJob) -> None:
        self._jobs[job.file_id] = job
        self._newest[self._path_of(job)] = job

    @staticmethod
    def _path_of(job: FileJob) -> Path:
        return job.journal.path or absolute(job.path)

    def _bucket_of(self, job: FileJob) -> str:
        return (job.context or self._context).store.bucket

    def _push(self, job: FileJob) -> None:
        self._scheduler.push(job)
        resume = job.journal.resume
        if resume is None or resume.row_id != job.journal.row_id:
            self._journal.post(job)  # (a row being resumed keeps what it knows until then)
        self._observers.changed(job)

    def _walk_done(self, task: asyncio.Task[None]) -> None:
        self._walks.discard(task)

    async def _run_file(self, job: FileJob) -> None:
        """One file through its stages, as a task of its own so that it can be cancelled
        without stopping the worker that runs it."""
        if job.file_id not in self._jobs:
            return
        job.start()
        job.task = self._loop.create_task(self._process(job), name=f"file-{job.file_id}")
        try:
            await job.task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the worker itself is being stopped
        finally:
            job.task = None

    async def _process(self, job: FileJob) -> None:
        if not job.outcome.original_in_bucket and job.context is not self._context:
            # Nothing of it is in a bucket yet: it goes where settings now say, with keys
            # made afresh for the new prefix and template.
            job.context = self._context
            job.forget_hash()
        context = job.context = job.context or self._context

        async def prepare() -> None:
            await self._destinations.use(context)
            if job.cleanup is not None:  # a cancelled upload of it is still being taken back
                await asyncio.shield(job.cleanup)
                job.cleanup = None

        try:
            await process_file(job, self._tools, prepare)
        finally:
            self._destinations.release(context)
            if job.flight is not None:
                self._land_flight(job)

    def _land_flight(self, job: FileJob) -> None:
        """Tell files waiting for this content where it went (None: they must send it),
        once a cancelled upload of it is taken back: they may use the same key."""
        flight, job.flight = job.flight, None
        assert flight is not None
        entry = job.entry if job.outcome.original_in_bucket else None
        if job.cleanup is None or job.cleanup.done():
            self._tools.flights.land(flight, entry)
        else:
            job.cleanup.add_done_callback(lambda _t: self._tools.flights.land(flight, entry))
