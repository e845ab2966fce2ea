"""One file's record in the pipeline: its state and the results of each stage."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path

from app.core.formats import ALL_FORMATS
from app.core.journal import JournalRow
from app.core.models import FileState, ImageFormat, ThumbnailState
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.singleflight import FlightKey
from app.core.store import IndexEntry


@dataclass(eq=False)
class _FileRecord:
    """One file's state and the results of each stage, kept so a retry redoes only what failed."""

    file_id: int
    path: Path
    problem: str | None = None
    state: FileState = FileState.QUEUED
    size: int | None = None
    mtime_ns: int | None = None
    sha256: str | None = None
    fmt: ImageFormat | None = None
    key: str | None = None
    thumbnail_key: str | None = None
    thumbnail_state: ThumbnailState = ThumbnailState.PENDING
    thumbnail_error: str | None = None
    thumbnail_bytes: bytes | None = None
    original_in_bucket: bool = False
    thumbnail_in_bucket: bool = False
    entry: IndexEntry | None = None  # where the content lives once it is in the bucket
    flight: FlightKey | None = None  # other files with this content wait for this one
    error: str | None = None
    notice: str | None = None
    bytes_sent: int = 0
    bytes_total: int = 0
    cancel_event: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None
    context: PipelineContext | None = None
    # The journal's view (see app.core.journal): its row, the absolute path it is
    # filed under, what an earlier run left to resume from, the last row written.
    journal_id: int = 0
    journal_path: Path | None = None
    queued_at: float = 0.0
    index_in_bucket: bool = False
    dismissed: bool = False
    resume: JournalRow | None = None
    last_row: JournalRow | None = None

    def reset_for_retry(self) -> None:
        self.state = FileState.QUEUED
        self.error = None
        self.notice = None
        self.cancel_event = threading.Event()
        if self.thumbnail_state is ThumbnailState.FAILED:
            self.thumbnail_state = ThumbnailState.PENDING
            self.thumbnail_error = None


def index_missing(rec: _FileRecord) -> bool:
    """Uploaded, but its duplicate-index entry could not be written."""
    return rec.state is FileState.UPLOADED and rec.original_in_bucket and not rec.index_in_bucket


_FORMATS_BY_TYPE = {fmt.content_type: fmt for fmt in ALL_FORMATS}


def format_for(content_type: str | None) -> ImageFormat | None:
    return _FORMATS_BY_TYPE.get(content_type or "")
