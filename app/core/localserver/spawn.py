"""Starting a child that dies with this process, even on kill -9.

Linux's `prctl(PR_SET_PDEATHSIG)` makes the kernel signal a child when its parent dies,
precisely when the parent *thread* that forked it exits. So:

- every child is forked from one thread that lives as long as the process (`_SPAWNER`,
  a daemon thread), never from a pool thread that may retire;
- the child sets the signal on itself before it becomes rclone, through a tiny
  launcher (app.core.childlauncher: `python -I -S -c ... rclone ARGS`, or the bundle's
  own program) that calls prctl and then execs rclone in
  the same process: no Python code runs between fork and exec in this process (which
  `Popen(preexec_fn=...)` would do, unsafe with threads), and the setting survives exec.
  The launcher checks that its parent is still the one that started it, so a parent that
  died before prctl ran does not leave an orphan either.

Elsewhere (macOS, Windows) the child is started directly; an orphan left by a crash is
stopped at the next start (app.core.localserver.ownership).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Future
from typing import Any

from app.core.childlauncher import launcher_command
from app.core.threads import SerialThread

_SPAWNER: SerialThread | None = None


def dies_with_parent() -> bool:
    """Whether children started here are ended by the kernel when this process dies."""
    return sys.platform.startswith("linux")


def spawn(args: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """Start `args` (blocking only for the fork and exec) as a child that dies with this
    process where the platform allows it (see the module docstring)."""
    global _SPAWNER
    if not dies_with_parent():
        return subprocess.Popen(args, **popen)
    if _SPAWNER is None:
        _SPAWNER = SerialThread("child-spawner")
    launcher = launcher_command(os.getpid(), args)
    started: Future[subprocess.Popen[bytes]] = _SPAWNER.submit(subprocess.Popen, launcher, **popen)
    return started.result()
