"""The window's status bar: counts, overall progress, speed and time left."""

from __future__ import annotations

import time
from collections import deque

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


def describe_rate(rate: float, remaining_bytes: int) -> str:
    if rate <= 0:
        return ""
    text = f"{rate / 1e6:.1f} MB/s"
    if remaining_bytes > 0:
        seconds = int(remaining_bytes / rate)
        left = f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"
        text += f" · about {left} left"
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
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.addWidget(self.counts_label, 1)
        self.addPermanentWidget(self.rate_label)
        self.addPermanentWidget(self.progress)
        self._meter = ThroughputMeter()

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
        self.counts_label.setText(
            f"{prefix}{total} {noun}: " + ", ".join(parts) if parts else f"{prefix}No files yet"
        )
        self.progress.setValue(int(model.overall_progress() * 1000))
        active = any(counts.get(s, 0) for s in FileState if not s.is_final)
        if active and not paused:
            self._meter.sample(model.sent_bytes)
            self.rate_label.setText(describe_rate(self._meter.rate(), model.remaining_bytes))
        else:
            self._meter.reset()
            self.rate_label.setText("")
