"""Notifications and the tray as the window uses them: sent only while the window is
not in front; the tray's tooltip and Pause/Resume follow the queue."""

from __future__ import annotations

import asyncio
from pathlib import Path

import qasync
from PySide6.QtWidgets import QSystemTrayIcon

from app.core.models import FileSnapshot, FileState
from app.core.notices import QUIET_SECONDS
from app.ui.notifications import NotificationCenter
from app.ui.tray import WatchTray
from tests.helpers.fakes import FakeNotifier


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def batch(state: FileState) -> list[FileSnapshot]:
    return [FileSnapshot(n, Path(f"/p/{n}.jpg"), state, error="No such bucket.") for n in (1, 2)]


def run_batch(loop: qasync.QEventLoop, center: NotificationCenter, clock: Clock) -> None:
    async def go() -> None:
        center.seen(batch(FileState.UPLOADING))
        center.seen(batch(FileState.FAILED))
        clock.now += QUIET_SECONDS
        center.check()

    loop.run_until_complete(go())
    loop.run_until_complete(_settled())


async def _settled() -> None:
    """Let spawned notify() tasks run."""
    for _ in range(3):
        await asyncio.sleep(0)


def test_notices_go_out_while_the_window_is_not_in_front(loop: qasync.QEventLoop) -> None:
    notifier, clock = FakeNotifier(), Clock()
    center = NotificationCenter(notifier, focused=lambda: False, clock=clock)
    center.start_counting([])
    try:
        run_batch(loop, center, clock)
    finally:
        center.shutdown()
    assert [n.title for n in notifier.sent] == [
        "1.jpg could not be uploaded",
        "Uploads finished, some failed",
    ]
    assert notifier.sent[0].body == "No such bucket." and notifier.sent[1].body == "2 failed."


def test_no_notice_while_the_collector_looks_at_the_window(loop: qasync.QEventLoop) -> None:
    notifier, clock = FakeNotifier(), Clock()
    center = NotificationCenter(notifier, focused=lambda: True, clock=clock)
    try:
        run_batch(loop, center, clock)
    finally:
        center.shutdown()
    assert notifier.sent == []


def test_the_tray_tells_progress_and_offers_pause_or_resume(qapp: object) -> None:
    calls: list[str] = []
    tray = WatchTray(
        show_window=lambda: calls.append("show"),
        toggle_pause=lambda: calls.append("pause"),
        quit=lambda: calls.append("quit"),
    )
    tray.follow(watching="Watching /photos/Copy stand.", counts="3 files: 3 uploaded", paused=False)
    assert tray.toolTip() == "Photo Uploader\nWatching /photos/Copy stand.\n3 files: 3 uploaded"
    assert tray.pause_action.text() == "Pause uploads"
    tray.follow(watching="Watching /photos/Copy stand.", counts="", paused=True)
    assert tray.toolTip().startswith("Photo Uploader (paused)")
    assert tray.pause_action.text() == "Resume uploads"
    tray.pause_action.trigger()
    tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert calls == ["pause", "show"]
    assert tray.isVisible() is QSystemTrayIcon.isSystemTrayAvailable()
    tray.follow(watching="", counts="", paused=False)
    assert not tray.isVisible()  # only while folders are watched
