"""Off the GUI thread, one way for the whole window.

Anything that can block — the keyring (D-Bus may take seconds), a file-system check,
creating a boto3 client, a connection test, decoding a preview — goes through a
`Background`: the call runs on the owner's own small pool, and its outcome (the value or
the exception) comes back on the GUI thread through one queued signal, to a callback
(`submit`, for widgets and dialogs) or to an awaiting coroutine (`run`, for the
controller under qasync). Qt objects are never touched off the GUI thread: the work
takes and returns plain data (a QImage is plain data too). Stale outcomes — a dialog
closed, a preview no longer wanted — are for the callback to ignore.

The callback never travels to the worker: it waits on the GUI thread, under a number the
worker hands back. A callback holds its widget; had the worker held it, the worker's last
reference could destroy the widget off the GUI thread, leaving its timers to fire on freed
memory (the segfault CI met in the Settings dialog tests).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

from app.core.threads import BackgroundThreadPool

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What a background call gave: its value, or the exception it raised."""

    value: T | None = None
    error: BaseException | None = None

    def get(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class _Delivery(QObject):
    """Lives on the GUI thread; workers emit to it, Qt queues the call over.

    Owned by the application object, not by Python: the last reference to a Background may
    be dropped on a worker thread (a closure of its last call), and a QObject must not be
    destroyed off its own thread. `Background.shutdown` deletes it, on the GUI thread.
    """

    delivered = Signal(object)

    def __init__(self) -> None:
        super().__init__(QCoreApplication.instance())
        self.callbacks: dict[int, Callable[[Outcome[Any]], None]] = {}  # GUI thread only
        self.delivered.connect(self._on_delivered, Qt.ConnectionType.QueuedConnection)

    @Slot(object)  # a slot, so PySide6 queues calls from other threads safely (PYSIDE-3124)
    def _on_delivered(self, item: tuple[int, Outcome[Any]]) -> None:
        number, outcome = item
        then = self.callbacks.pop(number, None)
        if then is None:  # shut down meanwhile
            return
        try:
            then(outcome)
        except Exception:
            log.exception("handling the outcome of a background call failed")


class Background:
    """A small pool for blocking calls whose outcomes come back on the GUI thread.

    Make it on the GUI thread. `shutdown()` stops it; outcomes of calls still running
    are then dropped.
    """

    def __init__(self, workers: int = 2, name: str = "ui-background") -> None:
        # Our own threads: qasync's default executor waits for its jobs when the loop
        # closes, so one stuck call could hang quitting.
        self._pool = BackgroundThreadPool(max_workers=workers, thread_name_prefix=name)
        self._delivery = _Delivery()
        self._lock = threading.Lock()  # guards _closed against workers delivering late
        self._closed = False
        self._numbers = itertools.count()

    def submit(self, fn: Callable[..., T], *args: Any, then: Callable[[Outcome[T]], None]) -> None:
        """Run `fn(*args)` off the GUI thread; `then(outcome)` runs on the GUI thread.

        `fn` and `args` go to the worker: plain data and plain callables only, never a
        widget or its bound method (see the module's docstring).
        """
        if self._closed:
            return
        number = next(self._numbers)
        self._delivery.callbacks[number] = then
        delivery = self._delivery
        lock = self._lock

        def work() -> None:
            try:
                outcome: Outcome[T] = Outcome(value=fn(*args))
            except BaseException as exc:  # delivered, not lost on the worker
                outcome = Outcome(error=exc)
            with lock:
                if not self._closed:
                    delivery.delivered.emit((number, outcome))

        try:
            self._pool.submit(work)
        except RuntimeError:  # shut down meanwhile
            del self._delivery.callbacks[number]

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Await `fn(*args)` run off the GUI thread (under qasync's loop)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        def settle(outcome: Outcome[T]) -> None:
            if future.done():
                return
            if outcome.error is not None:
                future.set_exception(outcome.error)
            else:
                future.set_result(outcome.value)  # type: ignore[arg-type]

        self.submit(fn, *args, then=settle)
        if self._closed:
            raise RuntimeError("the window's background work has stopped")
        return await future

    def shutdown(self, *, wait: bool = False, drop_queued: bool = True) -> None:
        """Stop: outcomes are no longer delivered; calls not started yet are dropped
        (unless `drop_queued` is False: then they still run, unheard)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True  # no worker delivers from now on
        self._delivery.callbacks.clear()  # here, on the GUI thread, their widgets let go
        self._pool.shutdown(wait=wait, cancel_futures=drop_queued)
        self._delivery.deleteLater()


class Tasks:
    """Coroutines started from slots: strong references (qasync 0.28 keeps none), a log
    line for a failure instead of losing it, cancelled together at the end."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Any, name: str = "ui-task") -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a task of the window failed", exc_info=task.exception())


_shared: Background | None = None


def shared_background() -> Background:
    """The window's one Background for small calls (made on first use)."""
    global _shared
    if _shared is None or _shared._closed:
        _shared = Background()
    return _shared
