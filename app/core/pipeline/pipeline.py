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
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path

from app.core.config import Destination, EngineSettings
from app.core.errors import StoreError
from app.core.journal import JournalRecorder, JournalRow, destination_identity
from app.core.models import FileSnapshot, FileState, OutageStatus
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.health import DestinationHealth, StatusListener
from app.core.pipeline.job import FileJob
from app.core.pipeline.journaling import PipelineJournal, absolute
from app.core.pipeline.observe import Observer, Observers
from app.core.pipeline.resume import (
    StoreElsewhere,
    abort_elsewhere,
    needs_abort_elsewhere,
    resume_stage,
)
from app.core.pipeline.scheduler import Scheduler
from app.core.pipeline.singleflight import SingleFlight
from app.core.pipeline.stages import (
    duplicate_stage,
    hash_stage,
    record_stage,
    retry_thumbnail_stage,
    thumbnail_stage,
    upload_original_stage,
    upload_thumbnail_stage,
)
from app.core.pipeline.tools import PipelineTools, Thumbnailer
from app.core.policy import is_retryable, needs_retry
from app.core.store import ObjectStore
from app.core.thumbnails import make_thumbnail
from app.core.walker import WalkEntry, walk_paths_in_batches

log = logging.getLogger(__name__)

StoreOpener = Callable[[Destination], ObjectStore]
SIDE_TASK_GRACE = 2.0  # seconds closing waits for clean-ups of cancelled uploads


