"""Delegates that paint the queue's badges as coloured pills with text.

Paint runs for every visible cell on every repaint, so it only reads two roles, uses
the view's font and metrics from the option, and caches QColors by hex string.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPainter,
    QPainterPath,
    QPalette,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.ui.badges import Badge
from app.ui.queue_model import QueueRole

_DECORATION = int(Qt.ItemDataRole.DecorationRole)

AnyIndex = QModelIndex | QPersistentModelIndex

_colours: dict[str, QColor] = {}


def _colour(hex_colour: str) -> QColor:
    colour = _colours.get(hex_colour)
    if colour is None:
        colour = _colours[hex_colour] = QColor(hex_colour)
    return colour


class BadgeDelegate(QStyledItemDelegate):
    """Paints the `Badge` under `role` as a rounded pill: text on a tinted background.

    Falls back to the default painting when the cell holds no badge.
    """

    MARGIN = 4  # between the cell edge and the pill
    H_PAD = 8  # inside the pill, left and right of the text
    V_PAD = 3  # inside the pill, above and below the text

    def __init__(
        self, role: int = QueueRole.THUMBNAIL_BADGE, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._role = int(role)

    @property
    def role(self) -> int:
        return self._role

    def badge(self, index: AnyIndex) -> Badge | None:
        value = index.data(self._role)
        return value if isinstance(value, Badge) else None

    def pill_rect(self, option: QStyleOptionViewItem, text: str) -> QRect:
        """Where the pill goes in the cell: left-aligned, vertically centred."""
        metrics = option.fontMetrics
        cell = option.rect.adjusted(self.MARGIN, 0, -self.MARGIN, 0)
        height = min(metrics.height() + 2 * self.V_PAD, cell.height())
        width = min(metrics.horizontalAdvance(text) + 2 * self.H_PAD, cell.width())
        top = cell.top() + (cell.height() - height) // 2
        return QRect(cell.left(), top, max(0, width), height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        badge = self.badge(index)
        if badge is None:
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            # The option from the view has no text or icon yet: this draws only the
            # (alternating / selected) background and the focus frame.
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        self.paint_pill(painter, option, badge, self.progress(index))

    def progress(self, index: AnyIndex) -> float | None:
        return None

    def paint_pill(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        badge: Badge,
        progress: float | None = None,
    ) -> None:
        rect = self.pill_rect(option, badge.text)
        if rect.width() <= 2 * self.V_PAD or rect.height() <= 0:
            return
        foreground = _colour(badge.foreground)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        shape = QRectF(rect)
        radius = shape.height() / 2
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_colour(badge.background))
        painter.drawRoundedRect(shape, radius, radius)
        if progress is not None:
            self._paint_progress(painter, shape, radius, foreground, progress)
        painter.setPen(foreground)
        painter.setFont(option.font)
        text_rect = rect.adjusted(self.H_PAD, 0, -self.H_PAD, 0)
        text = badge.text
        if option.fontMetrics.horizontalAdvance(text) > text_rect.width():
            text = option.fontMetrics.elidedText(
                text, Qt.TextElideMode.ElideRight, max(0, text_rect.width())
            )
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def _paint_progress(
        self,
        painter: QPainter,
        shape: QRectF,
        radius: float,
        colour: QColor,
        progress: float,
    ) -> None:
        """A 3-px bar along the bottom of the pill, clipped to its rounded shape."""
        clip = QPainterPath()
        clip.addRoundedRect(shape, radius, radius)
        painter.setClipPath(clip, Qt.ClipOperation.IntersectClip)
        bar = QRectF(shape.left(), shape.bottom() - 3, shape.width(), 3)
        track = QColor(colour)
        track.setAlphaF(0.2)
        painter.fillRect(bar, track)
        bar.setWidth(shape.width() * max(0.0, min(1.0, progress)))
        painter.fillRect(bar, colour)

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        badge = self.badge(index)
        if badge is None:
            return super().sizeHint(option, index)
        metrics = option.fontMetrics
        return QSize(
            metrics.horizontalAdvance(badge.text) + 2 * (self.H_PAD + self.MARGIN),
            metrics.height() + 2 * (self.V_PAD + self.MARGIN),
        )


class StatusDelegate(BadgeDelegate):
    """The status pill, with a thin progress bar inside it while the file uploads."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(QueueRole.STATE_BADGE, parent)

    def progress(self, index: AnyIndex) -> float | None:
        value = index.data(QueueRole.PROGRESS)
        return float(value) if isinstance(value, (int, float)) else None


