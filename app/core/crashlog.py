"""A crash trail: what the interpreter says when it dies, kept for the next start.

`faulthandler` writes the traceback of every thread to `crash.log` in the data folder
when the process dies of a fatal signal (a segfault in Qt, an abort). A clean exit
removes the empty file again. So a `crash.log` with something in it at start means the
last run crashed: it is set aside as `crash-last.log`, and the window offers to show it
(the command line names it in one line).
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import time
from pathlib import Path
from typing import IO

CRASH_FILE = "crash.log"
LAST_CRASH_FILE = "crash-last.log"


class CrashTrail:
    """Installed for the life of one run: `install()` at start, `uninstall()` at exit."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / CRASH_FILE
        self.last_crash: Path | None = None  # the report the last run left, if any
        self._file: IO[str] | None = None

    def install(self) -> CrashTrail:
        self.last_crash = self._set_aside_last()
        with contextlib.suppress(OSError):
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._file = os.fdopen(fd, "w", encoding="utf-8")
            faulthandler.enable(self._file, all_threads=True)
        return self

    def uninstall(self) -> None:
        """A clean exit: no crash to report next time."""
        if self._file is None:
            return
        faulthandler.disable()
        self._file.close()
        self._file = None
        with contextlib.suppress(OSError):
            if self.path.stat().st_size == 0:
                self.path.unlink()

    def _set_aside_last(self) -> Path | None:
        try:
            if self.path.stat().st_size == 0:
                return None  # killed (kill -9) or never crashed: nothing was written
        except OSError:
            return None
        last = self.path.with_name(LAST_CRASH_FILE)
        try:
            os.replace(self.path, last)
        except OSError:
            return None
        with contextlib.suppress(OSError):
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(last.stat().st_mtime))
            text = last.read_text(encoding="utf-8", errors="replace")
            last.write_text(f"Photo Uploader stopped unexpectedly ({stamp}).\n\n{text}")
        return last
