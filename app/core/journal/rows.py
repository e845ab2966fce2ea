"""The journal's rows: one plain `JournalRow` per file, and how it maps to SQLite.

A row is a file's `FileOutcome` (app.core.models) plus where it was going and when; its
columns are the dataclass's fields, each stored by the codec of its type, so a field
added to either class is a column (added to the table through app.core.journal.schema).
"""

from __future__ import annotations

import json
import os
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from app.core.config import Destination
from app.core.models import FileOutcome, FileSnapshot, FileState, ThumbnailState


def destination_identity(destination: Destination) -> str:
    """Where files go, as the journal compares it: bucket, endpoint and prefix.

    A labelled destination (the local test bucket) is named by its label, since its
    endpoint is a new loopback port on every start.
    """
    endpoint = f"label:{destination.label}" if destination.label else destination.endpoint_url
    return json.dumps([destination.bucket, endpoint or "", destination.prefix])


def identity_parts(identity: str) -> tuple[str, str, str] | None:
    """(bucket, endpoint or "label:NAME", prefix) of a destination_identity; None if it
    does not parse."""
    try:
        bucket, endpoint, prefix = json.loads(identity)
    except (ValueError, TypeError):
        return None
    if not all(isinstance(part, str) for part in (bucket, endpoint, prefix)):
        return None
    return bucket, endpoint, prefix


@dataclass(slots=True, kw_only=True)
class JournalRow(FileOutcome):
    """One file as the journal holds it: its outcome, where it was going and when. Plain
    data, passed between threads.

    `path` is absolute. `row_id` is unique across runs and processes (see
    `Journal.row_id`). `finished_at` is set when `state` is final.

    Never changed once made (use `dataclasses.replace`). Not frozen only because the
    pipeline makes one per state change on the loop, and a frozen one costs 3x as much.
    """

    row_id: int
    destination: str
    bucket: str
    # The destination beyond its identity, as destination_spec() writes it ("" in rows
    # from before schema 2).
    destination_spec: str = ""
    queued_at: float
    updated_at: float
    dismissed: bool = False
    origin: str = field(default="", compare=False)

    @property
    def finished_at(self) -> float | None:
        return self.updated_at if self.state.is_final else None

    def to_snapshot(self, file_id: int = 0) -> FileSnapshot:
        """The row as the CLI and the window show a file (keys only where they apply)."""
        return self.snapshot(file_id, bucket=self.bucket)

    def to_json_dict(self) -> dict[str, Any]:
        """The upload command's JSON record for this file, plus `timestamp` (ISO 8601)."""
        record = self.to_snapshot().to_json_dict()
        record["path"] = os.fsencode(self.path).decode("utf-8", "backslashreplace")
        stamp = datetime.fromtimestamp(self.updated_at).astimezone()
        record["timestamp"] = stamp.isoformat(timespec="seconds")
        return record


# -- columns --------------------------------------------------------------------------

Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]  # (to SQLite, from SQLite)


def _optional(codec: Codec) -> Codec:
    encode, decode = codec
    return (
        lambda v: None if v is None else encode(v),
        lambda v: None if v is None else decode(v),
    )


_PATH: Codec = (os.fsencode, lambda v: Path(os.fsdecode(bytes(v))))
_CODECS: dict[object, Codec] = {
    Path: _PATH,
    FileState: (lambda v: v.value, FileState),
    ThumbnailState: (lambda v: v.value, ThumbnailState),
    bool: (int, bool),
    float: (float, float),
    int: (int, int),
    str: (str, str),
    int | None: _optional((int, int)),
    str | None: _optional((str, str)),
}
_COLUMN_NAMES = {"row_id": "id"}  # a field whose column has another name
_TYPES = typing.get_type_hints(JournalRow)
_FIELDS = tuple(f.name for f in fields(JournalRow))
_FIELD_CODECS = tuple(_CODECS[_TYPES[name]] for name in _FIELDS)
#: Every column of `files`, in the order of `_to_params`: the fields, then finished_at.
COLUMNS = (*(_COLUMN_NAMES.get(name, name) for name in _FIELDS), "finished_at")
_KEPT_ON_UPDATE = frozenset({"id", "origin", "queued_at"})  # an update leaves these as they were

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM files"
_UPSERT = (
    f"INSERT INTO files ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)}) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in _KEPT_ON_UPDATE)
)


def _to_params(row: JournalRow, origin: str) -> tuple[Any, ...]:
    values = [
        encode(origin if name == "origin" else getattr(row, name))
        for name, (encode, _decode) in zip(_FIELDS, _FIELD_CODECS, strict=True)
    ]
    return (*values, row.finished_at)


def _from_db(values: Sequence[Any]) -> JournalRow | None:
    """A row read back; None for one this version cannot understand (skipped, not fatal)."""
    try:
        kwargs = {
            name: decode(value)
            for name, (_encode, decode), value in zip(_FIELDS, _FIELD_CODECS, values, strict=False)
        }
        return JournalRow(**kwargs)
    except (TypeError, ValueError):
        return None
