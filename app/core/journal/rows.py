"""The journal's rows: one plain `JournalRow` per file, and how it maps to SQLite."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from app.core.config import Destination
from app.core.models import FileSnapshot, FileState, ThumbnailState


def destination_identity(destination: Destination) -> str:
    """Where files go, as the journal compares it: bucket, endpoint and prefix.

    A labelled destination (the local test bucket) is named by its label, since its
    endpoint is a new loopback port on every start.
    """
    endpoint = f"label:{destination.label}" if destination.label else destination.endpoint_url
    return json.dumps([destination.bucket, endpoint or "", destination.prefix])


@dataclass(slots=True)
class JournalRow:
    """One file as the journal holds it: plain data, passed between threads.

    `path` is absolute. `row_id` is unique across runs and processes (see
    `Journal.row_id`). `finished_at` is set when `state` is final.

    Never changed once made (use `dataclasses.replace`). Not frozen only because the
    pipeline makes one per state change on the loop, and a frozen one costs 3x as much.
    """

    row_id: int
    path: Path
    state: FileState
    destination: str
    bucket: str
    queued_at: float
    updated_at: float
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
    dismissed: bool = False
    origin: str = field(default="", compare=False)

    @property
    def finished_at(self) -> float | None:
        return self.updated_at if self.state.is_final else None

    def to_snapshot(self, file_id: int = 0) -> FileSnapshot:
        """The row as the CLI and the window show a file (keys only where they apply)."""
        return FileSnapshot(
            file_id=file_id,
            path=self.path,
            state=self.state,
            size=self.size,
            bytes_total=self.size or 0,
            bytes_sent=(self.size or 0) if self.original_in_bucket else 0,
            key=self.key if self.state is not FileState.FAILED or self.original_in_bucket else None,
            thumbnail_key=self.thumbnail_key
            if self.thumbnail_in_bucket or self.state is FileState.DUPLICATE
            else None,
            thumbnail_state=self.thumbnail_state,
            thumbnail_error=self.thumbnail_error,
            error=self.error,
            sha256=self.sha256,
            content_type=self.content_type,
            bucket=self.bucket,
        )

    def to_json_dict(self) -> dict[str, Any]:
        """The upload command's JSON record for this file, plus `timestamp` (ISO 8601)."""
        record = self.to_snapshot().to_json_dict()
        record["path"] = os.fsencode(self.path).decode("utf-8", "backslashreplace")
        stamp = datetime.fromtimestamp(self.updated_at).astimezone()
        record["timestamp"] = stamp.isoformat(timespec="seconds")
        return record


_COLUMNS = (
    "id",
    "origin",
    "path",
    "state",
    "thumbnail_state",
    "destination",
    "bucket",
    "queued_at",
    "updated_at",
    "finished_at",
    "size",
    "mtime_ns",
    "sha256",
    "content_type",
    "key",
    "thumbnail_key",
    "error",
    "thumbnail_error",
    "original_in_bucket",
    "thumbnail_in_bucket",
    "index_in_bucket",
    "dismissed",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM files"
_UPSERT = (
    f"INSERT INTO files ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)}) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("id", "origin", "queued_at"))
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    path BLOB NOT NULL,
    state TEXT NOT NULL,
    thumbnail_state TEXT NOT NULL,
    destination TEXT NOT NULL,
    bucket TEXT NOT NULL,
    queued_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL,
    size INTEGER,
    mtime_ns INTEGER,
    sha256 TEXT,
    content_type TEXT,
    key TEXT,
    thumbnail_key TEXT,
    error TEXT,
    thumbnail_error TEXT,
    original_in_bucket INTEGER NOT NULL DEFAULT 0,
    thumbnail_in_bucket INTEGER NOT NULL DEFAULT 0,
    index_in_bucket INTEGER NOT NULL DEFAULT 0,
    dismissed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS files_open ON files (origin, queued_at) WHERE finished_at IS NULL;
CREATE INDEX IF NOT EXISTS files_finished ON files (finished_at);
CREATE INDEX IF NOT EXISTS files_failed ON files (finished_at) WHERE state = 'failed';
CREATE INDEX IF NOT EXISTS files_path ON files (path, destination);
"""


def _to_params(row: JournalRow, origin: str) -> tuple[Any, ...]:
    return (
        row.row_id,
        origin,
        os.fsencode(row.path),
        row.state.value,
        row.thumbnail_state.value,
        row.destination,
        row.bucket,
        row.queued_at,
        row.updated_at,
        row.finished_at,
        row.size,
        row.mtime_ns,
        row.sha256,
        row.content_type,
        row.key,
        row.thumbnail_key,
        row.error,
        row.thumbnail_error,
        int(row.original_in_bucket),
        int(row.thumbnail_in_bucket),
        int(row.index_in_bucket),
        int(row.dismissed),
    )


def _from_db(values: Sequence[Any]) -> JournalRow | None:
    """A row read back; None for one this version cannot understand (skipped, not fatal)."""
    (
        row_id,
        origin,
        path,
        state,
        thumbnail_state,
        destination,
        bucket,
        queued_at,
        updated_at,
        _finished_at,
        size,
        mtime_ns,
        sha256,
        content_type,
        key,
        thumbnail_key,
        error,
        thumbnail_error,
        original,
        thumbnail,
        index,
        dismissed,
    ) = values
    try:
        return JournalRow(
            row_id=int(row_id),
            origin=str(origin),
            path=Path(os.fsdecode(bytes(path))),
            state=FileState(state),
            thumbnail_state=ThumbnailState(thumbnail_state),
            destination=str(destination),
            bucket=str(bucket),
            queued_at=float(queued_at),
            updated_at=float(updated_at),
            size=size,
            mtime_ns=mtime_ns,
            sha256=sha256,
            content_type=content_type,
            key=key,
            thumbnail_key=thumbnail_key,
            error=error,
            thumbnail_error=thumbnail_error,
            original_in_bucket=bool(original),
            thumbnail_in_bucket=bool(thumbnail),
            index_in_bucket=bool(index),
            dismissed=bool(dismissed),
        )
    except (TypeError, ValueError):
        return None
