"""The window as a collector uses it: drops, badges, retry, settings, closing.

The real MainWindow, controller, model and engine run on a qasync loop; the bucket is a
FakeStore (faults injected) except where a test says it uses a real server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QLineEdit,
    QWidget,
)

from app.core.config import Destination
from app.core.models import FileState, ThumbnailState
from app.ui.badges import FilterCategory
from app.ui.controller import UploadController
from app.ui.preview_cache import PreviewCache
from app.ui.queue_model import Column, QueueModel
from app.ui.settings import AppSettings, MemorySecretStore, SettingsStore
from app.ui.window import MainWindow
from tests.helpers import corpus
from tests.helpers.fakes import FakeNotifier, FakeStore

REPO = Path(__file__).resolve().parents[2]


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for a condition (not for time): fail clearly if it never holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


class App:
    """A window wired like the real one, with a FakeStore behind the engine."""

    def __init__(self, settings_file: Path, store: FakeStore) -> None:
        self.store = store
        self.settings_store = SettingsStore(
            QSettings(str(settings_file), QSettings.Format.IniFormat), MemorySecretStore()
        )
        self.previews = PreviewCache()
        self.model = QueueModel(self.previews)
        self.controller = UploadController(
            self.model,
            store_factory=self._store_for,
            local_server=_no_local_server,
            bucket_store=lambda _destination: store,  # the Bucket tab reads the same fake
        )
        self.notifier = FakeNotifier()  # (no real notifications on a developer's desktop)
        self.window = MainWindow(
            self.controller, self.model, self.previews, self.settings_store,
            notifier=self.notifier,
        )  # fmt: skip
        self.destinations: list[Destination] = []

    def _store_for(self, destination: Destination, concurrency: int) -> FakeStore:
        self.destinations.append(destination)
        return self.store

    async def start(self) -> None:
        settings = self.settings_store.load()
        if settings.uses_local_bucket:
            settings = AppSettings(bucket="fake-bucket")
            self.settings_store.save(settings)
        self.window.show()
        await self.controller.start(settings, None)

    async def close(self) -> None:
        await asyncio.wait_for(self.controller.aclose(), 15)
        self.previews.close()
        self.window.hide()
        self.window.deleteLater()

    def snap(self, name: str) -> Any:
        for row in range(self.model.rowCount()):
            snap = self.model.snapshot_at(row)
            if snap.path.name == name:
                return snap
        return None

    def cell(self, name: str, column: Column, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        for row in range(self.model.rowCount()):
            if self.model.snapshot_at(row).path.name == name:
                return self.model.index(row, column).data(role)
        raise KeyError(name)

    def idle(self) -> bool:
        return self.model.rowCount() > 0 and not self.controller.has_unfinished()


def _no_local_server() -> Any:
    raise AssertionError("these tests configure a bucket; the local server must not start")


def run(loop: qasync.QEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
    return loop.run_until_complete(coro)


def drop(window: MainWindow, paths: list[Path]) -> QDropEvent:
    """Drag file URLs over the window and drop them, as a file manager does: the
    enter, move and drop events a real drag sends, copy or move allowed."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    where = window.rect().center()  # QPoint: what 6.8-6.11 take for enter and move
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(where, actions, mime, buttons, keys)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted(), "the window refused the drag"
    QApplication.sendEvent(window, QDragMoveEvent(where, actions, mime, buttons, keys))
    event = QDropEvent(QPointF(where), actions, mime, buttons, keys)
    QApplication.sendEvent(window, event)
    return event


