"""The Bucket tab's one list model: a row per photo shown, searched and ordered here,
thumbnails asked for as rows are painted and kept in a bounded cache."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import PurePosixPath
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QImage, QPainter, QPixmap

from app.core.collection import Photo

ModelIndex = QModelIndex | QPersistentModelIndex
ICON_SIDE = 128
#: Decoded thumbnails kept (128 px, about 64 kB each): a few screens' worth.
THUMBNAIL_CACHE = 600


class PhotoRole(IntEnum):
    PHOTO = Qt.ItemDataRole.UserRole + 1


SORTS: dict[str, Callable[[Photo], Any]] = {
    "Date taken": lambda p: (p.taken_at or "", p.key),
    "Uploaded": lambda p: (p.uploaded_at or "", p.key),
    "Name": lambda p: PurePosixPath(p.key).name.lower(),
    "Size": lambda p: p.size,
    "Item": lambda p: ((p.item.id or "") if p.item else "", p.key),
}


def photo_summary(photo: Photo) -> str:
    """The fields a collector reads about one photo, one per line."""
    item = photo.item
    lines = [photo.key, f"{photo.size:,} bytes · {photo.content_type}"]
    if item is not None and (item.id or item.title):
        lines.append("Item: " + " — ".join(t for t in (item.id, item.title) if t))
    if item is not None and item.view:
        lines.append(f"View: {item.view}")
    lines.append(f"Taken: {photo.taken_at or 'not recorded'}")
    lines.append(f"Uploaded: {photo.uploaded_at or 'before metadata files'}")
    lines.append(f"Thumbnail: {photo.thumbnail_key or 'none'}")
    if photo.has_gps:
        lines.append("Its metadata file keeps the GPS position.")
    return "\n".join(lines)


class BucketModel(QAbstractListModel):
    """One row per photo shown (plain data), searched and ordered here rather than in a
    proxy: with 100,000 photos a Python filterAcceptsRow or lessThan per row would
    stall the GUI for seconds. Thumbnails are asked for as rows are painted."""

    thumbnail_wanted = Signal(str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._all: list[Photo] = []  # in the chosen order
        self._texts: list[str] = []  # what search looks in, per photo of _all
        self._words: list[str] = []
        self._shown: list[Photo] = []
        # Rows painted while their thumbnail was on its way, by thumbnail key: the rows
        # to update when it arrives (a dataChanged over every row costs Qt's grid a walk
        # of all 100,000 each time).
        self._waiting: dict[str, set[int]] = {}
        self._thumbnails: OrderedDict[str, QPixmap] = OrderedDict()
        self._loading = _tile("", Qt.GlobalColor.lightGray)
        self._none = _tile("No thumbnail", Qt.GlobalColor.gray)

    def set_photos(self, ordered: Ordered) -> None:
        """Show these photos, in this order (sorted off the GUI thread: `ordered_by`)."""
        self._all, self._texts = ordered.photos, ordered.texts
        self._show()

    def set_search(self, text: str) -> None:
        self._words = text.lower().split()
        self._show()

    def _show(self) -> None:
        words = self._words
        self.beginResetModel()
        self._waiting.clear()
        photos, texts = self._all, self._texts
        for word in words:  # one plain pass per word: 100,000 rows in about 10 ms each
            kept = [i for i, text in enumerate(texts) if word in text]
            photos, texts = [photos[i] for i in kept], [texts[i] for i in kept]
        self._shown = list(photos)
        self.endResetModel()

    def photos(self) -> list[Photo]:
        return list(self._all)

    def photo_at(self, row: int) -> Photo:
        return self._shown[row]

    def row_of(self, key: str) -> int | None:
        return next((row for row, p in enumerate(self._shown) if p.key == key), None)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._shown)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._shown):
            return None
        photo = self._shown[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return PurePosixPath(photo.key).name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnail(photo, index.row())
        if role == Qt.ItemDataRole.ToolTipRole:
            return photo_summary(photo)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"Photo {PurePosixPath(photo.key).name}"
        if role == PhotoRole.PHOTO:
            return photo
        return None

    def _thumbnail(self, photo: Photo, row: int) -> QPixmap:
        key = photo.thumbnail_key
        if key is None:
            return self._none
        pixmap = self._thumbnails.get(key)
        if pixmap is None:
            self._waiting.setdefault(key, set()).add(row)
            self.thumbnail_wanted.emit(key)
            return self._loading
        self._thumbnails.move_to_end(key)
        return pixmap

    def set_thumbnail(self, key: str, image: QImage) -> None:
        self._thumbnails[key] = QPixmap.fromImage(image)
        while len(self._thumbnails) > THUMBNAIL_CACHE:
            self._thumbnails.popitem(last=False)
        for row in sorted(self._waiting.pop(key, ())):
            if row < len(self._shown):
                index = self.index(row)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def has_thumbnail(self, key: str) -> bool:
        return key in self._thumbnails

    @property
    def cached_thumbnails(self) -> int:
        return len(self._thumbnails)


def search_text(photo: Photo) -> str:
    """What search looks in: the key, the item's fields and the dates, lower case."""
    item = photo.item
    words = [photo.key, photo.taken_at or "", photo.uploaded_at or ""]
    if item is not None:
        words += [item.id or "", item.title or "", item.view or "", item.notes or ""]
    return " ".join(words).lower()


@dataclass(frozen=True, slots=True)
class Ordered:
    """Photos in the order chosen, with what search looks in for each (same order)."""

    photos: list[Photo]
    texts: list[str]


def ordered_by(photos: list[Photo], sort: str) -> Ordered:
    """The photos in the order `sort` names (seconds for big buckets: a worker's job)."""
    ordered = sorted(photos, key=SORTS[sort])
    return Ordered(ordered, [search_text(p) for p in ordered])


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
