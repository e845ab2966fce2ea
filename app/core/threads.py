"""Worker threads that yield the CPU to the window.

On a machine with few cores, hashing, thumbnails and transfers can keep every core
busy; at normal priority the GUI thread then waits in the scheduler's queue and the
window stutters (measured: event-loop lag p99 37 ms during an upload). Workers run one
step nicer, so the window is served first and the work still gets every idle cycle.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

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


class SerialThread(Executor):
    """One daemon thread that runs what is submitted, in order, at background priority.

    For work that may hang on a bad disk (the journal): a daemon thread does not keep the
    process alive at exit, where ThreadPoolExecutor's threads are joined, so a quit stays
    bounded even when a write never returns.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._shutdown = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._jobs.put((future, lambda: fn(*args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if not self._shutdown:
                self._shutdown = True
                self._jobs.put(None)
        if wait:
            self._thread.join()

    def _run(self) -> None:
        lower_current_thread_priority()
        while (job := self._jobs.get()) is not None:
            future, call = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
