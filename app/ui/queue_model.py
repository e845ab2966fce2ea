"""The upload queue as one Qt table model (its proxy, previews and placeholder live beside it).

The engine delivers `FileSnapshot` batches; `QueueModel.apply_snapshots` turns each batch
into a handful of model signals (one insert, a few `dataChanged` runs), so 10,000 files
do not mean 10,000 repaints.
"""

from __future__ import annotations

import enum
import logging
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
from app.ui.badges import state_badge, thumbnail_badge
from app.ui.columns import COLUMNS, Column, sort_keys
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
_ACCESSIBLE_DESCRIPTION = int(Qt.ItemDataRole.AccessibleDescriptionRole)


class QueueRole(enum.IntEnum):
    """Custom data roles of `QueueModel` (the same for every column unless noted)."""

    SNAPSHOT = _USER + 1  # FileSnapshot (without thumbnail bytes)
    FILE_ID = _USER + 2  # int
    SORT_KEY = _USER + 3  # int or str, per column
    STATE_BADGE = _USER + 4  # badges.Badge
    THUMBNAIL_BADGE = _USER + 5  # badges.Badge
    PROGRESS = _USER + 6  # float 0..1 while uploading, None otherwise
    PREVIEW = _USER + 7  # QImage or None


# Plain ints: comparing a role (an int from C++) with an IntEnum member is slower.
_SNAPSHOT = int(QueueRole.SNAPSHOT)
_FILE_ID = int(QueueRole.FILE_ID)
_SORT_KEY = int(QueueRole.SORT_KEY)
_STATE_BADGE = int(QueueRole.STATE_BADGE)
_THUMBNAIL_BADGE = int(QueueRole.THUMBNAIL_BADGE)
_PROGRESS = int(QueueRole.PROGRESS)
_PREVIEW = int(QueueRole.PREVIEW)

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_COLUMN_COUNT = len(Column)
_LAST_COLUMN = _COLUMN_COUNT - 1

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


def has_preview(snap: FileSnapshot) -> bool:
    """Whether making a preview from the original is worth trying for this file:
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
        self._buckets: Counter[str] = Counter()  # rows per bucket they go (went) to
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
            self._keys[row] = sort_keys(snap)
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
                self._keys.append(sort_keys(snap))
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
        return self._categories[Category.RETRY]

    @property
    def thumbnails_failed(self) -> int:
        """Uploaded rows whose thumbnail failed (app.core.policy.thumbnail_failed)."""
        return self._thumbnails_failed

    @property
    def bucket_count(self) -> int:
        """How many buckets the rows go (or went) to: more than one after the destination
        changed, and the window then shows a Bucket column."""
        return sum(1 for n in self._buckets.values() if n > 0)

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
            return COLUMNS[section].title
        if role == _ALIGNMENT and COLUMNS[section].align_right:
            return _RIGHT
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
            return COLUMNS[column].display(snap, self._dark)
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
            return COLUMNS[column].tooltip(snap, self._dark)
        if role == _ALIGNMENT:
            return _RIGHT if COLUMNS[column].align_right else None
        if role == _ACCESSIBLE:
            return COLUMNS[column].accessible(snap, self._dark)
        if role == _ACCESSIBLE_DESCRIPTION:  # what a sighted collector reads on hover
            return COLUMNS[column].tooltip(snap, self._dark)
        return None

    # -- previews --------------------------------------------------------------------

    def _preview(self, snap: FileSnapshot, *, placeholder: bool) -> QImage | None:
        image = None
        if self._cache is not None:
            image = self._cache.preview_for(snap.file_id)
            if image is None and has_preview(snap):
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
        if snap.bucket:
            self._buckets[snap.bucket] += sign

    def _reindex(self) -> None:
        self._rows = {snap.file_id: row for row, snap in enumerate(self._snaps)}
