"""One file's job: who it is, what its stages found, and one state machine.

The job's state changes only through its transition methods, and each refuses what the
state does not allow (TransitionError, a bug in the caller): starting a file that is
running or finished, retrying one that is queued or running, finishing one twice. Stage
results go into its `FileOutcome` through named methods too, so what a stage may change
is written down once, here.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path

from app.core.formats import ALL_FORMATS
from app.core.journal import JournalRow
from app.core.models import (
    FileOutcome,
    FileSnapshot,
    FileState,
    ImageFormat,
    Item,
    ThumbnailState,
)
from app.core.photofacts import PhotoFacts
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.singleflight import FlightKey
from app.core.store import IndexEntry

CANCELLED_NOTICE = "Cancelled."
# One lock for every job's byte count (transfer threads add to it): a lock per job made
# 10,000 more objects for the garbage collector to walk, for no gain.
_PROGRESS_LOCK = threading.Lock()


class CancelFlag:
    """Set once a file is cancelled; the reading thread looks at it between chunks. (One
    small object: a threading.Event per file is four, and 10,000 files make full
    collections, which hold up the loop, longer.)"""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


class TransitionError(RuntimeError):
    """A state change the job's state does not allow."""


@dataclass(slots=True)
class JournalLink:
    """The job as the journal knows it: its row, the absolute path it is filed under,
    what an earlier run left to resume from, and the last row written."""

    row_id: int = 0
    path: Path | None = None
    queued_at: float = 0.0
    dismissed: bool = False
    resume: JournalRow | None = None
    last_row: JournalRow | None = None


