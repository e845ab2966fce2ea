"""The few lines a child runs to die with this process before it becomes rclone.

They set `prctl(PR_SET_PDEATHSIG)` on the child, check that its parent is still the one
that started it, then exec the real program in the same process (why: see
app.core.localserver.spawn). Where there is a Python to run them, they run as
`python -I -S -c LAUNCHER_SOURCE PARENT PROGRAM ARGS...`. The PyInstaller bundle has no
such Python, only its own program: there they run as `photo-uploader --launch-child
PARENT PROGRAM ARGS...`, which packaging/bundle_main.py hands to `run_in_bundle` before
it loads anything else. Standard library only, so that costs next to nothing.
"""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

PR_SET_PDEATHSIG = 1
DEATH_SIGNAL = signal.SIGTERM  # rclone ends cleanly and at once on SIGTERM
BUNDLE_LAUNCH_FLAG = "--launch-child"

LAUNCHER_SOURCE = f"""
import ctypes, os, sys
parent = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl({PR_SET_PDEATHSIG}, {int(DEATH_SIGNAL)}, 0, 0, 0) != 0:
    sys.exit(70)
if os.getppid() != parent:
    sys.exit(71)  # the app died before prctl: do not become an orphan
os.execv(sys.argv[2], sys.argv[2:])
"""


def is_bundle() -> bool:
    """Whether this is the PyInstaller bundle (sys.executable is the app, not Python)."""
    return bool(getattr(sys, "frozen", False))


def launcher_command(parent_pid: int, args: list[str]) -> list[str]:
    """The command that starts `args` as a child of `parent_pid` that dies with it."""
    if is_bundle():
        return [sys.executable, BUNDLE_LAUNCH_FLAG, str(parent_pid), *args]
    return [sys.executable, "-I", "-S", "-c", LAUNCHER_SOURCE, str(parent_pid), *args]


def run_in_bundle(argv: list[str]) -> NoReturn:
    """The bundle's launcher mode: `argv` is PARENT PROGRAM ARGS... . Never returns:
    the process becomes PROGRAM, or exits with the launcher's status."""
    sys.argv = [sys.argv[0], *argv]
    exec(compile(LAUNCHER_SOURCE, "<child launcher>", "exec"), {"__name__": "__main__"})
    raise SystemExit(72)  # the source execs or exits; reaching here is a bug
