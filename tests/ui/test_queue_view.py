"""The queue's table at the sizes collectors use: the reason a file failed always has
room (no horizontal scroll bar hides it), names and messages wrap onto two lines, and
a second bucket gets its own column."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFont, QFontMetrics
from pytestqt.qtbot import QtBot

from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.ui.columns import Column
from app.ui.delegates import wrap_lines
from app.ui.queue_model import QueueModel
from app.ui.queue_proxy import QueueFilterProxy
from app.ui.queue_view import MIN_MESSAGE, MIN_NAME, QueueView

pytestmark = pytest.mark.qt_log_level_fail("WARNING")

REASON = (
    "Thumbnail failed: Only part of the image could be read (the file ends too soon), "
    "so no thumbnail was made."
)


def view_of(qtbot: QtBot, snaps: list[FileSnapshot], width: int) -> QueueView:
    model = QueueModel(None, dark=False)
    model.apply_snapshots(snaps)
    proxy = QueueFilterProxy()
    proxy.setSourceModel(model)
    view = QueueView(proxy)
    view.resize(width, 300)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


def rows(bucket: str = "coins", count: int = 3) -> list[FileSnapshot]:
    return [
        FileSnapshot(
            n,
            Path(f"/photos/Half crown 1887 (card reader error) {n}.jpg"),
            FileState.UPLOADED,
            thumbnail_state=ThumbnailState.FAILED,
            thumbnail_error=REASON,
            bucket=bucket,
            original_in_bucket=True,
        )
        for n in range(1, count + 1)
    ]


@pytest.mark.parametrize("width", [710, 880, 1400])
def test_the_message_always_has_room_and_nothing_scrolls_sideways(qtbot: QtBot, width: int) -> None:
    """Widths a table has at 1024, 1280 and 1920 px windows beside the detail pane."""
    view = view_of(qtbot, rows(), width)
    assert not view.horizontalScrollBar().isVisible()
    right = max(
        view.columnViewportPosition(c) + view.columnWidth(c)
        for c in Column
        if not view.isColumnHidden(c)
    )
    assert right <= view.viewport().width() + 1  # every column on screen
    message = view.columnWidth(Column.MESSAGE)
    assert message >= MIN_MESSAGE - 1
    if width >= 1000:
        assert view.columnWidth(Column.NAME) == 260  # room enough: as wide as it was set


def test_a_name_the_collector_widened_is_kept_until_the_message_needs_the_room(
    qtbot: QtBot,
) -> None:
    view = view_of(qtbot, rows(), 1400)
    view.setColumnWidth(Column.NAME, 400)
    view.resize(720, 300)
    qtbot.waitUntil(lambda: view.columnWidth(Column.NAME) < 400)
    assert view.columnWidth(Column.MESSAGE) >= MIN_MESSAGE - 1 or (
        view.columnWidth(Column.NAME) == MIN_NAME
    )
    view.resize(1400, 300)
    qtbot.waitUntil(lambda: view.columnWidth(Column.NAME) == 400)


def test_a_reason_wraps_onto_two_lines_and_the_rest_is_elided_at_its_end() -> None:
    font = QFont()
    lines = wrap_lines(REASON, font, 220, 2)
    assert len(lines) == 2
    assert REASON.startswith(lines[0]) and lines[0].endswith(("part", "of", "the", "image"))
    assert lines[1].endswith("…")
    assert wrap_lines("Penny 1967-338cc963.jpg", font, 400, 2) == ["Penny 1967-338cc963.jpg"]


def test_a_key_wraps_at_any_character_and_keeps_its_extension() -> None:
    key = "Farthing 1860 scan-5165eeb9d7745f9b8974a2e.dng"
    lines = wrap_lines(key, QFont(), 90, 2, anywhere=True, elide=Qt.TextElideMode.ElideMiddle)
    assert len(lines) == 2 and key.startswith(lines[0]) and lines[1].endswith(".dng")


def test_a_bucket_column_appears_when_the_queue_holds_two_buckets(qtbot: QtBot) -> None:
    view = view_of(qtbot, rows("coins", 2), 1400)
    assert view.isColumnHidden(Column.BUCKET)
    model = view.proxy.sourceModel()
    assert isinstance(model, QueueModel)
    assert model.bucket_count == 1
    more = [FileSnapshot(9, Path("/photos/stamp.jpg"), FileState.QUEUED, bucket="stamps")]
    model.apply_snapshots(more)
    assert model.bucket_count == 2
    view.show_buckets(model.bucket_count > 1)
    assert not view.isColumnHidden(Column.BUCKET)
    index = model.index(model.row_of(9) or 0, Column.BUCKET)
    assert index.data() == "stamps"
    assert index.data(Qt.ItemDataRole.AccessibleTextRole) == "Bucket: stamps"
    assert not view.horizontalScrollBar().isVisible()


def test_cells_tell_a_screen_reader_each_files_fate(qtbot: QtBot) -> None:
    view = view_of(qtbot, rows(count=1), 1400)
    model = view.proxy.sourceModel()
    status = model.index(0, Column.STATUS)
    thumbnail = model.index(0, Column.THUMBNAIL)
    assert status.data(Qt.ItemDataRole.AccessibleTextRole) == "Status: Uploaded"
    assert thumbnail.data(Qt.ItemDataRole.AccessibleTextRole) == "Thumbnail: Failed"
    assert REASON.removeprefix("Thumbnail failed: ") in thumbnail.data(
        Qt.ItemDataRole.AccessibleDescriptionRole
    )
    assert QRect() != view.visualRect(view.proxy.index(0, Column.MESSAGE))


def test_a_name_without_spaces_still_fits_its_cell_and_keeps_its_extension() -> None:
    """(Found in review: such a name ran past its cell, cut mid-character.)"""
    name = "IMG_20240501_140322_HDR_ProRAW_stacked_focus_bracket_00042.jpg"
    font = QFont()
    lines = wrap_lines(name, font, MIN_NAME, 2, elide=Qt.TextElideMode.ElideMiddle)
    metrics = QFontMetrics(font)
    assert len(lines) == 2
    assert all(metrics.horizontalAdvance(line) <= MIN_NAME for line in lines)
    assert name.startswith(lines[0]) and lines[1].endswith(".jpg")
