"""How the Bucket tab paints its cells: a photo (thumbnail and name in the grid;
thumbnail, name and a line of facts in the list), and an item's heading (a card in the
grid, a band in the list).

The delegate reads the model directly, once per cell: a QStyledItemDelegate asks the
model for a dozen roles per cell, each a call from Qt into Python that must take the
GIL, and while the bucket's survey threads hold it each such call may wait.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.core.collection import Photo
from app.ui.bucket.model import ICON_SIDE, BucketModel, photo_line

ModelIndex = QModelIndex | QPersistentModelIndex
MARGIN = 6
GRID_CELL = QSize(168, 176)
LIST_ROW = 44
LIST_ICON = 36


class BucketDelegate(QStyledItemDelegate):
    def __init__(self, model: BucketModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self.grid = True

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:
        return GRID_CELL if self.grid else QSize(400, LIST_ROW)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        model = self._model
        position = model.position(index)
        if position is None:
            return
        entry = model.entry(position)
        rect: QRect = option.rect
        palette: QPalette = option.palette
        painter.save()
        if isinstance(entry, tuple):
            self._paint_heading(painter, rect, palette, entry[1], entry[2])
        else:
            photo = model.photo(entry)
            if photo is not None:
                selected = bool(option.state & QStyle.StateFlag.State_Selected)
                if selected:
                    highlight = palette.color(QPalette.ColorRole.Highlight)
                    painter.fillRect(rect.adjusted(2, 2, -2, -2), highlight)
                if option.state & QStyle.StateFlag.State_HasFocus:
                    painter.setPen(palette.color(QPalette.ColorRole.Highlight).darker(130))
                    painter.drawRect(rect.adjusted(2, 2, -3, -3))
                role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
                painter.setPen(palette.color(role))
                pixmap = model.thumbnail(photo, position)
                if self.grid:
                    self._paint_tile(painter, rect, pixmap, photo)
                else:
                    faint = None if selected else palette.color(QPalette.ColorRole.PlaceholderText)
                    self._paint_row(painter, rect, pixmap, photo, faint)
        painter.restore()

    @staticmethod
    def _paint_tile(painter: QPainter, rect: QRect, pixmap: QPixmap, photo: Photo) -> None:
        metrics = painter.fontMetrics()
        side = min(  # (never above the thumbnails' own size: drawn unscaled, fast)
            ICON_SIDE, rect.width() - 2 * MARGIN, rect.height() - 2 * MARGIN - metrics.height() - 4
        )
        scaled = pixmap.size().scaled(QSize(side, side), Qt.AspectRatioMode.KeepAspectRatio)
        top = rect.top() + MARGIN + (side - scaled.height())
        left = rect.left() + (rect.width() - scaled.width()) // 2
        painter.drawPixmap(QRect(left, top, scaled.width(), scaled.height()), pixmap)
        text_top = rect.top() + MARGIN + side + 4
        text = QRect(
            rect.left() + MARGIN, text_top, rect.width() - 2 * MARGIN, rect.bottom() - text_top
        )
        painter.drawText(
            text,
            int(Qt.AlignmentFlag.AlignHCenter),
            _two_lines(metrics, _name(photo), text.width()),
        )

    @staticmethod
    def _paint_row(
        painter: QPainter, rect: QRect, pixmap: QPixmap, photo: Photo, faint: QColor | None
    ) -> None:
        metrics = painter.fontMetrics()
        icon = pixmap.size().scaled(QSize(LIST_ICON, LIST_ICON), Qt.AspectRatioMode.KeepAspectRatio)
        top = rect.top() + (rect.height() - icon.height()) // 2
        painter.drawPixmap(QRect(rect.left() + MARGIN, top, icon.width(), icon.height()), pixmap)
        text = rect.adjusted(LIST_ICON + 2 * MARGIN, 2, -MARGIN, -2)
        half = text.height() // 2
        align = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        name = metrics.elidedText(_name(photo), Qt.TextElideMode.ElideMiddle, text.width())
        painter.drawText(QRect(text.left(), text.top(), text.width(), half), align, name)
        if faint is not None:
            painter.setPen(faint)
        line = metrics.elidedText(photo_line(photo), Qt.TextElideMode.ElideRight, text.width())
        painter.drawText(QRect(text.left(), text.top() + half, text.width(), half), align, line)

    def _paint_heading(
        self, painter: QPainter, rect: QRect, palette: QPalette, title: str, count: int
    ) -> None:
        photos = "1 photo" if count == 1 else f"{count:,} photos"
        card = rect.adjusted(MARGIN // 2, MARGIN // 2, -MARGIN // 2, -MARGIN // 2)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
        painter.drawRoundedRect(card, 6, 6)
        painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
        painter.drawRect(QRect(card.left(), card.top(), 4, card.height()))
        inner = card.adjusted(MARGIN + 4, MARGIN, -MARGIN, -MARGIN)
        normal = QFont(painter.font())
        bold = QFont(normal)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        metrics = painter.fontMetrics()
        if self.grid:
            lines = max(1, (inner.height() - metrics.height()) // metrics.height())
            shown = metrics.elidedText(title, Qt.TextElideMode.ElideRight, inner.width() * lines)
            flags = (
                Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
            )
            painter.drawText(inner, int(flags), shown)
            painter.setFont(normal)
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                inner, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom), photos
            )
        else:
            line = metrics.elidedText(
                f"{title}  ·  {photos}", Qt.TextElideMode.ElideRight, inner.width()
            )
            painter.drawText(
                inner, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), line
            )


def _name(photo: Photo) -> str:
    return photo.key[photo.key.rfind("/") + 1 :]


def _two_lines(metrics: QFontMetrics, name: str, width: int) -> str:
    """A name on at most two lines: broken at the last space that fits (else where the
    width ends), the rest elided in its middle."""
    if metrics.horizontalAdvance(name) <= width:
        return name
    low, high = 1, len(name) - 1  # the longest prefix that fits: a binary search
    while low < high:
        middle = (low + high + 1) // 2
        if metrics.horizontalAdvance(name[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    fits = low
    space = name.rfind(" ", 0, fits + 1)
    cut = space if space > 0 else fits
    rest = metrics.elidedText(name[cut:].lstrip(), Qt.TextElideMode.ElideMiddle, width)
    return f"{name[:cut]}\n{rest}"
