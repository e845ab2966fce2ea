"""Badge and status delegates, rendered for real (offscreen) and checked pixel by pixel."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QAbstractItemView, QStyleOptionViewItem, QTableView
from pytestqt.qtbot import QtBot

from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.ui.badges import Badge, state_badge, thumbnail_badge
from app.ui.delegates import BadgeDelegate, PreviewDelegate, StatusDelegate
from app.ui.queue_model import Column, QueueModel, QueueRole
from app.ui.queue_proxy import QueueFilterProxy

pytestmark = pytest.mark.qt_log_level_fail("WARNING")

ROWS = [
    FileSnapshot(1, Path("/p/a.jpg"), FileState.UPLOADED, size=10,
                 thumbnail_state=ThumbnailState.GENERATED),
    FileSnapshot(2, Path("/p/b.jpg"), FileState.UPLOADING, size=100, bytes_sent=50,
                 bytes_total=100),
    FileSnapshot(3, Path("/p/c.jpg"), FileState.FAILED, error="Access denied",
                 thumbnail_state=ThumbnailState.SKIPPED),
    FileSnapshot(4, Path("/p/d.jpg"), FileState.UPLOADING, size=100, bytes_sent=45,
                 bytes_total=100, notice="retrying (2/5)"),
]  # fmt: skip


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[QTableView]:
    model = QueueModel(None, dark=False)
    model.apply_snapshots(ROWS)
    proxy = QueueFilterProxy()
    proxy.setSourceModel(model)
    v = QTableView()
    v.setModel(proxy)
    v.setItemDelegateForColumn(Column.PREVIEW, PreviewDelegate(parent=v))
    v.setItemDelegateForColumn(Column.STATUS, StatusDelegate(v))
    v.setItemDelegateForColumn(Column.THUMBNAIL, BadgeDelegate(parent=v))
    v.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    v.verticalHeader().setDefaultSectionSize(40)
    v.setColumnWidth(Column.STATUS, 260)
    v.setColumnWidth(Column.THUMBNAIL, 120)
    v.resize(1000, 260)
    qtbot.addWidget(v)
    v.show()
    qtbot.waitExposed(v)
    yield v


def grab(view: QTableView) -> QImage:
    return view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)


def count(image: QImage, rect: QRect, colour: str, tolerance: int = 0) -> int:
    """Pixels in `rect` (logical = device pixels here) within `tolerance` of `colour`."""
    want = QColor(colour)
    n = 0
    for y in range(max(0, rect.top()), min(image.height(), rect.bottom() + 1)):
        for x in range(max(0, rect.left()), min(image.width(), rect.right() + 1)):
            c = image.pixelColor(x, y)
            if (
                abs(c.red() - want.red()) <= tolerance
                and abs(c.green() - want.green()) <= tolerance
                and abs(c.blue() - want.blue()) <= tolerance
            ):
                n += 1
    return n


def cell(view: QTableView, row: int, column: int) -> QRect:
    return view.visualRect(view.model().index(row, column))


def test_thumbnail_pill_has_its_colour_and_text(view: QTableView) -> None:
    image = grab(view)
    for row, snap in enumerate(ROWS):
        badge = thumbnail_badge(snap)
        rect = cell(view, row, Column.THUMBNAIL)
        assert count(image, rect, badge.background) > 100, badge
        # text, not colour alone: glyph pixels close to the text colour inside the pill
        assert count(image, rect, badge.foreground, tolerance=60) > 15, badge


def test_status_pill_and_progress_bar(view: QTableView) -> None:
    image = grab(view)
    delegate = view.itemDelegateForColumn(Column.STATUS)
    assert isinstance(delegate, StatusDelegate)
    badge = state_badge(ROWS[1])
    rect = cell(view, 1, Column.STATUS)
    assert count(image, rect, badge.background) > 100
    option = QStyleOptionViewItem()
    option.rect = rect
    option.font = view.font()
    option.fontMetrics = QFontMetrics(view.font())
    pill = delegate.pill_rect(option, badge.text)
    assert pill.width() == option.fontMetrics.horizontalAdvance(badge.text) + 2 * delegate.H_PAD
    assert rect.contains(pill)
    bar_y = pill.bottom() - 1
    left = QRect(pill.left() + pill.height(), bar_y, pill.width() // 2 - pill.height() - 4, 1)
    right = QRect(pill.left() + pill.width() // 2 + 4, bar_y, pill.width() // 2 - pill.height(), 1)
    assert count(image, left, badge.foreground, tolerance=10) == left.width()  # 50% filled
    assert count(image, right, badge.foreground, tolerance=10) == 0
    # a finished file has no bar
    done = state_badge(ROWS[0])
    done_rect = cell(view, 0, Column.STATUS)
    done_pill = delegate.pill_rect(option, done.text).translated(0, done_rect.top() - rect.top())
    bottom = QRect(done_pill.left() + done_pill.height(), done_pill.bottom() - 1, 10, 1)
    assert count(image, bottom, done.background) == bottom.width()


def test_long_text_is_elided_inside_a_narrow_cell(view: QTableView) -> None:
    view.setColumnWidth(Column.STATUS, 90)
    view.viewport().update()
    image = grab(view)
    rect = cell(view, 3, Column.STATUS)
    badge = state_badge(ROWS[3])
    assert "retrying" in badge.text
    assert count(image, rect, badge.background) > 50
    outside = QRect(rect.right() + 1, rect.top(), 12, rect.height())
    assert count(image, outside, badge.background) == 0


def test_selection_background_is_drawn_under_the_pill(view: QTableView) -> None:
    view.selectRow(2)
    view.setFocus()
    image = grab(view)
    rect = cell(view, 2, Column.STATUS)
    highlight = view.palette().color(
        view.palette().ColorGroup.Active, view.palette().ColorRole.Highlight
    )
    assert count(image, rect, highlight.name(), tolerance=8) > 200
    assert count(image, rect, state_badge(ROWS[2]).background) > 100


def test_size_hint_fits_the_text(view: QTableView) -> None:
    delegate = view.itemDelegateForColumn(Column.STATUS)
    assert isinstance(delegate, BadgeDelegate)
    option = QStyleOptionViewItem()
    option.font = view.font()
    option.fontMetrics = QFontMetrics(view.font())
    index = view.model().index(3, Column.STATUS)
    badge = index.data(QueueRole.STATE_BADGE)
    assert isinstance(badge, Badge)
    hint = delegate.sizeHint(option, index)
    assert hint.width() >= option.fontMetrics.horizontalAdvance(badge.text) + 2 * delegate.H_PAD
    assert hint.height() >= option.fontMetrics.height()


def test_crisp_at_device_pixel_ratio_two(view: QTableView) -> None:
    """Painted into a 2x image the pill is twice as tall in device pixels, edges smooth."""
    delegate = BadgeDelegate(QueueRole.STATE_BADGE)
    index = view.model().index(0, Column.STATUS)
    badge = state_badge(ROWS[0])
    image = QImage(200, 60, QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(2.0)
    image.fill(Qt.GlobalColor.white)
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 100, 30)
    option.font = view.font()
    option.fontMetrics = QFontMetrics(view.font())
    painter = QPainter(image)
    delegate.paint(painter, option, index)
    painter.end()
    pill = delegate.pill_rect(option, badge.text)
    column_x = (pill.left() + 6) * 2
    rows = [y for y in range(60) if image.pixelColor(column_x, y) == QColor(badge.background)]
    assert len(rows) >= 2 * pill.height() - 8  # drawn at device resolution


def test_preview_is_centred(view: QTableView) -> None:
    view.setColumnWidth(Column.PREVIEW, 80)
    image = grab(view)
    rect = cell(view, 0, Column.PREVIEW)
    placeholder = view.model().index(0, Column.PREVIEW).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(placeholder, QImage)
    frame = "#cbd5e1"
    left = QRect(rect.left(), rect.top(), rect.width() // 2, rect.height())
    right = QRect(rect.left() + rect.width() // 2, rect.top(), rect.width() // 2, rect.height())
    assert abs(count(image, left, frame) - count(image, right, frame)) < 40
    assert count(image, rect, frame) > 50


def test_ten_thousand_rows_paint_quickly(qtbot: QtBot) -> None:
    model = QueueModel(None, dark=False)
    states = list(FileState)
    model.apply_snapshots(
        [
            FileSnapshot(i, Path(f"/p/{i}.jpg"), states[i % len(states)], size=i,
                         bytes_sent=i // 2, bytes_total=i)
            for i in range(1, 10_001)
        ]
    )  # fmt: skip
    v = QTableView()
    v.setModel(model)
    v.setItemDelegateForColumn(Column.STATUS, StatusDelegate(v))
    v.setItemDelegateForColumn(Column.THUMBNAIL, BadgeDelegate(parent=v))
    v.resize(1000, 800)
    qtbot.addWidget(v)
    v.show()
    qtbot.waitExposed(v)
    bar = v.verticalScrollBar()
    start = time.perf_counter()
    pages = 20
    for page in range(pages):
        bar.setValue(page * bar.maximum() // pages)
        v.viewport().grab()
    per_page = (time.perf_counter() - start) / pages
    print(f"\nrepaint of a 1000x800 page of 10,000 rows: {per_page * 1000:.1f} ms")
    assert bar.maximum() > 9000
