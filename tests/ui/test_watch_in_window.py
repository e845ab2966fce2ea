"""Watched folders in the window: Settings name them, the window says it watches them,
new photos in them come into the queue, and removing them in Settings stops the watch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import qasync

from app.core.models import FileState
from app.ui.settings import AppSettings
from tests.helpers import corpus
from tests.helpers.fakes import FakeStore
from tests.ui.test_window import App, run, until


def test_a_watched_folder_feeds_the_queue_until_it_is_removed_in_settings(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    capture = tmp_path / "Copy stand"
    capture.mkdir()
    corpus.jpeg_photo(capture / "before.jpg", (320, 240), seed=1)  # there before the start
    app = App(tmp_path / "settings.ini", FakeStore())
    app.settings_store.save(AppSettings(bucket="fake-bucket", watched_folders=(str(capture),)))

    async def go() -> None:
        await app.start()
        bar = app.window.destination_bar
        await until(lambda: bar.watch_label.isVisible())
        assert bar.watch_label.text() == f"Watching {capture}."
        await until(lambda: getattr(app.snap("before.jpg"), "state", None) is FileState.UPLOADED)

        partial = capture / "IMG_0001.jpg.part"  # the capture program's temporary name
        corpus.jpeg_photo(partial, (320, 240), seed=2)
        partial.rename(capture / "IMG_0001.jpg")
        await until(lambda: getattr(app.snap("IMG_0001.jpg"), "state", None) is FileState.UPLOADED)
        assert app.snap("IMG_0001.jpg.part") is None

        await app.controller.apply_settings(AppSettings(bucket="fake-bucket"), None)
        assert not bar.watch_label.isVisible()
        assert app.controller.watched_folders == []

    try:
        run(loop, asyncio.wait_for(go(), 60))
        assert app.model.rowCount() == 2
    finally:
        run(loop, app.close())
