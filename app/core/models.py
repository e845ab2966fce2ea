"""Plain data that crosses threads and layers: file states, results and snapshots.

Nothing here imports Qt or boto3; the GUI, the CLI and the journal all speak these types.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class FileState(enum.Enum):
    """Where one file is in the pipeline. The last four are final."""

    QUEUED = "queued"
    HASHING = "hashing"
    CHECKING = "checking"
    THUMBNAILING = "thumbnailing"
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATES

    @property
    def is_active(self) -> bool:
        return self in _ACTIVE_STATES


_FINAL_STATES = frozenset(
    {FileState.UPLOADED, FileState.DUPLICATE, FileState.FAILED, FileState.CANCELLED}
)
_ACTIVE_STATES = frozenset(
    {FileState.HASHING, FileState.CHECKING, FileState.THUMBNAILING, FileState.UPLOADING}
)


class ThumbnailState(enum.Enum):
    """The thumbnail badge. PENDING shows while the file is still in the pipeline."""

    PENDING = "pending"
    GENERATED = "generated"
    FAILED = "failed"
    SKIPPED = "skipped"


ITEM_FIELDS = ("id", "title", "view", "notes", "primary")


@dataclass(frozen=True, slots=True)
class Item:
    """The item a photo belongs to (a coin, a book, a stamp) and which view it shows."""

    id: str | None = None
    title: str | None = None
    view: str | None = None  # obverse, reverse, cover, spine, ...
    notes: str | None = None
    primary: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "view": self.view,
            "notes": self.notes,
            "primary": self.primary,
        }

    def to_text(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False)

    @classmethod
    def from_text(cls, text: str) -> Item | None:
        """An item as to_text() wrote it; None for anything else."""
        try:
            record = json.loads(text)
        except ValueError:
            return None
        return cls.from_fields(record) if isinstance(record, dict) else None

    @classmethod
    def from_fields(cls, record: Mapping[str, object]) -> Item:
        """The item a JSON object names (a sidecar's, the journal's); other keys ignored."""
        return cls().changed({k: v for k, v in record.items() if k in ITEM_FIELDS})

    def changed(self, changes: Mapping[str, object]) -> Item:
        """This item with some fields set (by name, from ITEM_FIELDS); text is stripped,
        and empty text means none."""
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in ITEM_FIELDS:
                raise ValueError(f"An item has no field {name!r}.")
            if name == "primary":
                values[name] = bool(value)
            else:
                values[name] = str(value).strip() or None if value is not None else None
        return replace(self, **values)


@dataclass(frozen=True, slots=True)
class ImageFormat:
    """An image format recognised by its magic bytes."""

    name: str
    content_type: str
    extension: str  # canonical, with the dot, lower case: ".jpg"
    raw: bool = False  # a camera RAW file: its thumbnail comes from the embedded preview


@dataclass(slots=True, kw_only=True)
class FileOutcome:
    """What became of one file so far: its state and what each stage found.

    The one record both views are made from: `snapshot()` for observers (the window, the
    CLI), and the journal's row (app.core.journal.JournalRow adds where and when). A
    file's job keeps one and changes it only through its transitions (see
    app.core.pipeline.job).
    """

    path: Path
    state: FileState = FileState.QUEUED
    thumbnail_state: ThumbnailState = ThumbnailState.PENDING
    size: int | None = None
    mtime_ns: int | None = None
    sha256: str | None = None
    content_type: str | None = None
    key: str | None = None
    thumbnail_key: str | None = None
    error: str | None = None
    thumbnail_error: str | None = None
    original_in_bucket: bool = False
    thumbnail_in_bucket: bool = False
    index_in_bucket: bool = False
    # A multipart upload under way: its UploadId and the parts stored so far (JSON, see
    # app.core.store.parts_to_text), so a run cut off can carry on from them.
    upload_id: str | None = None
    parts: str | None = None
    # Its folder relative to what was given (app.core.walker.WalkEntry.folder), and the
    # metadata sidecar written beside its original (app.core.sidecar).
    folder: str | None = None
    metadata_key: str | None = None
    metadata_in_bucket: bool = False
    # Its display preview (when the settings ask for one; app.core.thumbnails.PreviewSpec).
    preview_key: str | None = None
    preview_in_bucket: bool = False
    # The item the collector gave it in the window (Item.to_text()), so that a restart
    # sends a queued file with it.
    given_item: str | None = None
    # Failed because of what the file holds (empty, not an image): a retry of the same
    # content cannot change that, only a changed file can (app.core.policy.needs_retry).
    unusable: bool = False

    @property
    def sidecar_missing(self) -> bool:
        """Its photo is in the bucket but the sidecar meant for it could not be written
        (rows from before sidecars name none: nothing is missing there)."""
        return (
            self.state in (FileState.UPLOADED, FileState.DUPLICATE)
            and self.original_in_bucket
            and self.metadata_key is not None
            and not self.metadata_in_bucket
        )

    def snapshot(
        self,
        file_id: int,
        *,
        path: Path | None = None,
        bytes_sent: int | None = None,
        notice: str | None = None,
        bucket: str | None = None,
        thumbnail_jpeg: bytes | None = None,
        item: Item | None = None,
    ) -> FileSnapshot:
        """This outcome as observers see it: keys only where something is in the bucket.

        `bytes_sent` defaults to all of the file once its original is in the bucket.
        """
        size = self.size or 0
        if bytes_sent is None:
            bytes_sent = size if self.original_in_bucket else 0
        state = self.state
        return FileSnapshot(
            file_id=file_id,
            path=self.path if path is None else path,
            state=state,
            size=self.size,
            bytes_sent=bytes_sent,
            bytes_total=size,
            key=self.key if state is not FileState.FAILED or self.original_in_bucket else None,
            thumbnail_key=self.thumbnail_key
            if self.thumbnail_in_bucket
            or (state is FileState.DUPLICATE and self.thumbnail_state is not ThumbnailState.FAILED)
            else None,
            thumbnail_state=self.thumbnail_state,
            thumbnail_error=self.thumbnail_error,
            error=self.error,
            sha256=self.sha256,
            content_type=self.content_type,
            notice=notice,
            bucket=bucket,
            original_in_bucket=self.original_in_bucket,
            index_in_bucket=self.index_in_bucket,
            metadata_key=self.metadata_key if self.metadata_in_bucket else None,
            sidecar_missing=self.sidecar_missing,
            unusable=self.unusable,
            preview_key=self.preview_key if self.preview_in_bucket else None,
            item=item,
            thumbnail_jpeg=thumbnail_jpeg,
        )


OUTCOME_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(FileOutcome))


def outcome_values(outcome: FileOutcome) -> dict[str, Any]:
    """The outcome's fields by name, to build a row (or a copy) from it."""
    return {name: getattr(outcome, name) for name in OUTCOME_FIELDS}


