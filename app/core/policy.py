"""What a file's fate means for what the collector can do next: decided once, here.

Predicates on a file's snapshot, or on anything with the same fields (a journal row, a
job's outcome). The pipeline's Retry, the window's filters, counts, menus and buttons,
the status bar, `history --failed` and the CLI's exit code all ask these; none keeps a
copy of the rules.
"""

from __future__ import annotations

import enum
from functools import cache
from typing import Protocol

from app.core.models import FileState, ThumbnailState


class Fate(Protocol):
    """The fields the predicates read (FileSnapshot, FileOutcome and JournalRow have them)."""

    @property
    def state(self) -> FileState: ...
    @property
    def thumbnail_state(self) -> ThumbnailState: ...
    @property
    def original_in_bucket(self) -> bool: ...
    @property
    def index_in_bucket(self) -> bool: ...
    @property
    def sidecar_missing(self) -> bool: ...
    @property
    def unusable(self) -> bool: ...


class Category(enum.Enum):
    """What the queue's filters group files by, and what Retry counts. A file can be in
    several.

    - IN_PROGRESS: not final yet (queued or in a stage).
    - FAILED: something of it failed (`went_wrong`): it, or a part of it.
    - RETRY: what "Retry failed" redoes (`needs_retry`): FAILED but for files whose
      content cannot be uploaded as it is.
    - DONE: the photo is in the bucket: uploaded or duplicate.
    - NOT_SENT: not sent by this run: duplicates (already there) and cancelled files.
    """

    IN_PROGRESS = "in_progress"
    FAILED = "failed"
    RETRY = "retry"
    DONE = "done"
    NOT_SENT = "not_sent"


def is_finished(fate: Fate) -> bool:
    """Nothing more happens to it unless the collector asks."""
    return fate.state.is_final


def index_missing(fate: Fate) -> bool:
    """Uploaded, but its content-hash index entry could not be written (the server went
    away just then): other computers would send it again until a retry writes it."""
    return fate.state is FileState.UPLOADED and fate.original_in_bucket and not fate.index_in_bucket


def thumbnail_failed(fate: Fate) -> bool:
    """In the bucket (uploaded now, or a duplicate), but without its thumbnail."""
    return (
        fate.state in (FileState.UPLOADED, FileState.DUPLICATE)
        and fate.thumbnail_state is ThumbnailState.FAILED
    )


def went_wrong(fate: Fate) -> bool:
    """It failed, or a part of it did (thumbnail, index entry, sidecar): what the Failed
    filter shows and `history --failed` lists."""
    return (
        fate.state is FileState.FAILED
        or thumbnail_failed(fate)
        or index_missing(fate)
        or fate.sidecar_missing
    )


def needs_retry(fate: Fate) -> bool:
    """Something of it went wrong and a retry may mend it: what "Retry failed" redoes.
    Not a file whose content cannot be uploaded (empty, not an image): trying the same
    bytes again changes nothing; adding the file again once it is fixed does."""
    return went_wrong(fate) and not fate.unusable


def is_retryable(fate: Fate) -> bool:
    """Retry on this file does something: it needs a retry, or it was cancelled."""
    return fate.state is FileState.CANCELLED or needs_retry(fate)


def finished_cleanly(fate: Fate) -> bool:
    """Done, with nothing that went wrong (what "Clear finished" takes out of the queue:
    a failure stays until the collector has seen to it)."""
    return is_finished(fate) and not went_wrong(fate)


def run_failed(fate: Fate) -> bool:
    """The file is not in the bucket after this run: the command line exits 1."""
    return fate.state in (FileState.FAILED, FileState.CANCELLED)


def categories(fate: Fate) -> frozenset[Category]:
    """The categories of this file."""
    wrong = went_wrong(fate)
    return _categories(fate.state, wrong, wrong and not fate.unusable)


@cache
def _categories(state: FileState, wrong: bool, mend: bool) -> frozenset[Category]:
    found: set[Category] = set()
    if not state.is_final:
        found.add(Category.IN_PROGRESS)
    if wrong:
        found.add(Category.FAILED)
    if mend:
        found.add(Category.RETRY)
    if state in (FileState.UPLOADED, FileState.DUPLICATE):
        found.add(Category.DONE)
    if state in (FileState.DUPLICATE, FileState.CANCELLED):
        found.add(Category.NOT_SENT)
    return frozenset(found)


def takes_item(fate: Fate) -> bool:
    """Its item can be set (Edit item): it is in the bucket, on its way, or may be once
    retried. A cancelled file is not going anywhere until it is retried; a photo an
    earlier run sent to another bucket than today's is edited there; a file that is
    empty or not an image never will be."""
    sent_elsewhere = (
        fate.state in (FileState.UPLOADED, FileState.DUPLICATE) and not fate.original_in_bucket
    )
    return fate.state is not FileState.CANCELLED and not sent_elsewhere and not fate.unusable