class PreviewDelegate(QStyledItemDelegate):
    """Draws the DecorationRole QImage centred in the cell, at most `max_side` logical px.

    A preview made at twice the size (for a 2x screen) is drawn at `max_side` and
    stays crisp; the default delegate would left-align it at its pixel size.
    """

    def __init__(self, max_side: int = 48, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._max_side = max_side

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        image = index.data(_DECORATION)
        if not isinstance(image, QImage) or image.isNull():
            super().paint(painter, option, index)
            return
        widget = option.widget
        if widget is not None:
            widget.style().drawControl(
                QStyle.ControlElement.CE_ItemViewItem, option, painter, widget
            )
        cell = QRectF(option.rect.adjusted(2, 2, -2, -2))
        width, height = image.width(), image.height()
        scale = min(1.0, self._max_side / max(width, height), cell.width() / max(width, 1))
        scale = min(scale, cell.height() / max(height, 1))
        target = QRectF(0, 0, width * scale, height * scale)
        target.moveCenter(cell.center())
        painter.save()
        if scale < 1.0:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, image)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return QSize(self._max_side + 8, self._max_side + 8)


class TwoLineDelegate(QStyledItemDelegate):
    """Text on up to two lines, wrapped at words, the second elided (at its end for a
    message, whose start says what happened; in the middle for a name, which keeps its
    extension). A failure's reason reads whole far more often than on one line, and rows
    are two lines high for the preview anyway. The whole text is in the tooltip and the
    detail pane."""

    LINES = 2
    H_PAD = 4
    CACHE = 4096  # wrapped texts kept (a screenful is a few dozen; a resize makes new)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        elide: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
    ) -> None:
        super().__init__(parent)
        self._elide = elide
        self._wrapped: OrderedDict[tuple[str, int, str], list[str]] = OrderedDict()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        # Paint runs for every visible cell on every repaint (30 a second while files
        # upload): one call into the model, no initStyleOption (which asks it for every
        # role), and the wrapping of a text at a width is remembered.
        text = index.data(Qt.ItemDataRole.DisplayRole)
        widget = option.widget
        style = widget.style() if widget is not None else None
        if style is not None:  # (the view's option has no text yet: background and focus)
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        if not isinstance(text, str) or not text:
            return
        rect = option.rect.adjusted(self.H_PAD, 0, -self.H_PAD, 0)
        lines = self._lines(text, option.font, rect.width())
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        painter.setFont(option.font)
        painter.setPen(option.palette.color(role))
        line_height = option.fontMetrics.lineSpacing()
        top = rect.top() + (rect.height() - line_height * len(lines)) // 2
        for number, line in enumerate(lines):
            line_rect = QRect(rect.left(), top + number * line_height, rect.width(), line_height)
            align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            painter.drawText(line_rect, align, line)
        painter.restore()

    def _lines(self, text: str, font: QFont, width: int) -> list[str]:
        key = (text, width, font.key())
        lines = self._wrapped.get(key)
        if lines is None:
            lines = wrap_lines(text, font, width, self.LINES, elide=self._elide)
            self._wrapped[key] = lines
            if len(self._wrapped) > self.CACHE:
                self._wrapped.popitem(last=False)
        return lines


def wrap_lines(
    text: str,
    font: QFont,
    width: int,
    most: int,
    *,
    anywhere: bool = False,
    elide: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
) -> list[str]:
    """`text` wrapped into at most `most` lines of `width` pixels, at words where it can
    (with `anywhere`, at any character: keys and hashes have no spaces); the last line
    takes the rest, elided by `elide`. No line is wider than `width`."""
    if width <= 0 or not text:
        return []
    layout = QTextLayout(text, font)
    option = QTextOption()
    # At words where it can (at any character for keys and hashes): a name without a
    # space (IMG_20240501_140322_HDR.jpg) must still break, not run past the cell.
    option.setWrapMode(
        QTextOption.WrapMode.WrapAnywhere
        if anywhere
        else QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere
    )
    layout.setTextOption(option)
    layout.beginLayout()
    lines: list[str] = []
    end = 0
    while len(lines) < most - 1:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        start, length = line.textStart(), line.textLength()
        lines.append(text[start : start + length].rstrip())
        end = start + length
    layout.endLayout()
    rest = text[end:].strip()
    if rest:
        lines.append(QFontMetrics(font).elidedText(rest, elide, width))
    return lines
