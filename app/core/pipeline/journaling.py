"""The pipeline's side of the journal: a row per state change, a write-ahead where it
matters, and which rows this pipeline's files stand for."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from app.core.journal import JournalRecorder, JournalRow
from app.core.models import FileState, outcome_values
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.job import FileJob
from app.core.store import MULTIPART_THRESHOLD

WRITE_AHEAD_TIMEOUT = 2.0  # seconds a multipart upload waits for the journal at most


class PipelineJournal:
    """Files to journal rows. Without a recorder (tests, a journal that failed to open)
    every method does nothing.

    Rows are derived from each job's `FileOutcome`: the outcome's fields, the absolute
    path it is filed under, and where it is going. Not while closing: files stopped by a
    quit stay unfinished in the journal, so the next start finishes them.
    """

    def __init__(
        self, recorder: JournalRecorder | None, current: Callable[[], PipelineContext]
    ) -> None:
        self._recorder = recorder
        self._current = current  # where files not started yet will go
        self._row_ids: set[int] = set()  # rows that files of this pipeline stand for
        self.closing = False

    @property
    def enabled(self) -> bool:
        return self._recorder is not None and self._recorder.enabled

    def stands_for(self, row_id: int) -> bool:
        """A file of this pipeline already stands for this row."""
        return row_id in self._row_ids

    def file_in(self, job: FileJob) -> None:
        """Give a new job its row (or take the one it resumes)."""
        if self._recorder is None:
            return
        if not job.journal.row_id:
            job.journal.row_id = self._recorder.row_id(job.file_id)
        self._row_ids.add(job.journal.row_id)

    def let_go(self, job: FileJob) -> None:
        """The file is out of the queue (removed): its row stays as history."""
        job.journal.dismissed = True
        self.post(job)
        self._row_ids.discard(job.journal.row_id)

    def post(self, job: FileJob, *, state: FileState | None = None) -> None:
        """Hand the file's current state to the journal (written within ~100 ms)."""
        recorder = self._recorder
        link = job.journal
        if recorder is None or self.closing or not link.row_id:
            return
        last = link.last_row
        outcome = job.outcome
        if link.dismissed and last is not None and last.state is job.state and job.state.is_final:
            row = replace(last, dismissed=True)  # as it ended, out of the queue
        else:
            context = job.context or self._current()
            values = outcome_values(outcome)
            values["path"] = link.path or outcome.path
            if state is not None:
                values["state"] = state
            row = JournalRow(
                **values,
                row_id=link.row_id,
                destination=context.destination_id,
                destination_spec=context.destination_spec,
                bucket=context.store.bucket,
                queued_at=link.queued_at,
                updated_at=time.time(),
                dismissed=link.dismissed,
            )
        link.last_row = row
        recorder.post(row)

    async def before_upload(self, job: FileJob) -> None:
        """Write ahead for a multipart upload: the journal holds its key and state before
        the upload starts (its UploadId follows once the server gives one: `write_ahead`),
        so after a crash the next start knows the file was on its way. A smaller file goes
        up in one request, which leaves nothing behind, so it does not wait. A journal
        that is slow to answer is not waited for long."""
        recorder = self._recorder
        if (
            recorder is None
            or not recorder.enabled
            or (job.outcome.size or 0) < MULTIPART_THRESHOLD
        ):
            return
        self.post(job, state=FileState.UPLOADING)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(recorder.flush(), WRITE_AHEAD_TIMEOUT)

    async def write_ahead(self, job: FileJob) -> None:
        """Post the file's row and wait (not long) until it is written: for what a crash
        right after must find (a multipart upload's UploadId)."""
        recorder = self._recorder
        if recorder is None or not recorder.enabled:
            return
        self.post(job)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(recorder.flush(), WRITE_AHEAD_TIMEOUT)

    async def known(self, paths: Iterable[Path], destination_id: str) -> dict[Path, JournalRow]:
        """The journal's newest row for each absolute path at that destination."""
        if self._recorder is None or not self._recorder.enabled:
            return {}
        return await self._recorder.latest(paths, destination_id)

    def link_known(self, job: FileJob, known: Mapping[Path, JournalRow] | None) -> None:
        """A new job for a path the journal knows: a file an earlier run was still sending
        is resumed (its row is finished by this job), and one it uploaded may be a
        duplicate without reading it again (see app.core.pipeline.resume)."""
        link = job.journal
        link.path = absolute(job.path)
        link.queued_at = time.time()
        row = known.get(link.path) if known and not job.problem else None
        if row is not None and not self.stands_for(row.row_id):
            if not row.state.is_final:
                link.row_id, link.queued_at, link.resume = row.row_id, row.queued_at, row
            elif row.state in (FileState.UPLOADED, FileState.DUPLICATE):
                link.resume = row
        self.file_in(job)


def absolute(path: Path) -> Path:
    """The path the journal files a file under (walked paths are mostly absolute already)."""
    return path if path.is_absolute() else Path(os.path.abspath(path))
