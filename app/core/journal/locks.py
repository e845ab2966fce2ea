"""Which window restores the journal's queue."""

from __future__ import annotations

import os
from pathlib import Path


class QueueLock:
    """Only one window restores the journal's queue: a second window started meanwhile
    shows its own files only. An advisory lock file (POSIX `flock`), released on exit
    (even on a crash). Where `flock` is missing, every window may restore."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return True  # cannot lock: better to restore than to lose the queue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
