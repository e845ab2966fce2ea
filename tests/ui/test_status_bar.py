"""The status bar says what is true: time left only when there is something to guess,
"finishing" while the last files write their thumbnails and index entries, and a
progress bar that says what it counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.core.models import FileSnapshot, FileState
from app.ui.queue_model import QueueModel
from app.ui.status_bar import QueueStatusBar, describe_rate

pytestmark = pytest.mark.qt_log_level_fail("WARNING")


def test_time_left_is_a_guess_only_while_there_is_enough_left_to_send() -> None:
    assert describe_rate(2e6, 120e6, 30) == "2.0 MB/s · about 1 min 00 s left"
    assert describe_rate(2e6, 9e6, 3) == "2.0 MB/s · about 5 s left"  # 4.5 s, rounded up
    # The bytes are out; three files still make and send their thumbnails: not "0 s".
    assert describe_rate(2e6, 0, 3) == "2.0 MB/s · finishing 3 files"
    assert describe_rate(2e6, 1e6, 1) == "2.0 MB/s · finishing 1 file"
    assert describe_rate(0.0, 0, 2) == "finishing…"
    assert describe_rate(0.0, 5e6, 2) == ""  # nothing measured yet: no guess


def test_the_progress_bar_says_what_it_counts(qtbot: QtBot) -> None:
    model = QueueModel(None, dark=False)
    bar = QueueStatusBar()
    qtbot.addWidget(bar)
    bar.refresh(model, paused=False)
    assert not bar.progress.isVisibleTo(bar)  # nothing queued: no empty bar
    snaps = [
        FileSnapshot(1, Path("/p/a.jpg"), FileState.UPLOADED, size=100, bytes_total=100),
        FileSnapshot(2, Path("/p/b.jpg"), FileState.UPLOADING, size=100, bytes_sent=50,
                     bytes_total=100),
        FileSnapshot(3, Path("/p/c.jpg"), FileState.QUEUED),
    ]  # fmt: skip
    model.apply_snapshots(snaps)
    bar.refresh(model, paused=False)
    assert bar.progress.isVisibleTo(bar)
    assert bar.progress.text() == "1 of 3 finished"
    model.apply_snapshots(
        [
            FileSnapshot(2, Path("/p/b.jpg"), FileState.UPLOADED, size=100, bytes_total=100),
            FileSnapshot(3, Path("/p/c.jpg"), FileState.DUPLICATE, size=10),
        ]
    )
    bar.refresh(model, paused=False)
    assert bar.progress.text() == "All 3 finished"
    assert bar.progress.accessibleDescription() == "All 3 finished"
    assert bar.rate_label.text() == ""
