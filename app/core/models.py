"""Plain data that crosses threads and layers: file states, results and snapshots.

Nothing here imports Qt or boto3; the GUI, the CLI and the journal all speak these types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class ImageFormat:
    """An image format recognised by its magic bytes."""

    name: str
    content_type: str
    extension: str  # canonical, with the dot, lower case: ".jpg"


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
        }