def test_dropped_files_and_folder_show_each_fate_with_badges(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    single = corpus.jpeg_photo(tmp_path / "loose coin.jpg", (400, 300))
    folder = tmp_path / "album"
    folder.mkdir()
    corpus.jpeg_photo(folder / "stamp.jpg", (300, 400), seed=3)
    corpus.truncated_jpeg(folder / "damaged.jpg")
    corpus.text_named_jpg(folder / "notes.jpg")
    app = App(tmp_path / "settings.ini", FakeStore())

    async def go() -> QDropEvent:
        await app.start()
        assert app.window.pages.currentWidget() is app.window.drop_hint  # empty: drop target
        event = drop(app.window, [single, folder])
        await until(lambda: app.model.rowCount() == 4 and app.idle())
        return event

    try:
        event = run(loop, go())
        assert event.isAccepted()
        assert event.dropAction() == Qt.DropAction.CopyAction  # never a move
        assert app.window.pages.currentWidget() is app.window.table
        assert app.cell("loose coin.jpg", Column.STATUS) == "Uploaded"
        assert app.cell("loose coin.jpg", Column.THUMBNAIL) == "Generated"
        assert app.cell("damaged.jpg", Column.STATUS) == "Uploaded"
        assert app.cell("damaged.jpg", Column.THUMBNAIL) == "Failed"
        assert "only part of the image" in app.cell("damaged.jpg", Column.MESSAGE).lower()
        assert (
            "only part of the image"
            in app.cell("damaged.jpg", Column.THUMBNAIL, Qt.ItemDataRole.ToolTipRole).lower()
        )
        assert app.cell("notes.jpg", Column.STATUS) == "Failed"
        assert app.cell("notes.jpg", Column.THUMBNAIL) == "Skipped"
        assert "not a supported image" in app.cell("notes.jpg", Column.MESSAGE)
        # Sources untouched: a drop copies.
        assert single.exists() and (folder / "stamp.jpg").exists()
    finally:
        run(loop, app.close())


def test_the_bucket_tab_shows_what_the_queue_uploaded(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    folder = tmp_path / "Morgan 1921"
    folder.mkdir()
    corpus.jpeg_photo(folder / "obverse.jpg", (400, 300))
    corpus.jpeg_photo(folder / "reverse.jpg", (400, 300), seed=2)
    app = App(tmp_path / "settings.ini", FakeStore())

    async def go() -> None:
        await app.start()
        app.window.add_paths([folder])
        await until(lambda: app.model.rowCount() == 2 and app.idle())
        app.window.tabs.setCurrentWidget(app.window.bucket_page)  # read when first shown
        page = app.window.bucket_page
        await until(lambda: page.model.photos_shown == 2 and page.sorted_by != "")
        page.search.setText("morgan")

    try:
        run(loop, go())
        page = app.window.bucket_page
        assert page.model.photos_shown == 2  # found by their item, from the sidecars
        assert page.status.text().startswith("2 photos in s3://fake-bucket")
    finally:
        run(loop, app.close())


def test_retry_failed_redoes_only_what_failed(loop: qasync.QEventLoop, tmp_path: Path) -> None:
    first = corpus.jpeg_photo(tmp_path / "obverse.jpg", seed=1)
    second = corpus.jpeg_photo(tmp_path / "reverse.jpg", seed=2)
    store = FakeStore()
    store.fail_next["upload"] = 1  # one original fails to upload
    store.fail_next["put"] = 1  # one thumbnail fails to upload
    app = App(tmp_path / "settings.ini", store)

    async def go() -> None:
        await app.start()
        app.window.add_paths([first, second])
        await until(lambda: app.model.rowCount() == 2 and app.idle())
        await until(app.window.retry_action.isEnabled)  # within a status refresh
        assert app.window.retry_action.shortcut().toString() == "Ctrl+R"
        assert app.window.filter_buttons.checkedButton() is not None
        app.window.retry_action.trigger()
        await until(
            lambda: all(
                app.model.snapshot_at(r).state is FileState.UPLOADED
                and app.model.snapshot_at(r).thumbnail_state is ThumbnailState.GENERATED
                for r in range(2)
            )
        )
        await until(lambda: not app.window.retry_action.isEnabled())

    try:
        run(loop, go())
        for name in ("obverse.jpg", "reverse.jpg"):
            assert app.cell(name, Column.STATUS) == "Uploaded"
            assert app.cell(name, Column.THUMBNAIL) == "Generated"
        # 2 originals + 1 retried original; 2 thumbnails + 1 retried thumbnail. Nothing
        # that had succeeded was sent again.
        assert store.calls["upload"] == 3
        assert store.calls["put"] == 3
        assert len(store.photo_keys()) == 4
        assert not app.window.retry_action.isEnabled()
    finally:
        run(loop, app.close())


def test_retry_is_offered_only_for_what_a_retry_can_change(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    """An empty file or one that is not an image fails the same way however often it is
    retried: Failed shows it, Retry failed leaves it alone (issue 12: Retry stayed
    enabled for files that can never succeed)."""
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("a list of coins, not a photo")
    photo = corpus.jpeg_photo(tmp_path / "obverse.jpg", seed=1)
    store = FakeStore()
    app = App(tmp_path / "settings.ini", store)

    async def go() -> None:
        await app.start()
        app.window.add_paths([tmp_path / "empty.jpg", tmp_path / "notes.jpg", photo])
        await until(lambda: app.model.rowCount() == 3 and app.idle())
        app.window._refresh_status()
        assert not app.window.retry_action.isEnabled()
        failed = app.window.filter_bar.button(FilterCategory.FAILED)
        assert failed.text() == "Failed (2)"
        assert app.controller.retry_failed() == 0
        store.fail_next["upload"] = 1
        app.window.add_paths([corpus.jpeg_photo(tmp_path / "reverse.jpg", seed=2)])
        await until(lambda: getattr(app.snap("reverse.jpg"), "state", None) is FileState.FAILED)
        await until(app.window.retry_action.isEnabled)  # a retry can mend this one
        assert app.controller.retry_failed() == 1

    try:
        run(loop, go())
    finally:
        run(loop, app.close())


def test_an_outage_is_one_banner_and_the_queue_carries_on_when_the_server_is_back(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    photos = [corpus.jpeg_photo(tmp_path / f"lot_{n}.jpg", (64, 48), seed=n) for n in range(5)]
    store = FakeStore(down=True)
    app = App(tmp_path / "settings.ini", store)

    async def go() -> str:
        await app.start()
        app.window.add_paths(photos)
        await until(app.window.outage_banner.isVisible)
        said = app.window.outage_banner.text()
        store.down = False  # the watcher's next try gets through
        await until(lambda: app.model.rowCount() == 5 and app.idle())
        return said

    try:
        said = run(loop, go())
        assert said.startswith("Cannot reach the storage server at http://fake; retrying in ")
        assert not app.window.outage_banner.isVisible()
        assert {app.snap(p.name).state for p in photos} == {FileState.UPLOADED}
    finally:
        run(loop, app.close())


def test_settings_persist_across_a_restart_of_the_window(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    settings_file = tmp_path / "settings.ini"
    app = App(settings_file, FakeStore())

    async def first_session() -> None:
        await app.start()
        app.window.open_settings()
        dialog = app.window._settings_dialog
        assert dialog is not None
        dialog.destination.s3_radio.setChecked(True)
        dialog.destination.bucket_edit.setText("my-coins")
        dialog.keys.prefix_edit.setText("coins/2024")
        dialog.performance.concurrency_spin.setValue(3)
        dialog.accept()
        await until(lambda: any(d.bucket == "my-coins" for d in app.destinations))
        app.window.resize(760, 540)  # fits the offscreen screen (800x600)
        app.window.table.setColumnWidth(Column.NAME, 333)
        app.window.confirm_quit()

    run(loop, first_session())
    run(loop, app.close())

    again = App(settings_file, FakeStore())

    async def second_session() -> None:
        await again.start()

    try:
        run(loop, second_session())
        loaded = again.settings_store.load()
        assert (loaded.bucket, loaded.prefix, loaded.concurrency) == ("my-coins", "coins/2024", 3)
        assert again.destinations[-1].bucket == "my-coins"
        assert again.destinations[-1].prefix == "coins/2024/"
        assert again.window.table.columnWidth(Column.NAME) == 333
        assert (again.window.width(), again.window.height()) == (760, 540)
        assert "my-coins" in again.window.destination_label.text()
    finally:
        run(loop, again.close())


def test_closing_during_an_upload_asks_then_quits_without_hanging(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore(gate=threading.Event())  # uploads block until released
    app = App(tmp_path / "settings.ini", store)

    async def go() -> None:
        await app.start()
        app.window.add_paths([photo])
        await until(
            lambda: bool(app.snap("coin.jpg")) and app.snap("coin.jpg").state is FileState.UPLOADING
        )
        app.window.close()
        assert app.window.close_requested_with_work  # asked before quitting
        assert app.window.isVisible()
        app.window.confirm_quit()
        assert not app.window.isVisible()
        await asyncio.wait_for(app.controller.aclose(), 15)  # the upload is still stuck

    try:
        run(loop, go())
        assert store.photo_keys() == []
    finally:
        run(loop, app.close())


@pytest.mark.integration
def test_python_m_app_with_paths_uploads_to_the_local_bucket(tmp_path: Path) -> None:
    """`python -m app PATH...` as a file manager's "Open with" starts it."""
    photos = tmp_path / "To upload"
    photos.mkdir()
    names = [corpus.jpeg_photo(photos / f"lot {n}.jpg", (500, 400), seed=n).name for n in (1, 2)]
    data = tmp_path / "data"
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        PHOTO_UPLOADER_DATA_DIR=str(data),
        PHOTO_UPLOADER_CONFIG_DIR=str(tmp_path / "config"),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "app", str(photos)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    bucket = data / "local-bucket" / "photos"

    def uploaded() -> bool:
        thumbs = list((bucket / "thumbnails").glob("*.jpg")) if bucket.exists() else []
        index = data / "local-bucket" / "photos" / ".photo-uploader" / "sha256"
        return len(thumbs) == 2 and index.exists() and len(list(index.iterdir())) == 2

    try:
        deadline = time.monotonic() + 60
        while not uploaded():
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the window never uploaded"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)  # Ctrl+C in the terminal quits cleanly
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "Traceback" not in output
    stored = sorted(p.name.rsplit("-", 1)[0] for p in bucket.glob("lot *.jpg"))
    assert stored == sorted(n.removesuffix(".jpg") for n in names)
    for name in names:
        (original,) = bucket.glob(name.removesuffix(".jpg") + "-*.jpg")
        assert original.read_bytes() == (photos / name).read_bytes()


def test_paste_pause_resume_cancel_remove_and_clear(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    photos = [corpus.jpeg_photo(tmp_path / f"lot {n}.jpg", seed=n) for n in range(3)]
    store = FakeStore()
    app = App(tmp_path / "settings.ini", store)
    window = app.window

    async def go() -> None:
        await app.start()
        assert window.pause_action.toolTip().startswith("Pause: ")
        window.pause_action.trigger()  # Ctrl+P: nothing new starts
        assert window.pause_action.text() == "&Resume"
        assert window.pause_action.toolTip() == "Resume: queued files start again (Ctrl+P)"
        mime = QMimeData()
        mime.setText("\n".join(str(p) for p in photos))  # paths copied from a file manager
        QApplication.clipboard().setMimeData(mime)
        window.paste_action.trigger()
        await until(lambda: app.model.rowCount() == 3)
        assert all(app.snap(p.name).state is FileState.QUEUED for p in photos)
        assert store.calls["upload"] == 0

        window.table.selectRow(0)  # cancel one while paused, then resume the rest
        cancelled = window.selected_file_ids()
        window.cancel_action.trigger()
        await until(lambda: app.model.snapshot_for(cancelled[0]).state is FileState.CANCELLED)
        window.pause_action.trigger()
        await until(app.idle)
        assert sorted(s.state.value for s in map(app.snap, (p.name for p in photos))) == [
            "cancelled",
            "uploaded",
            "uploaded",
        ]

        window.table.selectRow(1)
        window.copy_key_action.trigger()
        copied = QApplication.clipboard().text()
        assert copied in store.objects

        window.remove_action.trigger()  # Delete: the row goes, the bucket keeps the photo
        await until(lambda: app.model.rowCount() == 2)
        assert copied in store.objects
        await until(window.clear_action.isEnabled)
        window.clear_action.trigger()  # finished rows go; nothing failed, so none stay
        await until(lambda: app.model.rowCount() == 0)
        assert window.pages.currentWidget() is window.drop_hint

    try:
        run(loop, go())
    finally:
        run(loop, app.close())


def test_the_window_says_where_photos_go_and_what_it_adds_before_the_engine_is_up(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    """No "Starting…" and "No files yet" while photos given at start wait for the engine:
    it says where they will go, and that they are being added."""
    photos = [corpus.jpeg_photo(tmp_path / f"lot {n}.jpg", seed=n) for n in range(2)]
    app = App(tmp_path / "settings.ini", FakeStore())
    app.settings_store.save(AppSettings(bucket="my-coins"))
    window = app.window

    async def go() -> None:
        window.show()
        window.add_paths(photos)  # as the app does with the paths it was started with
        starting = asyncio.ensure_future(app.controller.start(app.settings_store.load(), None))
        await until(lambda: "my-coins (connecting…)" in window.destination_label.text())
        assert window.status.counts_label.text() == "Adding 2 items…"
        await starting
        await until(lambda: app.model.rowCount() == 2 and app.idle())
        assert "connecting" not in window.destination_label.text()
        window._refresh_status()
        assert window.status.counts_label.text() == "2 files: 2 uploaded"

    try:
        run(loop, go())
    finally:
        run(loop, app.close())


def test_a_restored_queue_shows_a_real_preview_in_the_pane_not_an_icon(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    """After a restart the thumbnail's bytes are gone: the pane makes its preview from
    the original rather than blowing up the row's 48-px icon."""
    photo = corpus.jpeg_photo(tmp_path / "obverse.jpg", (1200, 800), seed=3)
    app = App(tmp_path / "settings.ini", FakeStore())
    window = app.window

    async def go() -> None:
        await app.start()
        window.add_paths([photo])
        await until(lambda: app.model.rowCount() == 1 and app.idle())
        app.previews.forget([app.model.snapshot_at(0).file_id])  # as after a restart
        window.table.selectRow(0)
        await until(lambda: window.detail._preview.pixmap().width() >= 200)

    try:
        run(loop, go())
        assert window.detail._preview.pixmap().width() == 240
    finally:
        run(loop, app.close())


def test_every_control_is_named_for_a_screen_reader(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    """Buttons, fields and the filters say what they are (and the filters how many files
    they hold); a file's fate is in the table's cells (tests/ui/test_queue_view.py)."""
    app = App(tmp_path / "settings.ini", FakeStore())

    async def go() -> None:
        await app.start()
        app.window.add_paths([corpus.jpeg_photo(tmp_path / "obverse.jpg", seed=1)])
        await until(lambda: app.model.rowCount() == 1 and app.idle())
        app.window._refresh_status()

    try:
        run(loop, go())
        window = app.window
        controls = [
            w for w in window.findChildren(QWidget)
            if isinstance(w, QAbstractButton | QLineEdit | QAbstractItemView | QComboBox)
            and w.isVisibleTo(window)
        ]  # fmt: skip
        unnamed = [
            w for w in controls
            if not w.accessibleName() and not (isinstance(w, QAbstractButton) and w.text())
        ]  # fmt: skip
        assert unnamed == []
        done = window.filter_bar.button(FilterCategory.DONE)
        assert (done.accessibleName(), done.accessibleDescription()) == (
            "Show done files",
            "1 file",
        )
        names = {w.accessibleName() for w in controls}
        assert {"Copy URL", "Copy SHA-256", "Copy key", "Upload queue"} <= names
    finally:
        run(loop, app.close())


def test_a_first_start_fits_the_screen(loop: qasync.QEventLoop, tmp_path: Path) -> None:
    """With no saved size, the window takes 1100x680, or the screen when smaller (the
    offscreen screen is 800x600; a 1024x768 laptop cut the pane off)."""
    app = App(tmp_path / "settings.ini", FakeStore())
    try:
        available = app.window.screen().availableGeometry().size()
        assert app.window.width() <= available.width()
        assert app.window.height() <= available.height()
    finally:
        run(loop, app.close())


def test_a_drop_with_no_photos_in_it_does_not_say_adding_for_ever(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    """(Found in review: an empty folder added no row, and "Adding Empty…" stayed.)"""
    empty = tmp_path / "Empty"
    empty.mkdir()
    (empty / ".DS_Store").write_bytes(b"junk")
    app = App(tmp_path / "settings.ini", FakeStore())

    async def go() -> None:
        await app.start()
        app.window.add_paths([empty])
        assert app.window.status.counts_label.text() == "Adding Empty…"
        await until(lambda: app.window.status.counts_label.text() == "No files yet")

    try:
        run(loop, go())
    finally:
        run(loop, app.close())


def test_opening_the_window_lists_nothing_of_the_bucket(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    """The command line lists the destination while it checks it (it has files to send);
    a window opened to browse must not list a big bucket for nothing."""
    store = FakeStore()
    app = App(tmp_path / "settings.ini", store)

    async def go() -> None:
        await app.start()
        await until(lambda: store.calls["check"] >= 1)

    try:
        run(loop, go())
        assert store.calls["list"] == 0
    finally:
        run(loop, app.close())
