"""A neutral picture frame, painted, shown where a preview is not (yet) there."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen


def draw_placeholder(side: int, *, dark: bool) -> QImage:
    image = QImage(side, side, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    frame = QColor("#475569" if dark else "#cbd5e1")
    fill = QColor("#1e293b" if dark else "#f1f5f9")
    inset = side * 0.12
    rect = QRectF(inset, inset + side * 0.08, side - 2 * inset, side - 2 * inset - side * 0.16)
    painter.setPen(QPen(frame, max(1.0, side / 32)))
    painter.setBrush(fill)
    painter.drawRoundedRect(rect, side * 0.08, side * 0.08)
    # Two hills and a sun: reads as "a photo goes here" at any size.
    hills = QPainterPath()
    hills.moveTo(rect.left() + rect.width() * 0.1, rect.bottom() - rect.height() * 0.15)
    hills.lineTo(rect.left() + rect.width() * 0.38, rect.top() + rect.height() * 0.45)
    hills.lineTo(rect.left() + rect.width() * 0.55, rect.top() + rect.height() * 0.65)
    hills.lineTo(rect.left() + rect.width() * 0.7, rect.top() + rect.height() * 0.5)
    hills.lineTo(rect.right() - rect.width() * 0.1, rect.bottom() - rect.height() * 0.15)
    hills.closeSubpath()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(frame)
    painter.drawPath(hills)
    radius = rect.height() * 0.12
    painter.drawEllipse(
        QRectF(
            rect.right() - rect.width() * 0.3,
            rect.top() + rect.height() * 0.18,
            radius * 2,
            radius * 2,
        )
    )
    painter.end()
    return image
