"""A crash trail: what the interpreter says when it dies, kept for the next start.

`faulthandler` writes the traceback of every thread to `crash-<pid>.log` in the data
folder when the process dies of a fatal signal (a segfault in Qt, an abort); one file per
process, since the window and CLI runs may be running at once. A clean exit removes the
empty file again. So such a file with something in it, of a process that is gone, means
that run crashed: at the next start the newest is set aside as `crash-last.log`, and the
window offers to show it (the command line names it in one line).
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
import time
from pathlib import Path
from typing import IO

LAST_CRASH_FILE = "crash-last.log"


def crash_file(pid: int) -> str:
    return f"crash-{pid}.log"


class CrashTrail:
    """Installed for the life of one run: `install()` at start, `uninstall()` at exit."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = Path(data_dir)
        self.path = self.folder / crash_file(os.getpid())
        self.last_crash: Path | None = None  # the report the last run left, if any
        self._file: IO[str] | None = None
        self._was_enabled = False

    def install(self) -> CrashTrail:
        self.last_crash = self._set_aside_last()
        self._was_enabled = faulthandler.is_enabled()
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
        if self._was_enabled and sys.__stderr__ is not None:  # pytest, -X faulthandler
            with contextlib.suppress(AttributeError, ValueError, OSError):
                faulthandler.enable(sys.__stderr__, all_threads=True)
        self._file.close()
        self._file = None
        with contextlib.suppress(OSError):
            if self.path.stat().st_size == 0:
                self.path.unlink()

    def _set_aside_last(self) -> Path | None:
        """The newest report a crashed run left, moved to crash-last.log; the empty files
        of runs that were killed (kill -9 writes nothing) are removed."""
        reports: list[tuple[float, Path]] = []
        for path in self.folder.glob("crash-*.log"):
            pid = path.stem.removeprefix("crash-")
            if not pid.isdigit() or _alive(int(pid)):
                continue  # crash-last.log, or a run still going
            try:
                info = path.stat()
            except OSError:
                continue
            if info.st_size == 0:
                with contextlib.suppress(OSError):
                    path.unlink()
            else:
                reports.append((info.st_mtime, path))
        if not reports:
            return None
        reports.sort()
        newest = reports[-1][1]
        last = self.folder / LAST_CRASH_FILE
        try:
            os.replace(newest, last)
        except OSError:
            return None
        for _mtime, older in reports[:-1]:
            with contextlib.suppress(OSError):
                older.unlink()
        with contextlib.suppress(OSError):
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(last.stat().st_mtime))
            text = last.read_text(encoding="utf-8", errors="replace")
            last.write_text(f"Photo Uploader stopped unexpectedly ({stamp}).\n\n{text}")
        return last


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
