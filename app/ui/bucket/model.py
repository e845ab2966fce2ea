"""The Bucket tab's one model: the photos shown (and, grouped by item, a heading before
each item's photos) as one flow of entries, laid out as a grid of `columns` cells a row
(one column in the list), searched here, ordered on a worker (app.ui.bucket.ordering);
thumbnails and details asked for as cells are painted.

A table, not a list: QListView lays out every item whenever rows change, asking the
model about each one from Python, and with 100,000 photos that is a stall (all the more
while the survey's threads want the GIL); a table places its cells by arithmetic and
asks only about the visible ones.

Photos are kept as plain tuples of their fields by key (a Survey's rows), and the order
as tuples of strings: the cycle collector untracks both, so 100,000 photos add next to
nothing to a full collection (docs/NOTES.md).
"""

from __future__ import annotations

import contextlib
import itertools
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QImage, QPainter, QPixmap

from app.core.collection import Photo
from app.core.sizes import human_size
from app.ui.bucket.ordering import NO_ITEM, Ordered, Row, search_text

_ITEM = Photo._fields.index("item_id")

ModelIndex = QModelIndex | QPersistentModelIndex
ICON_SIDE = 128
#: Decoded thumbnails kept (128 px, about 64 kB each): a few screens' worth.
THUMBNAIL_CACHE = 600
#: A heading: (item id, heading text, photos shown under it); a plain tuple, where a
#: photo's entry is its key.
Heading = tuple[str, str, int]
Entry = str | Heading


class PhotoRole(IntEnum):
    PHOTO = Qt.ItemDataRole.UserRole + 1
    HEADING = Qt.ItemDataRole.UserRole + 2  # (item id, photos shown) of a heading


def photo_summary(photo: Photo) -> str:
    """The fields a collector reads about one photo, one per line."""
    lines = [photo.key, f"{human_size(photo.size)} · {photo.content_type}"]
    if not photo.detailed:
        lines.append("Its details are being read…")
        return "\n".join(lines)
    if not photo.ours:
        lines.append("Not uploaded by Photo Uploader: Check… can adopt it.")
        return "\n".join(lines)
    if photo.item_id or photo.item_title:
        lines.append("Item: " + " — ".join(t for t in (photo.item_id, photo.item_title) if t))
    if photo.item_view:
        lines.append(f"View: {photo.item_view}")
    lines.append(f"Taken: {photo.taken_at or 'not recorded'}")
    lines.append(f"Uploaded: {photo.uploaded_at or 'before metadata files'}")
    if photo.has_gps:
        lines.append("Its metadata file keeps the GPS position.")
    return "\n".join(lines)


def photo_line(photo: Photo) -> str:
    """The second line of a photo in the list: size, item and date taken."""
    parts = [human_size(photo.size)]
    if photo.item_id:
        parts.append(photo.item_id + (f" ({photo.item_view})" if photo.item_view else ""))
    if photo.taken_at:
        parts.append(f"taken {photo.taken_at[:10]}")
    elif not photo.detailed:
        parts.append("details being read…")
    elif not photo.ours:
        parts.append("not uploaded by Photo Uploader")
    return " · ".join(parts)


