"""The queue's columns, in one table: title, width, alignment, how each cell reads
(text, tooltip, what a screen reader says), how it sorts and which delegate paints it.

The model, the proxy and the window all read this table; a column is added or changed
here and nowhere else.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from app.core.models import FileSnapshot, ThumbnailState
from app.core.sizes import human_size
from app.ui.badges import (
    STATE_SORT_ORDER,
    message_text,
    one_line,
    safe_text,
    state_badge,
    state_text,
    thumbnail_badge,
)


class Column(enum.IntEnum):
    """The queue table's columns, in order."""

    PREVIEW = 0
    NAME = 1
    SIZE = 2
    STATUS = 3
    THUMBNAIL = 4
    BUCKET = 5  # shown only while the queue holds files of more than one bucket
    MESSAGE = 6

    @property
    def title(self) -> str:
        return COLUMNS[self].title


class Painter(enum.Enum):
    """Which delegate paints a column's cells (see app.ui.delegates)."""

    TEXT = "text"  # the view's own, on one line
    NAME = "name"  # two lines, wrapped, the second elided in the middle (keeps the extension)
    MESSAGE = "message"  # two lines, wrapped, the second elided at its end
    PREVIEW = "preview"
    STATUS_BADGE = "status_badge"
    THUMBNAIL_BADGE = "thumbnail_badge"


Cell = Callable[[FileSnapshot, bool], str]  # (snapshot, dark palette) -> text
SortKey = float | str


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column, all of it."""

    title: str
    width: int  # initial width in pixels (the last column also takes what is left)
    display: Callable[[FileSnapshot, bool], str | None]
    tooltip: Cell
    accessible: Cell
    sort_key: Callable[[FileSnapshot], SortKey]
    painter: Painter = Painter.TEXT
    align_right: bool = False


# -- sort keys ------------------------------------------------------------------------
# Numbers are floats: PySide6 before 6.12 hands ints beyond 32 bits to Qt as opaque
# Python objects, which QSortFilterProxyModel cannot order; doubles are exact up to
# 2**53, far beyond these keys and any file size. Equal values are told apart by the
# file id (queue order), and everything compares in C++.

_TIE = 1 << 40  # file ids stay below this; ties then keep queue order whatever the last sort
_DIGITS = re.compile(r"\d+")
_THUMBNAIL_SORT_ORDER = {
    ThumbnailState.FAILED: 0,
    ThumbnailState.PENDING: 1,
    ThumbnailState.SKIPPED: 2,
    ThumbnailState.GENERATED: 3,
}


def _natural(text: str) -> str:
    """A string key that sorts "scan_2" before "scan_10", ignoring case."""
    return _DIGITS.sub(lambda m: m.group().zfill(20), text.casefold())


def _text_key(text: str, snap: FileSnapshot) -> str:
    return f"{text}\0{snap.file_id:013d}"


# -- cells ----------------------------------------------------------------------------


def _name(snap: FileSnapshot) -> str:
    return safe_text(snap.path.name)


def _path_and_message(snap: FileSnapshot, _dark: bool) -> str:
    path = safe_text(str(snap.path))
    message = message_text(snap)
    return f"{path}\n{message}" if message else path


def _size_tooltip(snap: FileSnapshot, dark: bool) -> str:
    if snap.size is None:
        return _path_and_message(snap, dark)
    return f"{snap.size:,} bytes"


def _message(snap: FileSnapshot, _dark: bool) -> str:
    return one_line(message_text(snap))


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(  # PREVIEW
        title="Preview",
        width=52,
        display=lambda _s, _d: None,
        tooltip=_path_and_message,
        accessible=lambda s, _d: f"Preview of {_name(s)}",
        sort_key=lambda s: float(s.file_id),
        painter=Painter.PREVIEW,
    ),
    ColumnSpec(  # NAME
        title="Name",
        width=260,
        display=lambda s, _d: _name(s),
        tooltip=_path_and_message,
        accessible=lambda s, _d: f"Name: {_name(s)}",
        sort_key=lambda s: _text_key(_natural(_name(s)), s),
        painter=Painter.NAME,
    ),
    ColumnSpec(  # SIZE
        title="Size",
        width=72,
        display=lambda s, _d: human_size(s.size),
        tooltip=_size_tooltip,
        accessible=lambda s, _d: f"Size: {human_size(s.size)}",
        sort_key=lambda s: -1.0 if s.size is None else float(s.size),
        align_right=True,
    ),
    ColumnSpec(  # STATUS
        title="Status",
        width=128,
        display=lambda s, _d: state_text(s),
        tooltip=lambda s, d: state_badge(s, dark=d).tooltip,
        accessible=lambda s, _d: f"Status: {state_text(s)}",
        sort_key=lambda s: float(STATE_SORT_ORDER[s.state] * _TIE + s.file_id),
        painter=Painter.STATUS_BADGE,
    ),
    ColumnSpec(  # THUMBNAIL
        title="Thumbnail",
        width=104,
        display=lambda s, d: thumbnail_badge(s, dark=d).text,
        tooltip=lambda s, d: thumbnail_badge(s, dark=d).tooltip,
        accessible=lambda s, d: f"Thumbnail: {thumbnail_badge(s, dark=d).text}",
        sort_key=lambda s: float(_THUMBNAIL_SORT_ORDER[s.thumbnail_state] * _TIE + s.file_id),
        painter=Painter.THUMBNAIL_BADGE,
    ),
    ColumnSpec(  # BUCKET
        title="Bucket",
        width=120,
        display=lambda s, _d: s.bucket or "",
        tooltip=lambda s, _d: f"Sent to the bucket {s.bucket}" if s.bucket else "",
        accessible=lambda s, _d: f"Bucket: {s.bucket or 'none yet'}",
        sort_key=lambda s: _text_key((s.bucket or "").casefold(), s),
    ),
    ColumnSpec(  # MESSAGE
        title="Message",
        width=300,
        display=_message,
        tooltip=_path_and_message,
        accessible=lambda s, d: f"Message: {_message(s, d)}",
        sort_key=lambda s: _text_key(message_text(s).casefold(), s),
        painter=Painter.MESSAGE,
    ),
)
assert len(COLUMNS) == len(Column)


def sort_keys(snap: FileSnapshot) -> tuple[SortKey, ...]:
    """Every column's sort key for one row, in column order (kept per row by the model)."""
    return tuple(spec.sort_key(snap) for spec in COLUMNS)