class UploadPipeline:
    """Runs queued files through the stages, `settings.concurrency` at a time.

    Args:
        store: the bucket (S3Store, or a fake in tests).
        settings: concurrency, thumbnail spec, key templates.
        prefix: key prefix, already normalised.
        io_executor: threads for file reads, hashing and S3 calls.
        cpu_executor: threads for thumbnails.
        thumbnailer: makes thumbnail bytes from a path (injectable for tests).
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
        thumbnailer: Thumbnailer = make_thumbnail,
        flush_interval: float = 1 / 30,
        journal: JournalRecorder | None = None,
        destination: Destination | None = None,
        elsewhere: StoreElsewhere | None = None,
        reopen: StoreOpener | None = None,
    ) -> None:
        self._reopen = reopen
        self._status_observers: list[StatusListener] = []
        self._contexts: list[PipelineContext] = []
        self._context = self._new_context(store, settings, prefix, destination)
        self._elsewhere = elsewhere
        self._loop = asyncio.get_running_loop()
        self._jobs: dict[int, FileJob] = {}
        self._ids = itertools.count(1)
        self._journal = PipelineJournal(journal, lambda: self._context)
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
        self._walks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._scheduler: Scheduler[FileJob] = Scheduler(self._run_file, target=settings.concurrency)

    # -- observing -----------------------------------------------------------------

    def add_observer(self, observer: Observer) -> None:
        self._observers.add(observer)

    def add_status_observer(self, observer: StatusListener) -> None:
        """Hear of outages: once when one starts (and as its next try nears), once when it
        ends (see app.core.pipeline.health)."""
        self._status_observers.append(observer)

    def snapshot(self, file_id: int) -> FileSnapshot | None:
        job = self._jobs.get(file_id)
        return self._observers.snapshot(job) if job else None

    def snapshots(self) -> list[FileSnapshot]:
        return [self._observers.snapshot(job) for job in self._jobs.values()]

    @property
    def bucket(self) -> str:
        return self._context.store.bucket

    @property
    def context(self) -> PipelineContext:
        return self._context

    @property
    def paused(self) -> bool:
        return self._scheduler.paused

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
        old, self._context = self._context, self._new_context(store, settings, prefix, destination)
        old.retired = True
        self._maybe_close_store(old)
        self._scheduler.set_target(settings.concurrency)

    # -- feeding -------------------------------------------------------------------

    def add_paths(self, paths: Sequence[Path]) -> asyncio.Task[None]:
        """Walk files and folders in the background and queue what they hold."""
        task = self._loop.create_task(self._walk(list(paths)), name="walk-paths")
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
            job = FileJob(next(self._ids), entry.path, problem=entry.problem)
            self._journal.link_known(job, known)
            self._jobs[job.file_id] = job
            self._push(job)
            ids.append(job.file_id)
        return ids

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
            self._jobs[job.file_id] = job
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
        return [i for i in ids if self._jobs.pop(i, None) is not None]

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
        for context in self._contexts:
            await context.health.aclose()
        self._observers.close()

    # -- internals -----------------------------------------------------------------

    def open_stores(self) -> list[ObjectStore]:
        """Stores not closed yet: the caller closes them after aclose()."""
        return [c.store for c in self._contexts if c.store_open]

    def _maybe_close_store(self, context: PipelineContext) -> None:
        if not (context.retired and context.active == 0 and context.store_open):
            return
        if self._reopen is None or context.destination is None:
            return  # it could not be opened again: it stays open until the end
        context.store_open = False
        self._tools.spawn(self._tools.run_io(context.store.close), name="close-retired-store")

    async def _use_store(self, context: PipelineContext) -> None:
        """Open a retired destination's store again for a file that needs it."""
        if context.store_open:
            return
        assert self._reopen is not None and context.destination is not None
        context.store = await self._tools.run_io(self._reopen, context.destination)
        context.store_open = True

    def _new_context(
        self,
        store: ObjectStore,
        settings: EngineSettings,
        prefix: str,
        destination: Destination | None,
    ) -> PipelineContext:
        def probe() -> Awaitable[None]:  # whatever store the context has by then
            return self._tools.run_io(context.store.probe)

        health = DestinationHealth(settings.retry, probe, self._tell_status)
        if destination is None:
            context = PipelineContext(store, settings, prefix, health=health)
        else:
            context = PipelineContext(
                store,
                settings,
                prefix,
                destination_identity(destination),
                destination.spec(),
                health=health,
                destination=destination,
            )
        self._contexts.append(context)
        return context

    def _tell_status(self, status: OutageStatus) -> None:
        for observer in list(self._status_observers):
            try:
                observer(status)
            except Exception:
                log.exception("an observer of the destination's status failed: %r", observer)

    def _bucket_of(self, job: FileJob) -> str:
        return (job.context or self._context).store.bucket

    def _push(self, job: FileJob) -> None:
        self._scheduler.push(job)
        resume = job.journal.resume
        if resume is None or resume.row_id != job.journal.row_id:
            self._journal.post(job)  # (a row being resumed keeps what it knows until then)
        self._observers.changed(job)

    async def _walk(self, paths: list[Path]) -> None:
        """Queue what `paths` hold, batch by batch. A walk that breaks off says so: each
        path it had not finished comes into the queue as a failed entry with the reason,
        so part of a drop is never left out in silence."""
        reached = 0  # paths[:reached] are walked to the end
        try:
            async for batch in walk_paths_in_batches(paths, self._tools.io):
                wanted = [absolute(e.path) for e in batch if not e.problem]
                known = await self._journal.known(wanted, self._context.destination_id)
                self.enqueue(batch, known)
                reached = _root_of(paths, batch[-1].path, reached)
        except Exception as exc:
            log.error("walking %d dropped path(s) broke off", len(paths), exc_info=exc)
            reason = walk_incomplete(exc)
            self.enqueue(WalkEntry(path, reason) for path in paths[reached:])

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
        tools = self._tools
        outcome = job.outcome
        if not outcome.original_in_bucket and job.context is not self._context:
            # Nothing of it is in a bucket yet: it goes where settings now say, with keys
            # made afresh for the new prefix and template.
            job.context = self._context
            job.forget_hash()
        context = job.context = job.context or self._context
        context.active += 1
        try:
            await self._use_store(context)
            if job.cleanup is not None:  # a cancelled upload of it is still being taken back
                await asyncio.shield(job.cleanup)
                job.cleanup = None
            if job.problem:
                job.reject(job.problem)
                tools.finished(job)
                return
            if job.journal.resume is not None and await resume_stage(job, tools):
                return
            if not outcome.original_in_bucket:
                if not await hash_stage(job, tools):
                    return
                if await duplicate_stage(job, tools):
                    return
                if job.thumbnail_bytes is None:
                    await thumbnail_stage(job, tools)
                await self._journal.before_upload(job)
                await upload_original_stage(job, tools)
                self._journal.post(job)  # the original is in: a restart must not resend it
            elif job.thumbnail_bytes is None and not outcome.thumbnail_in_bucket:
                await retry_thumbnail_stage(job, tools)
            if job.thumbnail_bytes is not None and not outcome.thumbnail_in_bucket:
                await upload_thumbnail_stage(job, tools)
            await record_stage(job, tools)
            job.finish(FileState.UPLOADED)
            tools.finished(job)
        except StoreError as exc:
            job.fail(str(exc))
            tools.finished(job)
        except asyncio.CancelledError:
            job.finish(FileState.CANCELLED)
            tools.finished(job)
            raise
        except Exception as exc:  # a bug must not take the batch down
            log.exception("unexpected failure for %s", job.path)
            if not job.state.is_final:
                job.fail(f"Unexpected error: {type(exc).__name__}: {exc}")
                tools.finished(job)
        finally:
            context.active -= 1
            self._maybe_close_store(context)
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


def walk_incomplete(exc: Exception) -> str:
    return (
        "Not all of it could be queued: going through it stopped on an unexpected error "
        f"({type(exc).__name__}: {exc}). Add it again to queue the rest; what is in the "
        "bucket already is not sent twice."
    )


def _root_of(paths: list[Path], entry: Path, start: int) -> int:
    """The index of the path (at `start` or later) that `entry` was found under: the
    walk goes through them in order."""
    for index in range(start, len(paths)):
        if entry == paths[index] or entry.is_relative_to(paths[index]):
            return index
    return start