class BucketModel(QAbstractTableModel):
    """Entries shown, from the photos kept by key. Searching is a plain pass per word
    over prepared texts (~10 ms for 100,000); a Python filterAcceptsRow or lessThan per
    row in a proxy would stall the GUI for seconds. Positions count entries in flow
    order; cell (row, column) holds position row * columns + column.

    Signals:
        thumbnail_wanted(str): a painted photo's thumbnail is not here yet.
    """

    thumbnail_wanted = Signal(str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: dict[str, Row] = {}  # every photo known, by key
        self._order = Ordered((), (), (), {}, {})
        self._position: dict[str, int] = {}  # key -> index in the order
        self._words: list[str] = []
        self._entries: Sequence[Entry] = ()
        self._shown_count = 0  # photos among the entries
        self._columns = 1
        # Positions painted while their thumbnail was on its way, by thumbnail key: the
        # cells to update when it arrives (a dataChanged over everything would repaint
        # and re-ask for every visible cell each time).
        self._waiting: dict[str, set[int]] = {}
        self._painted: tuple[int, int] | None = None  # positions painted since the news
        self._want_details: dict[str, None] = {}
        self._since_rows: dict[str, None] | None = None  # keys changed since rows()
        self._thumbnails: OrderedDict[str, QPixmap] = OrderedDict()
        self.loading_tile = _tile("", Qt.GlobalColor.lightGray)
        self.no_thumbnail_tile = _tile("No thumbnail", Qt.GlobalColor.gray)

    # -- the grid ---------------------------------------------------------------------

    @property
    def columns(self) -> int:
        return self._columns

    def set_columns(self, columns: int) -> None:
        """Lay the entries out `columns` a row (the view's width changed)."""
        columns = max(1, columns)
        if columns != self._columns:
            self.beginResetModel()
            self._columns = columns
            self._waiting.clear()
            self._painted = None
            self.endResetModel()

    def index_of(self, position: int) -> QModelIndex:
        return self.index(position // self._columns, position % self._columns)

    def position(self, index: ModelIndex) -> int | None:
        """The entry a cell holds; None for an empty cell after the last entry."""
        if not index.isValid():
            return None
        position = index.row() * self._columns + index.column()
        return position if position < len(self._entries) else None

    def selection_of(self, positions: Iterable[int]) -> QItemSelection:
        """A selection of these entries' cells: at most three rectangles a run."""
        selection = QItemSelection()
        columns = self._columns
        ordered = sorted(positions)
        for _, run in itertools.groupby(enumerate(ordered), lambda pair: pair[1] - pair[0]):
            members = [position for _, position in run]
            (r0, c0), (r1, c1) = divmod(members[0], columns), divmod(members[-1], columns)
            if r0 == r1:
                selection.select(self.index(r0, c0), self.index(r0, c1))
                continue
            selection.select(self.index(r0, c0), self.index(r0, columns - 1))
            if r1 - r0 > 1:
                selection.select(self.index(r0 + 1, 0), self.index(r1 - 1, columns - 1))
            selection.select(self.index(r1, 0), self.index(r1, c1))
        return selection

    def positions_in(self, selection: QItemSelection) -> list[int]:
        """The entries a selection covers, in flow order (photos and headings)."""
        columns, count = self._columns, len(self._entries)
        found: set[int] = set()
        for number in range(selection.count()):
            span = selection.at(number)
            for row in range(span.top(), span.bottom() + 1):
                start = row * columns
                found.update(
                    p for p in range(start + span.left(), start + span.right() + 1) if p < count
                )
        return sorted(found)

    # -- what is shown ----------------------------------------------------------------

    def clear(self) -> None:
        self._rows = {}
        self.set_order(Ordered((), (), (), {}, {}))

    def set_order(self, ordered: Ordered) -> None:
        """Show the photos in this order (made on a worker from `rows()`: news that
        came meanwhile is folded in, photos new since then at the end)."""
        self._order = ordered
        self._position = ordered.positions  # (made on the worker with the order)
        changed, self._since_rows = self._since_rows, None
        if changed:
            keys, texts, groups = self._order_lists()
            for key in changed:
                row = self._rows.get(key)
                position = self._position.get(key)
                if row is None:
                    continue
                if position is None:
                    self._position[key] = len(keys)
                    keys.append(key)
                    texts.append(search_text(row))
                    groups.append(row[_ITEM] or NO_ITEM)
                else:
                    texts[position] = search_text(row)
        self._show()

    @property
    def order(self) -> Ordered:
        return self._order

    def set_search(self, text: str) -> None:
        self._words = text.lower().split()
        self._show()

    def _show(self) -> None:
        order = self._order
        keys, texts, groups = order.keys, order.texts, order.groups
        for word in self._words:  # one plain pass per word: 100,000 rows in about 10 ms
            kept = [i for i, text in enumerate(texts) if word in text]
            keys = [keys[i] for i in kept]
            texts = [texts[i] for i in kept]
            groups = [groups[i] for i in kept] if order.grouped else groups
        self.beginResetModel()
        self._waiting.clear()
        self._painted = None
        self._shown_count = len(keys)
        self._entries = (
            _with_headings(keys, groups, order.headings) if order.grouped else tuple(keys)
        )
        self.endResetModel()

    # -- news from the reading --------------------------------------------------------

    def apply(
        self,
        rows: Sequence[Row],
        removed: Iterable[str] = (),
        texts: Sequence[str] | None = None,
    ) -> None:
        """Photos read or changed (plain tuples; `texts`, what search looks in for each,
        made on a worker when given), and keys that are photos no more: new ones go at
        the end until the next ordering; cells on screen are repainted."""
        if texts is None:
            texts = [search_text(row) for row in rows]
        new: list[str] = []
        new_texts: list[str] = []
        shown_texts = self._order_lists()[1] if rows else []
        position_of = self._position
        since = self._since_rows
        for row, text in zip(rows, texts, strict=True):
            key = row[0]
            if since is not None:
                since[key] = None
            if key not in self._rows:
                new.append(key)
                new_texts.append(text)
            self._rows[key] = row
            position = position_of.get(key)
            if position is not None:
                shown_texts[position] = text
        for key in removed:
            self._rows.pop(key, None)  # (its cell shows empty until the next ordering)
        if new:
            self._append(new, new_texts)
        if (rows or removed) and self._painted is not None:
            first, last = self._painted
            self._painted = None
            last = min(last, len(self._entries) - 1)
            if first <= last:
                self.dataChanged.emit(
                    self.index(first // self._columns, 0),
                    self.index(last // self._columns, self._columns - 1),
                )

    def _order_lists(self) -> tuple[list[str], list[str], list[str]]:
        """The order's keys, texts and groups as lists, to change in place (the worker
        makes tuples, untracked by the cycle collector, until news changes them)."""
        order = self._order
        if not isinstance(order.texts, list):
            order = replace(
                order, keys=list(order.keys), texts=list(order.texts), groups=list(order.groups)
            )
            self._order = order
        return order.keys, order.texts, order.groups  # type: ignore[return-value]

    def _append(self, keys: list[str], texts: list[str]) -> None:
        all_keys, all_texts, groups = self._order_lists()
        start = len(all_keys)
        all_keys.extend(keys)
        all_texts.extend(texts)
        groups.extend(itertools.repeat(NO_ITEM, len(keys)))
        self._position.update(zip(keys, range(start, start + len(keys)), strict=True))
        words = self._words
        shown = (
            [k for k, t in zip(keys, texts, strict=True) if all(w in t for w in words)]
            if words
            else keys
        )
        if not shown:
            return
        columns = self._columns
        before = len(self._entries)
        rows_before = self.rowCount()
        rows_after = (before + len(shown) + columns - 1) // columns
        if rows_after > rows_before:
            self.beginInsertRows(QModelIndex(), rows_before, rows_after - 1)
        entries = self._entries if isinstance(self._entries, list) else list(self._entries)
        entries.extend(shown)
        self._entries = entries
        self._shown_count += len(shown)
        if rows_after > rows_before:
            self.endInsertRows()
        if before % columns:  # the last row had empty cells: they hold photos now
            row = before // columns
            self.dataChanged.emit(self.index(row, 0), self.index(row, columns - 1))

    def take_wanted_details(self) -> list[str]:
        """Painted photos whose details are still to be read, since the last call."""
        wanted = list(self._want_details)
        self._want_details.clear()
        return wanted

    def rows(self) -> list[Row]:
        """Every photo known (for ordering on a worker: plain tuples). What changes from
        now until set_order is noted, so the order made from these misses nothing."""
        self._since_rows = {}
        return list(self._rows.values())

    def update(self, photo: Photo) -> None:
        """One photo changed here (its item edited): as news of it."""
        if photo.key in self._rows:
            self._painted = (0, len(self._entries) - 1) if self._entries else None
            self.apply([tuple(photo)])

    # -- asking -----------------------------------------------------------------------

    def photo(self, key: str) -> Photo | None:
        row = self._rows.get(key)
        return Photo._make(row) if row is not None else None

    def entry(self, position: int) -> Entry:
        return self._entries[position]

    def photo_at(self, position: int) -> Photo | None:
        entry = self._entries[position]
        return None if isinstance(entry, tuple) else self.photo(entry)

    def keys_by_position(self) -> list[str]:
        """The key of each entry shown ("" for a heading)."""
        return [entry if isinstance(entry, str) else "" for entry in self._entries]

    def position_of(self, key: str) -> int | None:
        return self.positions_of([key]).get(key)

    def positions_of(self, keys: Sequence[str]) -> dict[str, int]:
        """Where these photos are shown (those shown): a scan in C per key for a few, one
        dictionary for many."""
        entries = self._entries
        if len(keys) > 64:
            wanted = set(keys)
            return {e: i for i, e in enumerate(entries) if isinstance(e, str) and e in wanted}
        found: dict[str, int] = {}
        for key in keys:
            with contextlib.suppress(ValueError):
                found[key] = entries.index(key)
        return found

    def group_positions(self, position: int) -> list[int]:
        """A heading's photos: the positions after it up to the next heading."""
        entry = self._entries[position]
        count = entry[2] if isinstance(entry, tuple) else 0
        return list(range(position + 1, position + 1 + count))

    @property
    def entries(self) -> int:
        return len(self._entries)

    @property
    def photos_shown(self) -> int:
        return self._shown_count

    @property
    def photos_known(self) -> int:
        return len(self._rows)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return (len(self._entries) + self._columns - 1) // self._columns

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._columns

    def index(self, row: int, column: int, parent: ModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        """One call from Qt where the default asks rowCount and columnCount (each a call
        into Python that takes the GIL) for every cell it paints."""
        columns = self._columns
        if parent.isValid() or not 0 <= column < columns or row < 0:
            return QModelIndex()
        if row * columns >= len(self._entries):
            return QModelIndex()
        return self.createIndex(row, column)

    # (No flags(): Qt's own answers without a call into Python for each painted cell.
    # A heading or an empty cell may be selected; it is no photo, and is ignored.)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        position = self.position(index)
        if position is None:
            return None
        entry = self._entries[position]
        if isinstance(entry, tuple):
            return self._heading_data(entry, role)
        row = self._rows.get(entry)
        if row is None:
            return None  # gone since the last ordering
        photo = Photo._make(row)
        if role == Qt.ItemDataRole.DisplayRole:
            return photo.key[photo.key.rfind("/") + 1 :]
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnail(photo, position)
        if role == Qt.ItemDataRole.ToolTipRole:
            return photo_summary(photo)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"Photo {photo.key[photo.key.rfind('/') + 1 :]}"
        if role == PhotoRole.PHOTO:
            return photo
        return None

    @staticmethod
    def _heading_data(heading: Heading, role: int) -> Any:
        group, text, count = heading
        photos = "1 photo" if count == 1 else f"{count:,} photos"
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{text}\n{photos}"
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            return f"Item {text}: {photos}" if group else f"Photos of no item: {photos}"
        if role == PhotoRole.HEADING:
            return (group, count)
        return None

    def thumbnail(self, photo: Photo, position: int) -> QPixmap:
        """The photo's thumbnail, or a tile while it (or its details) is on its way;
        asks for what is missing. Called as the cell at `position` is painted."""
        painted = self._painted
        self._painted = (
            (position, position)
            if painted is None
            else (min(position, painted[0]), max(position, painted[1]))
        )
        if not photo.detailed:
            self._want_details[photo.key] = None
            return self.loading_tile
        key = photo.thumbnail_key
        if key is None:
            return self.no_thumbnail_tile
        pixmap = self._thumbnails.get(key)
        if pixmap is None:
            if len(self._waiting) > 2 * THUMBNAIL_CACHE:
                self._waiting.clear()  # (cells scrolled past: painted again, they ask again)
            self._waiting.setdefault(key, set()).add(position)
            self.thumbnail_wanted.emit(key)
            return self.loading_tile
        self._thumbnails.move_to_end(key)
        return pixmap

    def set_thumbnail(self, key: str, image: QImage) -> None:
        self._thumbnails[key] = QPixmap.fromImage(image)
        while len(self._thumbnails) > THUMBNAIL_CACHE:
            self._thumbnails.popitem(last=False)
        for position in sorted(self._waiting.pop(key, ())):
            if position < len(self._entries):
                index = self.index_of(position)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def has_thumbnail(self, key: str) -> bool:
        return key in self._thumbnails

    @property
    def cached_thumbnails(self) -> int:
        return len(self._thumbnails)


def _with_headings(
    keys: Sequence[str], groups: Sequence[str], headings: dict[str, str]
) -> tuple[Entry, ...]:
    shown: list[Entry] = []
    start = 0
    for group, members in itertools.groupby(groups):
        count = sum(1 for _ in members)
        shown.append((group, headings.get(group, group or "No item"), count))
        shown.extend(keys[start : start + count])
        start += count
    return tuple(shown)


def _tile(text: str, colour: Qt.GlobalColor) -> QPixmap:
    """A square standing in for a thumbnail (being fetched, or none to fetch)."""
    pixmap = QPixmap(ICON_SIDE, ICON_SIDE)
    pixmap.fill(colour)
    if text:
        painter = QPainter(pixmap)
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, text)
        painter.end()
    return pixmap
