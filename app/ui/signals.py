"""SIGINT, SIGTERM and SIGHUP in the window: quit as Ctrl+C does, heard at once.

Python runs a signal handler only when the main thread next runs Python code, and Qt's
event loop can sleep in C for a long time. So the signal module writes each signal's
number to a socket (`signal.set_wakeup_fd`) that a QSocketNotifier watches: the loop
wakes, Python code runs, the handler asks for a clean quit. A second signal ends the
process at once (the local server dies with it). qutebrowser's misc/crashsignal.py
does the same.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier

log = logging.getLogger(__name__)

SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class SignalHandler(QObject):
    """Installed for the life of the window (`activate`, then `deactivate`)."""

    def __init__(self, on_quit: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_quit = on_quit
        self._received = 0
        self._previous: dict[int, Any] = {}
        self._previous_fd = -1
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None
        self._notifier: QSocketNotifier | None = None

    def activate(self) -> None:
        reader, writer = socket.socketpair()
        for end in (reader, writer):
            end.setblocking(False)
        self._reader, self._writer = reader, writer
        self._notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def deactivate(self) -> None:
        """Put back what was there before (the handlers and the wakeup fd)."""
        for sig, previous in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)
        self._previous.clear()
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(self._previous_fd)
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier = None
        for end in (self._reader, self._writer):
            if end is not None:
                end.close()
        self._reader = self._writer = None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self._received += 1
        if self._received > 1:
            log.info("signal %d again: quitting at once", signum)
            os._exit(128 + signum)
        log.info("signal %d: quitting", signum)
        self._on_quit()

    def _drain(self) -> None:
        """The wakeup fd's bytes: read them; the handler itself has run (or runs now)."""
        if self._reader is None:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            while self._reader.recv(64):
                pass
