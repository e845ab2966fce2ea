"""Python's cycle collector, run on the GUI thread only.

Left automatic, a collection runs on whichever thread happens to allocate past the
threshold, and in this app that is mostly a worker (boto3, hashing, thumbnails). Cyclic
garbage that holds a Python-owned Qt object (a closed dialog and a lambda of its own, say)
is then destroyed on that worker, and Qt objects must be destroyed on their own thread:
timers left registered with the GUI thread fire on freed memory later. So automatic
collection is off and a timer on the GUI thread collects instead, as often as the
thresholds would have, generation by generation (the pattern Erik Janssens described in
"Should Python garbage collector be disabled in Qt apps?", 2014). Reference counting
still frees everything that is not in a cycle at once, on any thread.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 50
FULL_COLLECTION_EVERY = 30.0  # seconds


class GuiThreadCollector(QObject):
    """Turns automatic collection off from `start()` (at once unless `started=False`);
    `stop()` turns it back on."""

    def __init__(
        self,
        parent: QObject | None = None,
        interval_ms: int = CHECK_INTERVAL_MS,
        *,
        started: bool = True,
    ):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._clock = time.monotonic
        self._last_full = self._clock()
        self._was_enabled = gc.isenabled()
        if started:
            self.start()

    def start(self) -> None:
        if self._timer.isActive():
            return
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._last_full = self._clock()
        self._timer.start()

    def collect_due(self) -> int:
        """Collect the oldest generation whose count passed its threshold; 0 when none
        did. Returns the number of unreachable objects found.

        A full collection also waits FULL_COLLECTION_EVERY seconds after the last: CPython
        itself holds full ones back until the objects pending reach a quarter of the
        long-lived ones, which Python code cannot see, and a full collection of a large
        heap holds the GUI thread for 100 ms and more.
        """
        counts = gc.get_count()
        thresholds = gc.get_threshold()
        due = -1
        for generation in range(3):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                due = generation
        if due == 2 and self._clock() - self._last_full < FULL_COLLECTION_EVERY:
            due = 1
        if due < 0:
            return 0
        if due == 2:
            self._last_full = self._clock()
        return gc.collect(due)

    def stop(self) -> None:
        if not self._timer.isActive():
            return
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
