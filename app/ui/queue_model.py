"""The upload queue as one Qt table model (its proxy, previews and placeholder live beside it).

The engine delivers `FileSnapshot` batches; `QueueModel.apply_snapshots` turns each batch
into a handful of model signals (one insert, a few `dataChanged` runs), so 10,000 files
do not mean 10,000 repaints.
"""

from __future__ import annotations

import enum
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QGuiApplication, QImage, QPalette

from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.core.policy import Category, categories, thumbnail_failed
from app.ui.badges import (
    STATE_SORT_ORDER,
    human_size,
    message_text,
    one_line,
    safe_text,
    state_badge,
    state_text,
    thumbnail_badge,
)
from app.ui.placeholder import draw_placeholder
from app.ui.preview_cache import PreviewCache

log = logging.getLogger(__name__)

AnyIndex = QModelIndex | QPersistentModelIndex

_USER = int(Qt.ItemDataRole.UserRole)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)


class QueueRole(enum.IntEnum):
    """Custom data roles of `QueueModel` (the same for every column unless noted)."""

    SNAPSHOT = _USER + 1  # FileSnapshot (without thumbnail bytes)
    FILE_ID = _USER + 2  # int
    SORT_KEY = _USER + 3  # int or str, per column
    STATE_BADGE = _USER + 4  # badges.Badge
    THUMBNAIL_BADGE = _USER + 5  # badges.Badge
    PROGRESS = _USER + 6  # float 0..1 while uploading, None otherwise
    PREVIEW = _USER + 7  # QImage or None


class Column(enum.IntEnum):
    """The queue table's columns, in order; `title` is the header text."""

    PREVIEW = 0
    NAME = 1
    SIZE = 2
    STATUS = 3
    THUMBNAIL = 4
    MESSAGE = 5

    @property
    def title(self) -> str:
        return _COLUMN_TITLES[self]


# Plain ints: comparing a role (an int from C++) with an IntEnum member is slower.
_SNAPSHOT = int(QueueRole.SNAPSHOT)
_FILE_ID = int(QueueRole.FILE_ID)
_SORT_KEY = int(QueueRole.SORT_KEY)
_STATE_BADGE = int(QueueRole.STATE_BADGE)
_THUMBNAIL_BADGE = int(QueueRole.THUMBNAIL_BADGE)
_PROGRESS = int(QueueRole.PROGRESS)
_PREVIEW = int(QueueRole.PREVIEW)

_COLUMN_TITLES = {
    Column.PREVIEW: "Preview",
    Column.NAME: "Name",
    Column.SIZE: "Size",
    Column.STATUS: "Status",
    Column.THUMBNAIL: "Thumbnail",
    Column.MESSAGE: "Message",
}
_COLUMN_COUNT = len(Column)
_LAST_COLUMN = _COLUMN_COUNT - 1

_THUMBNAIL_SORT_ORDER = {
    ThumbnailState.FAILED: 0,
    ThumbnailState.PENDING: 1,
    ThumbnailState.SKIPPED: 2,
    ThumbnailState.GENERATED: 3,
}

_DIGITS = re.compile(r"\d+")
_PREVIEW_ROLES = [_DECORATION, int(QueueRole.PREVIEW)]

# Runs of changed rows at most this far apart share one dataChanged. For every row a
# signal spans, QSortFilterProxyModel (6.12) re-runs the filter and checks the row is
# still in order with its neighbours, whatever the roles and columns; when one is out of
# order it re-sorts all the rows spanned, with Python calls per comparison. So: runs,
# not one signal from the first changed row to the last.
_MAX_GAP = 8
# Removing more runs than this resets the model instead.
_MAX_REMOVE_RUNS = 64


def palette_is_dark() -> bool:
    """True when the application's palette has a dark window background."""
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def _runs(rows: Iterable[int], max_gap: int = 0) -> list[tuple[int, int]]:
    """Sorted rows grouped into (first, last) runs; runs at most `max_gap` rows apart merge.

    Merging trades a few unchanged rows in a signal for fewer signals.
    """
    runs: list[tuple[int, int]] = []
    for row in sorted(rows):
        if runs and row <= runs[-1][1] + 1 + max_gap:
            runs[-1] = (runs[-1][0], max(row, runs[-1][1]))
        else:
            runs.append((row, row))
    return runs