class FileJob:
    """One file's way through the pipeline.

    Attributes:
        file_id: the pipeline's number for it (observers key rows by it).
        problem: why the walk could not offer it (it then fails at once), or None.
        outcome: state and stage results (read it; change it through the methods).
        fmt: the image format its content was recognised as.
        entry: where its content lives once it is in the bucket.
        thumbnail_bytes: the thumbnail made, until it is in the bucket and delivered.
        notice: a passing remark for the queue ("retrying (2/5): ...").
        context: where it is being sent (set when it starts; kept for a retry once its
            original is in a bucket, so the thumbnail lands beside it).
        flight: the single flight it leads, if any.
        journal: its link to the journal.
        cleanup: what makes sure a cancelled upload of it does not land (see
            app.core.pipeline.stages); a retry waits for it.
    """

    __slots__ = (
        "_running",
        "bytes_sent",
        "cancel_event",
        "cleanup",
        "context",
        "duplicate",
        "entry",
        "facts",
        "file_id",
        "flight",
        "fmt",
        "item",
        "item_changes",
        "item_given",
        "journal",
        "notice",
        "outcome",
        "preview_bytes",
        "problem",
        "sidecar_item",
        "task",
        "thumbnail_bytes",
    )

    def __init__(
        self, file_id: int, path: Path, *, problem: str | None = None, folder: str | None = None
    ) -> None:
        self.file_id = file_id
        self.problem = problem
        self.outcome = FileOutcome(path=path, folder=folder)
        self.fmt: ImageFormat | None = None
        self.entry: IndexEntry | None = None
        self.thumbnail_bytes: bytes | None = None
        self.preview_bytes: bytes | None = None  # the display preview, until it is sent
        self.facts: PhotoFacts | None = None  # read once, for keys that need them and the sidecar
        self.item: Item | None = None  # set once keyed, or by the collector (see stages.item_of)
        self.item_given = False  # the collector set it: it stays whatever the settings say
        self.item_changes: dict[str, object] = {}  # the fields the collector changed
        self.sidecar_item: Item | None = None  # the item its sidecar in the bucket names
        self.notice: str | None = None
        self.context: PipelineContext | None = None
        self.flight: FlightKey | None = None
        self.journal = JournalLink()
        self.cancel_event = CancelFlag()
        self.task: asyncio.Task[None] | None = None
        self.cleanup: asyncio.Task[None] | None = None  # after a cancelled upload
        self.bytes_sent = 0
        self.duplicate = False  # its content was in the bucket before it came
        self._running = False

    @classmethod
    def from_row(cls, file_id: int, row: JournalRow) -> FileJob:
        """A job for a file an earlier run left in the journal: finished as it ended, or
        queued to be finished (its stage results then come from `journal.resume`)."""
        job = cls(file_id, row.path)
        job.journal = JournalLink(row.row_id, row.path, row.queued_at, last_row=row)
        given = Item.from_text(row.given_item) if row.given_item else None
        if given is not None:
            job.give_item(given)
        if row.state.is_final:
            job.take_results(row)
            job.duplicate = row.state is FileState.DUPLICATE
            job.outcome.state, job.outcome.thumbnail_state = row.state, row.thumbnail_state
            job.outcome.error, job.outcome.thumbnail_error = row.error, row.thumbnail_error
        else:
            job.outcome.size = row.size
        return job

    # -- reading -------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self.outcome.path

    @property
    def state(self) -> FileState:
        return self.outcome.state

    @property
    def running(self) -> bool:
        """A worker has it (from `start` to `finish`)."""
        return self._running

    def snapshot(self, bucket: str | None) -> FileSnapshot:
        with _PROGRESS_LOCK:
            sent = self.bytes_sent
        return self.outcome.snapshot(
            self.file_id,
            bytes_sent=sent,
            notice=self.notice,
            bucket=bucket,
            thumbnail_jpeg=self.thumbnail_bytes,
            item=self.item,
        )

    # -- transitions ---------------------------------------------------------------

    def start(self) -> None:
        """A worker takes the job: only a queued job that nobody runs."""
        if self._running or self.state is not FileState.QUEUED:
            raise TransitionError(f"file {self.file_id} cannot start: {self._describe()}")
        self._running = True

    def enter(self, state: FileState) -> None:
        """Move to a stage (hashing, checking, thumbnailing, uploading)."""
        if not self._running or not state.is_active:
            raise TransitionError(f"file {self.file_id} cannot enter {state.value}")
        self.outcome.state = state

    def finish(self, state: FileState) -> None:
        """End the job in a final state: from a stage, or straight from the queue (a file
        rejected at intake, or cancelled before it started)."""
        if not state.is_final or self.state.is_final:
            raise TransitionError(f"file {self.file_id} cannot finish as {state.value}")
        self.outcome.state = state
        self._running = False
        if state is FileState.CANCELLED:
            self.notice = CANCELLED_NOTICE
            if self.outcome.thumbnail_state is ThumbnailState.PENDING:
                self.outcome.thumbnail_state = ThumbnailState.SKIPPED

    def requeue(self) -> None:
        """Queue a finished job again (Retry): what failed is redone, what worked is kept."""
        if self._running or not self.state.is_final:
            raise TransitionError(f"file {self.file_id} cannot be retried: {self._describe()}")
        outcome = self.outcome
        outcome.state = FileState.QUEUED
        outcome.error = None
        outcome.unusable = False
        self.notice = None
        self.cancel_event = CancelFlag()
        if outcome.thumbnail_state is ThumbnailState.FAILED:
            outcome.thumbnail_state = ThumbnailState.PENDING
            outcome.thumbnail_error = None

    def _describe(self) -> str:
        return f"it is {'running' if self._running else self.state.value}"

    # -- stage results -------------------------------------------------------------

    def reject(self, reason: str, *, unusable: bool = False) -> None:
        """Fail at intake: nothing uploaded, thumbnail skipped. `unusable`: because of
        what the file holds (empty, not an image), which only a changed file mends."""
        self.outcome.error = reason
        self.outcome.unusable = unusable
        self.outcome.thumbnail_state = ThumbnailState.SKIPPED
        self.finish(FileState.FAILED)

    def fail(self, reason: str) -> None:
        """Fail in a stage; a thumbnail never made is skipped unless its original is in."""
        self.outcome.error = reason
        if (
            not self.outcome.original_in_bucket
            and self.outcome.thumbnail_state is ThumbnailState.PENDING
        ):
            self.outcome.thumbnail_state = ThumbnailState.SKIPPED
        self.finish(FileState.FAILED)

    def hashed(self, size: int, mtime_ns: int) -> None:
        """The file was read: its size and mtime (its content is not known to be a photo)."""
        self.outcome.size, self.outcome.mtime_ns = size, mtime_ns
        self.thumbnail_bytes = self.preview_bytes = None
        self.duplicate = False  # read afresh: what the bucket holds is asked again

    def recognised(self, sha256: str, fmt: ImageFormat) -> None:
        """Its content is a photo of this format, with this hash."""
        self.outcome.sha256, self.outcome.content_type = sha256, fmt.content_type
        self.fmt = fmt
        self.facts = None  # read again for this content when needed, never an older one's

    def keyed(self, key: str, thumbnail_key: str, preview_key: str | None = None) -> None:
        self.outcome.key, self.outcome.thumbnail_key = key, thumbnail_key
        self.outcome.preview_key = preview_key

    def forget_hash(self) -> None:
        """Its keys are to be made afresh (it will go to another destination)."""
        self.outcome.sha256 = None
        self.thumbnail_bytes = self.preview_bytes = None
        self.duplicate = False
        if not self.item_given:
            self.item = None  # the new settings' item, then

    def give_item(self, item: Item, changes: dict[str, object] | None = None) -> None:
        """The collector says which item it belongs to (the window's Edit item), having
        changed these fields (a sidecar already in the bucket gets only those)."""
        self.item, self.item_given = item, True
        self.item_changes.update(changes or {})
        self.outcome.given_item = item.to_text()

    def found_in_bucket(self, entry: IndexEntry) -> None:
        """Its content is in the bucket already (a duplicate): nothing more to send."""
        self.entry = entry
        self.duplicate = True
        self.outcome.key, self.outcome.thumbnail_key = entry.key, entry.thumbnail_key
        self.outcome.thumbnail_in_bucket = entry.thumbnail_key is not None  # (as the index says)
        self.outcome.preview_key = entry.preview_key
        self.outcome.preview_in_bucket = entry.preview_key is not None
        self.outcome.content_type = entry.content_type  # as the bucket holds it
        self.outcome.thumbnail_state = ThumbnailState.SKIPPED
        self.outcome.original_in_bucket = True
        self.notice = f"Already in the bucket as {entry.key}"

    def thumbnail_pending(self) -> None:
        self.outcome.thumbnail_state = ThumbnailState.PENDING

    def thumbnail_made(self, data: bytes, preview: bytes | None = None) -> None:
        self.thumbnail_bytes = data
        self.preview_bytes = preview

    def preview_landed(self) -> None:
        self.outcome.preview_in_bucket = True
        self.preview_bytes = None

    def thumbnail_failed(self, reason: str) -> None:
        self.outcome.thumbnail_state = ThumbnailState.FAILED
        self.outcome.thumbnail_error = reason

    def original_landed(self) -> None:
        self.outcome.original_in_bucket = True

    def thumbnail_landed(self) -> None:
        self.outcome.thumbnail_in_bucket = True
        self.outcome.thumbnail_state = ThumbnailState.GENERATED

    def sidecar_failed(self, metadata_key: str) -> None:
        """Its sidecar, meant for `metadata_key`, could not be written (Retry writes it
        whole: what the one in the bucket names, if any, is not known)."""
        self.outcome.metadata_key, self.outcome.metadata_in_bucket = metadata_key, False
        self.sidecar_item = None

    def described(self, metadata_key: str, item: Item | None = None) -> None:
        """Its metadata sidecar is in the bucket, naming `item` (None: not known)."""
        self.outcome.metadata_key, self.outcome.metadata_in_bucket = metadata_key, True
        self.sidecar_item = item

    def indexed(self, entry: IndexEntry, *, written: bool) -> None:
        self.entry = entry
        self.outcome.index_in_bucket = written

    def take_results(self, row: JournalRow) -> None:
        """Stage results the journal kept (hash, keys, type), as if the stages had run."""
        outcome = self.outcome
        outcome.size, outcome.mtime_ns, outcome.sha256 = row.size, row.mtime_ns, row.sha256
        outcome.content_type = row.content_type
        outcome.key, outcome.thumbnail_key = row.key, row.thumbnail_key
        outcome.folder, outcome.metadata_key = row.folder, row.metadata_key
        outcome.preview_key = row.preview_key
        self.fmt = format_for(row.content_type)

    def resumed_as_duplicate(self, row: JournalRow) -> None:
        """An earlier run uploaded it, the file is unchanged and the object still there."""
        self.take_results(row)
        self.duplicate = True
        if row.state is FileState.UPLOADED and not row.thumbnail_in_bucket:
            self.outcome.thumbnail_key = None  # as the index says: no thumbnail to point to
        self.outcome.original_in_bucket = True
        self.outcome.metadata_in_bucket = row.metadata_in_bucket  # (its sidecar as it was)
        self.outcome.thumbnail_state = ThumbnailState.SKIPPED
        self.notice = f"Already in the bucket as {row.key}"

    def resumed_with_original(self, row: JournalRow) -> None:
        """An earlier run was cut off after its original (and maybe thumbnail) arrived."""
        self.take_results(row)
        self.outcome.original_in_bucket = True
        if row.thumbnail_in_bucket:
            self.thumbnail_landed()
        if row.metadata_in_bucket and row.metadata_key:
            self.described(row.metadata_key)
        self.outcome.preview_in_bucket = row.preview_in_bucket

    def resumed_in_parts(self, row: JournalRow) -> None:
        """An earlier run was cut off while sending the original in parts: the file is
        unchanged, so its hash and keys hold, and its upload may carry on."""
        self.take_results(row)
        self.outcome.upload_id, self.outcome.parts = row.upload_id, row.parts

    def multipart_started(self, upload_id: str) -> None:
        self.outcome.upload_id, self.outcome.parts = upload_id, None

    def part_stored(self, parts_text: str) -> None:
        self.outcome.parts = parts_text

    def multipart_ended(self) -> None:
        """Completed or aborted: nothing left on the server to carry on from."""
        self.outcome.upload_id = self.outcome.parts = None

    def in_bucket_as_recorded(self, row: JournalRow) -> None:
        """What the row says is in the bucket (it is for this job's destination)."""
        self.outcome.original_in_bucket = row.original_in_bucket
        self.outcome.thumbnail_in_bucket = row.thumbnail_in_bucket
        self.outcome.index_in_bucket = row.index_in_bucket
        self.outcome.metadata_in_bucket = row.metadata_in_bucket
        self.outcome.preview_in_bucket = row.preview_in_bucket

    # -- progress (from transfer threads) ------------------------------------------

    def add_progress(self, n: int) -> None:
        with _PROGRESS_LOCK:
            self.bytes_sent = max(0, self.bytes_sent + n)

    def reset_progress(self) -> None:
        with _PROGRESS_LOCK:
            self.bytes_sent = 0


_FORMATS_BY_TYPE = {fmt.content_type: fmt for fmt in ALL_FORMATS}


def format_for(content_type: str | None) -> ImageFormat | None:
    return _FORMATS_BY_TYPE.get(content_type or "")