@dataclass(frozen=True, slots=True)
class FileSnapshot:
    """Everything an observer needs to show one file, at one moment.

    `status` in the CLI's JSON is the final `state`; `notice` carries transient
    text such as "retrying (2/5)" while the file is still active.
    """

    file_id: int
    path: Path
    state: FileState
    size: int | None = None
    bytes_sent: int = 0
    bytes_total: int = 0
    key: str | None = None
    thumbnail_key: str | None = None
    thumbnail_state: ThumbnailState = ThumbnailState.PENDING
    thumbnail_error: str | None = None
    error: str | None = None
    sha256: str | None = None
    content_type: str | None = None
    notice: str | None = None
    bucket: str | None = None
    # What is in the bucket, for the predicates of app.core.policy.
    original_in_bucket: bool = False
    index_in_bucket: bool = False
    metadata_key: str | None = None
    sidecar_missing: bool = False  # see FileOutcome.sidecar_missing
    unusable: bool = False  # see FileOutcome.unusable
    preview_key: str | None = None
    item: Item | None = None  # the item it belongs to, once known (see app.core.sidecar)
    # The generated thumbnail (JPEG), present in the snapshots delivered around the time it
    # is made, then dropped: observers that want previews keep their own small copy.
    thumbnail_jpeg: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def progress(self) -> float:
        """Fraction of this file's bytes sent, 0.0 to 1.0."""
        if self.state in (FileState.UPLOADED, FileState.DUPLICATE):
            return 1.0
        if self.bytes_total <= 0:
            return 0.0
        return min(1.0, self.bytes_sent / self.bytes_total)

    def to_json_dict(self) -> dict[str, Any]:
        """The stable CLI record (see README): null where not applicable."""
        return {
            "path": str(self.path),
            "status": self.state.value,
            "key": self.key,
            "thumbnail_key": self.thumbnail_key,
            "thumbnail_status": self.thumbnail_state.value,
            "thumbnail_error": self.thumbnail_error,
            "error": self.error,
            "sha256": self.sha256,
            "size": self.size,
            "content_type": self.content_type,
            "metadata_key": self.metadata_key,
            "derivatives": {"thumbnail": self.thumbnail_key, "preview": self.preview_key},
        }


class Outage(enum.Enum):
    DOWN = "down"  # cannot reach it; the next try is `retry_in` seconds away
    BACK = "back"  # it answers again; the files that waited carry on
    GAVE_UP = "gave_up"  # away for the whole budget; the files that waited failed


@dataclass(frozen=True, slots=True)
class OutageStatus:
    """What the queue and the command line say about an outage: once when it starts (and
    as its next try comes closer), once when it ends."""

    state: Outage
    reason: str  # the first sentence: "Cannot reach the storage server at http://..."
    retry_in: float | None = None
    lasted: float = 0.0  # seconds since it started

    def describe(self) -> str:
        if self.state is Outage.DOWN:
            seconds = math.ceil(self.retry_in or 0)
            return f"{self.reason.rstrip('.')}; retrying in {seconds} s."
        if self.state is Outage.BACK:
            return "The storage server answers again; the waiting files carry on."
        return (
            f"{self.reason.rstrip('.')} for {round(self.lasted)} s, so the files waiting "
            "for it failed. Retry them once it is back."
        )