def _byte_tally(snap: FileSnapshot) -> tuple[int, int, int, int]:
    """(size, settled, sent, remaining) bytes of one file, for the running totals.

    settled: bytes whose fate is decided (a final file in full, else what was sent);
    sent: bytes that went over the wire (a duplicate sends none);
    remaining: bytes still to send for files not final yet.
    """
    size = snap.size or snap.bytes_total
    if snap.state is FileState.UPLOADED:
        return size, size, max(size, snap.bytes_sent), 0
    if snap.state is FileState.DUPLICATE:
        return size, size, 0, 0
    if snap.state.is_final:
        return size, size, snap.bytes_sent, 0
    return size, snap.bytes_sent, snap.bytes_sent, max(0, size - snap.bytes_sent)


_TIE = 1 << 40  # file ids stay below this; ties then keep queue order whatever the last sort


def _natural(text: str) -> str:
    """A string key that sorts "scan_2" before "scan_10", ignoring case."""
    return _DIGITS.sub(lambda m: m.group().zfill(20), text.casefold())


def _sort_keys(snap: FileSnapshot) -> tuple[float | str, ...]:
    """SORT_KEY of each column, in column order.

    Numbers are floats: PySide6 before 6.12 hands ints beyond 32 bits to Qt as opaque
    Python objects, which QSortFilterProxyModel cannot order; doubles are exact up to
    2**53, far beyond these keys and any file size. Equal values are told apart by the
    file id (queue order), and everything compares in C++.
    """
    tie = snap.file_id
    return (
        float(tie),
        f"{_natural(safe_text(snap.path.name))}\0{tie:013d}",
        -1.0 if snap.size is None else float(snap.size),
        float(STATE_SORT_ORDER[snap.state] * _TIE + tie),
        float(_THUMBNAIL_SORT_ORDER[snap.thumbnail_state] * _TIE + tie),
        f"{message_text(snap).casefold()}\0{tie:013d}",
    )


def _wants_preview(snap: FileSnapshot) -> bool:
    """Whether re-making a preview from the original is worth trying for this file:
    its thumbnail was made once, or it is a duplicate (whose thumbnail was never needed)."""
    return snap.thumbnail_state is ThumbnailState.GENERATED or snap.state is FileState.DUPLICATE


