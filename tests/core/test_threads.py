"""The serial daemon thread the journal runs on."""

from __future__ import annotations

import threading

import pytest

from app.core.threads import SerialThread


def test_work_runs_in_order_on_one_daemon_thread() -> None:
    worker = SerialThread("test-serial")
    seen: list[tuple[int, str, bool]] = []

    def note(n: int) -> int:
        current = threading.current_thread()
        seen.append((n, current.name, current.daemon))
        return n * 2

    futures = [worker.submit(note, n) for n in range(5)]
    assert [f.result(5) for f in futures] == [0, 2, 4, 6, 8]
    assert seen == [(n, "test-serial", True) for n in range(5)]
    worker.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        worker.submit(note, 5)


def test_an_error_reaches_the_future_and_the_thread_goes_on() -> None:
    worker = SerialThread("test-serial")

    def boom() -> None:
        raise ValueError("disk on fire")

    failed = worker.submit(boom)
    with pytest.raises(ValueError, match="disk on fire"):
        failed.result(5)
    assert worker.submit(lambda: "still here").result(5) == "still here"
    worker.shutdown(wait=True)
