"""Desktop notifications for the window: a batch finished, a file failed, while the
collector looks at another window (app.core.notices decides which moments)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QTimer

from app.core.models import FileSnapshot
from app.core.notices import BatchNotices, Notice
from app.ui.background import Tasks
from app.ui.notify import Notifier

CHECK_MS = 1000  # how often an idle queue is asked whether its batch is over


class NotificationCenter(QObject):
    """Feeds snapshots to BatchNotices and sends what it says through `notifier`,
    unless `focused()` (the window is in front: the collector sees it there)."""

    def __init__(
        self,
        notifier: Notifier,
        focused: Callable[[], bool],
        *,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._notifier = notifier
        self._focused = focused
        self._clock = clock
        self._batches = BatchNotices()
        self._tasks = Tasks()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def start_counting(self, restored: Sequence[int]) -> None:
        """The earlier session's queue is back (its file ids): see BatchNotices."""
        self._batches.start_counting(restored)

    def forget(self, file_ids: Sequence[int]) -> None:
        self._batches.forget(file_ids)

    def seen(self, snapshots: Sequence[FileSnapshot]) -> None:
        for notice in self._batches.seen(snapshots, self._clock()):
            self._send(notice)

    def check(self) -> None:
        notice = self._batches.due(self._clock())
        if notice is not None:
            self._send(notice)

    def shutdown(self) -> None:
        self._timer.stop()
        self._tasks.cancel_all()

    def _send(self, notice: Notice) -> None:
        if not self._focused():
            self._tasks.spawn(self._notifier.notify(notice), name="notify")