class QueueModel(QAbstractTableModel):
    """Every file of the session, one row each, in the order the engine queued them.

    Rows hold the latest snapshot (with its thumbnail bytes handed to the preview cache
    and dropped). Feed it with `apply_snapshots` from the pipeline observer.

    Signals:
        totals_changed(): counts or byte totals changed (for the status bar).
    """

    totals_changed = Signal()

    def __init__(
        self,
        preview_cache: PreviewCache | None = None,
        *,
        dark: bool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._snaps: list[FileSnapshot] = []
        self._rows: dict[int, int] = {}
        self._keys: list[tuple[float | str, ...]] = []  # _sort_keys() of each row
        self._counts: Counter[FileState] = Counter()
        self._categories: Counter[Category] = Counter()  # rows per app.core.policy category
        self._thumbnails_failed = 0  # uploaded rows without their thumbnail
        self._bytes = [0, 0, 0, 0]  # sums of _byte_tally() over the rows
        self._dark = palette_is_dark() if dark is None else dark
        self._placeholder: QImage | None = None
        self._cache = preview_cache
        self._previews_ready: set[int] = set()
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(30)
        self._preview_timer.timeout.connect(self._flush_previews)
        if preview_cache is not None:
            preview_cache.preview_ready.connect(self._on_preview_ready)

    # -- feeding ---------------------------------------------------------------------

    def apply_snapshots(self, snaps: Sequence[FileSnapshot]) -> None:
        """Update known rows and append new ones; one batch, a few signals."""
        if not snaps:
            return
        new: dict[int, FileSnapshot] = {}
        changed: set[int] = set()
        counts = self._counts
        for snap in snaps:
            if snap.thumbnail_jpeg is not None:
                if self._cache is not None:
                    self._cache.offer(snap)
                snap = replace(snap, thumbnail_jpeg=None)  # the cache keeps its own copy
            row = self._rows.get(snap.file_id)
            if row is None:
                new[snap.file_id] = snap
                continue
            old = self._snaps[row]
            self._snaps[row] = snap
            self._keys[row] = _sort_keys(snap)
            changed.add(row)
            if old.state is not snap.state:
                counts[old.state] -= 1
                counts[snap.state] += 1
            self._tally(old, -1)
            self._tally(snap, +1)

        for first, last in _runs(changed, _MAX_GAP):
            self.dataChanged.emit(self.index(first, 0), self.index(last, _LAST_COLUMN), [])

        if new:
            start = len(self._snaps)
            self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
            for offset, snap in enumerate(new.values()):
                self._rows[snap.file_id] = start + offset
                self._snaps.append(snap)
                self._keys.append(_sort_keys(snap))
                counts[snap.state] += 1
                self._tally(snap, +1)
            self.endInsertRows()
        self.totals_changed.emit()

    def remove_file_ids(self, file_ids: Iterable[int]) -> None:
        """Drop these files' rows (unknown ids are ignored)."""
        rows = {self._rows[i] for i in file_ids if i in self._rows}
        if not rows:
            return
        for row in rows:
            snap = self._snaps[row]
            self._counts[snap.state] -= 1
            self._tally(snap, -1)
        removed_ids = [self._snaps[row].file_id for row in rows]
        runs = _runs(rows)
        if len(runs) > _MAX_REMOVE_RUNS:
            self.beginResetModel()
            kept = [row for row in range(len(self._snaps)) if row not in rows]
            self._snaps = [self._snaps[row] for row in kept]
            self._keys = [self._keys[row] for row in kept]
            self._reindex()
            self.endResetModel()
        else:
            for first, last in reversed(runs):
                self.beginRemoveRows(QModelIndex(), first, last)
                del self._snaps[first : last + 1]
                del self._keys[first : last + 1]
                self.endRemoveRows()
            self._reindex()
        self._counts = +self._counts  # drop zero entries
        if self._cache is not None:
            self._cache.forget(removed_ids)
        self.totals_changed.emit()

    def clear(self) -> None:
        self.remove_file_ids(list(self._rows))

    def set_dark(self, dark: bool) -> None:
        """Switch badge colours for a dark or light palette."""
        if dark == self._dark:
            return
        self._dark = dark
        self._placeholder = None
        if self._snaps:
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self._snaps) - 1, _LAST_COLUMN),
                [_STATE_BADGE, _THUMBNAIL_BADGE, _DECORATION],
            )

    # -- queries ---------------------------------------------------------------------

    def snapshot_at(self, row: int) -> FileSnapshot:
        return self._snaps[row]

    def snapshot_for(self, file_id: int) -> FileSnapshot | None:
        row = self._rows.get(file_id)
        return None if row is None else self._snaps[row]

    def row_of(self, file_id: int) -> int | None:
        return self._rows.get(file_id)

    def file_ids_where(self, predicate: Callable[[FileSnapshot], bool]) -> list[int]:
        return [s.file_id for s in self._snaps if predicate(s)]

    @property
    def retryable_count(self) -> int:
        """Rows "Retry failed" would redo (app.core.policy.needs_retry)."""
        return self._categories[Category.FAILED]

    @property
    def thumbnails_failed(self) -> int:
        """Uploaded rows whose thumbnail failed (app.core.policy.thumbnail_failed)."""
        return self._thumbnails_failed

    def category_count(self, category: Category) -> int:
        """Rows in a filter category (app.core.policy.categories)."""
        return self._categories[category]

    def counts(self) -> Counter[FileState]:
        """How many files are in each state (a copy, without zero counts)."""
        return +self._counts

    @property
    def total_bytes(self) -> int:
        """Sum of the file sizes known so far."""
        return self._bytes[0]

    @property
    def sent_bytes(self) -> int:
        """Bytes that went to the bucket (for a speed meter); duplicates add none."""
        return self._bytes[2]

    @property
    def remaining_bytes(self) -> int:
        """Bytes still to send for files not final yet (for a time-left estimate)."""
        return self._bytes[3]

    def overall_progress(self) -> float:
        """Settled bytes / total: failed, cancelled and duplicate files count in full,
        so this reaches 1.0 exactly when every file is final."""
        total, settled = self._bytes[0], self._bytes[1]
        if total <= 0:
            return 1.0 if self._snaps and not self._unfinished() else 0.0
        return min(1.0, settled / total)

    def _unfinished(self) -> bool:
        return any(n for state, n in self._counts.items() if not state.is_final)

    # -- Qt model interface ----------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._snaps)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _COLUMN_COUNT

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = _DISPLAY,
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < _COLUMN_COUNT:
            return None
        if role == _DISPLAY:
            return Column(section).title
        if role == _ALIGNMENT and section == Column.SIZE:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return None

    def data(self, index: AnyIndex, role: int = _DISPLAY) -> Any:
        row = index.row()
        if row < 0 or row >= len(self._snaps):  # also catches invalid indexes (-1)
            return None
        if role == _SORT_KEY:  # first: sorting asks for it n log n times
            return self._keys[row][index.column()]
        snap = self._snaps[row]
        column = index.column()
        if role == _DISPLAY:
            return self._display(snap, column)
        if role == _STATE_BADGE:
            return state_badge(snap, dark=self._dark)
        if role == _THUMBNAIL_BADGE:
            return thumbnail_badge(snap, dark=self._dark)
        if role == _PROGRESS:
            return snap.progress if snap.state is FileState.UPLOADING else None
        if role == _SNAPSHOT:
            return snap
        if role == _FILE_ID:
            return snap.file_id
        if role == _DECORATION:
            return self._preview(snap, placeholder=True) if column == Column.PREVIEW else None
        if role == _PREVIEW:
            return self._preview(snap, placeholder=False)
        if role == _TOOLTIP:
            return self._tooltip(snap, column)
        if role == _ALIGNMENT:
            if column == Column.SIZE:
                return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            return None
        if role == _ACCESSIBLE:
            return self._accessible(snap, column)
        return None

    def _display(self, snap: FileSnapshot, column: int) -> str | None:
        if column == Column.NAME:
            return safe_text(snap.path.name)
        if column == Column.SIZE:
            return human_size(snap.size)
        if column == Column.STATUS:
            return state_text(snap)
        if column == Column.THUMBNAIL:
            return thumbnail_badge(snap, dark=self._dark).text
        if column == Column.MESSAGE:
            return one_line(message_text(snap))
        return None

    def _tooltip(self, snap: FileSnapshot, column: int) -> str:
        if column == Column.STATUS:
            return state_badge(snap, dark=self._dark).tooltip
        if column == Column.THUMBNAIL:
            return thumbnail_badge(snap, dark=self._dark).tooltip
        if column == Column.SIZE and snap.size is not None:
            return f"{snap.size:,} bytes"
        path = safe_text(str(snap.path))
        message = message_text(snap)
        return f"{path}\n{message}" if message else path

    def _accessible(self, snap: FileSnapshot, column: int) -> str:
        if column == Column.PREVIEW:
            return f"Preview of {safe_text(snap.path.name)}"
        if column == Column.STATUS:
            return f"Status: {state_text(snap)}"
        if column == Column.THUMBNAIL:
            return f"Thumbnail: {thumbnail_badge(snap, dark=self._dark).text}"
        text = self._display(snap, column) or ""
        return f"{Column(column).title}: {text}"

    # -- previews --------------------------------------------------------------------

    def _preview(self, snap: FileSnapshot, *, placeholder: bool) -> QImage | None:
        image = None
        if self._cache is not None:
            image = self._cache.preview_for(snap.file_id)
            if image is None and _wants_preview(snap):
                self._cache.request(snap.file_id, snap.path)
        if image is None and placeholder:
            return self.placeholder_image()
        return image

    def placeholder_image(self) -> QImage:
        """A neutral picture frame shown until (or instead of) a preview."""
        if self._placeholder is None:
            side = self._cache.side if self._cache is not None else 48
            self._placeholder = draw_placeholder(side, dark=self._dark)
        return self._placeholder

    @Slot(int)
    def _on_preview_ready(self, file_id: int) -> None:
        self._previews_ready.add(file_id)
        if not self._preview_timer.isActive():
            self._preview_timer.start()

    @Slot()
    def _flush_previews(self) -> None:
        rows = [self._rows[i] for i in self._previews_ready if i in self._rows]
        self._previews_ready.clear()
        for first, last in _runs(rows, _MAX_GAP):
            self.dataChanged.emit(
                self.index(first, Column.PREVIEW),
                self.index(last, Column.PREVIEW),
                _PREVIEW_ROLES,
            )

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        # One Python call instead of the base class's rowCount() + columnCount() calls:
        # the proxy creates two indexes per sort comparison.
        if 0 <= row < len(self._snaps) and 0 <= column < _COLUMN_COUNT and not parent.isValid():
            return self.createIndex(row, column)
        return QModelIndex()

    def _tally(self, snap: FileSnapshot, sign: int) -> None:
        for n, value in enumerate(_byte_tally(snap)):
            self._bytes[n] += sign * value
        for category in categories(snap):
            self._categories[category] += sign
        if thumbnail_failed(snap):
            self._thumbnails_failed += sign

    def _reindex(self) -> None:
        self._rows = {snap.file_id: row for row, snap in enumerate(self._snaps)}
