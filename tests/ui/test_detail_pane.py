"""The detail pane never clips: long keys, URLs and hashes wrap and elide to its width,
whole in their tooltips and on the clipboard."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtGui import QGuiApplication, QImage
from pytestqt.qtbot import QtBot

from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.ui.detail_pane import DetailPane
from app.ui.preview_cache import PreviewCache

pytestmark = [
    pytest.mark.qt_log_level_fail("WARNING"),
    pytest.mark.qt_log_ignore("does not support propagateSizeHints"),
]

KEY = "Coins/1921/Morgan dollar, obverse, struck at Philadelphia-3f9a0c1e5165eeb9.jpg"
SHA = "3f9a0c1e5165eeb9d7745f9b8974a2e0df3f1ed2a801ceaae5a77193f9a0c1e5"


def uploaded() -> FileSnapshot:
    return FileSnapshot(
        1, Path("/photos/Morgan obverse.jpg"), FileState.UPLOADED, key=KEY, sha256=SHA,
        bucket="coins", size=4_811_922, content_type="image/jpeg",
        thumbnail_state=ThumbnailState.GENERATED, original_in_bucket=True,
    )  # fmt: skip


@pytest.mark.parametrize("width", [260, 420])
def test_long_values_are_elided_to_the_pane_never_clipped(qtbot: QtBot, width: int) -> None:
    pane = DetailPane()
    pane.set_endpoint_url("http://127.0.0.1:54071")
    qtbot.addWidget(pane)
    pane.resize(width, 800)
    pane.show()
    qtbot.waitExposed(pane)
    pane.show_snapshot(uploaded())
    for field, whole in ((pane.key, KEY), (pane.sha256, SHA)):
        label = field._value
        shown = field.shown_text()
        lines = shown.split("\n")
        assert 1 <= len(lines) <= 2
        room = label.contentsRect().width()
        assert all(label.fontMetrics().horizontalAdvance(line) <= room for line in lines)
        if shown.replace("\n", "") != whole:
            assert "…" in lines[-1] and label.toolTip() == whole
        field._copy.click()
        assert QGuiApplication.clipboard().text() == whole
    assert pane.key.shown_text().endswith(".jpg")  # elided in the middle: extension kept


def test_a_preview_being_made_says_so(qtbot: QtBot) -> None:
    pane = DetailPane()
    qtbot.addWidget(pane)
    pane.show_snapshot(uploaded(), None, loading=True)
    assert pane._preview.text() == "Loading the preview…"
    image = QImage(480, 320, QImage.Format.Format_RGB32)
    image.fill(0x336699)
    pane.show_snapshot(uploaded(), image)
    assert pane._preview.pixmap().width() == 240  # the pane's size, not a row's icon


def test_a_preview_that_cannot_be_made_stops_saying_it_is_loading(qtbot: QtBot) -> None:
    """(Found in review: the original had moved away, and the pane said "Loading the
    preview…" until another row was chosen.)"""

    def gone(_path: Path) -> bytes:
        raise FileNotFoundError("the original moved away")

    cache = PreviewCache(remake=None, large_remake=gone)
    try:
        with qtbot.waitSignal(cache.preview_ready, timeout=5000) as ready:
            assert cache.request_large(7, Path("/photos/moved.jpg"))
        assert ready.args == [7]
        assert cache.large_preview(7) is None
        assert not cache.request_large(7, Path("/photos/moved.jpg"))  # asked once only
    finally:
        cache.close()


def test_a_pane_preview_pushed_out_by_newer_thumbnails_is_made_again(qtbot: QtBot) -> None:
    """Bytes made for the pane leave when newer files' thumbnails come in; shown again,
    the file's preview is made again, not said to be missing."""
    made: list[Path] = []
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, "JPEG")
    jpeg = buffer.getvalue()

    def remake(path: Path) -> bytes:
        made.append(path)
        return jpeg

    cache = PreviewCache(remake=None, large_remake=remake, max_jpegs=1)
    try:
        with qtbot.waitSignal(cache.preview_ready, timeout=5000):
            cache.request_large(1, Path("/photos/a.jpg"))
        newer = FileSnapshot(2, Path("/photos/b.jpg"), FileState.UPLOADED, thumbnail_jpeg=jpeg)
        cache.offer(newer)  # the engine hands a newer file's thumbnail: a.jpg's goes
        with qtbot.waitSignal(cache.preview_ready, timeout=5000):
            assert cache.request_large(1, Path("/photos/a.jpg"))
        assert made == [Path("/photos/a.jpg")] * 2
    finally:
        cache.close()
