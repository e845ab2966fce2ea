"""The window's status bar: counts, overall progress, speed and time left."""

from __future__ import annotations

import math
import time
from collections import deque

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from app.core.models import FileState
from app.ui.queue_model import QueueModel

_IN_PROGRESS = (FileState.HASHING, FileState.CHECKING, FileState.THUMBNAILING, FileState.UPLOADING)
_COUNTED = (
    ("queued", (FileState.QUEUED,)),
    ("in progress", _IN_PROGRESS),
    ("uploaded", (FileState.UPLOADED,)),
    ("duplicate", (FileState.DUPLICATE,)),
    ("failed", (FileState.FAILED,)),
    ("cancelled", (FileState.CANCELLED,)),
)


class ThroughputMeter:
    """Bytes per second over the last few seconds, and a time-left estimate."""

    def __init__(self, window_seconds: float = 5.0) -> None:
        self._samples: deque[tuple[float, int]] = deque()
        self._window = window_seconds

    def sample(self, sent_bytes: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._samples.append((now, sent_bytes))
        while self._samples and now - self._samples[0][0] > self._window:
            self._samples.popleft()

    def rate(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return max(0.0, (b1 - b0) / (t1 - t0)) if t1 > t0 else 0.0

    def reset(self) -> None:
        self._samples.clear()


def describe_rate(rate: float, remaining_bytes: int, active_files: int = 0) -> str:
    """Speed, and time left while there is enough left to send for a guess to mean
    something. Once the bytes are out, files still finish their thumbnails and index
    entries: that is "finishing N files", never "about 0 s left"."""
    if rate <= 0:
        return "finishing…" if active_files and remaining_bytes <= 0 else ""
    text = f"{rate / 1e6:.1f} MB/s"
    seconds = math.ceil(remaining_bytes / rate) if remaining_bytes > 0 else 0
    if seconds >= 2:
        left = f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
        text += f" · about {left} left"
    elif active_files:
        noun = "file" if active_files == 1 else "files"
        text += f" · finishing {active_files} {noun}"
    return text


class QueueStatusBar(QStatusBar):
    """Counts, progress and speed of the queue, refreshed by the window a few times a
    second (`refresh`) rather than per change, so a burst of thousands of updates costs
    one refresh."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts_label = QLabel()
        self.counts_label.setAccessibleName("Counts")
        self.rate_label = QLabel()
        self.rate_label.setAccessibleName("Speed and time left")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Overall progress")
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(240)
        self.progress.setMinimumWidth(160)
        self.progress.setTextVisible(True)
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.progress.setFormat("")
        self.addWidget(self.counts_label, 1)
        self.addPermanentWidget(self.rate_label)
        self.addPermanentWidget(self.progress)
        self._meter = ThroughputMeter()
        self.adding: str | None = None  # "Adding 12 items…" until the first rows arrive

    def refresh(self, model: QueueModel, *, paused: bool) -> None:
        counts = model.counts()
        total = model.rowCount()
        parts = []
        for label, states in _COUNTED:
            n = sum(counts.get(s, 0) for s in states)
            if n:
                parts.append(f"{n} {label}")
        thumbnails_failed = model.thumbnails_failed
        if thumbnails_failed > 0:
            parts.append(
                f"{thumbnails_failed} thumbnail{'s' if thumbnails_failed > 1 else ''} failed"
            )
        prefix = "Paused · " if paused else ""
        noun = "file" if total == 1 else "files"
        if parts:
            text = f"{prefix}{total} {noun}: " + ", ".join(parts)
        else:
            text = prefix + (self.adding or "No files yet")
        self.counts_label.setText(text)
        active = sum(n for s, n in counts.items() if not s.is_final)
        self._show_progress(model.overall_progress(), total, total - active)
        if active and not paused:
            self._meter.sample(model.sent_bytes)
            rate = describe_rate(self._meter.rate(), model.remaining_bytes, active)
            self.rate_label.setText(rate)
        else:
            self._meter.reset()
            self.rate_label.setText("")

    def _show_progress(self, fraction: float, total: int, finished: int) -> None:
        """The bar says what it measures: files finished of all, by bytes."""
        self.progress.setVisible(total > 0)
        self.progress.setValue(int(fraction * 1000))
        if finished >= total:
            label = f"All {total} finished" if total > 1 else "Finished"
        else:
            label = f"{finished} of {total} finished"
        if label != self.progress.format():  # (four times a second: only what changed)
            self.progress.setFormat(label)
            self.progress.setToolTip(f"{label}; the bar follows the bytes sent.")
            self.progress.setAccessibleDescription(label)
