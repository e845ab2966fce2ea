"""Integration tests that drive Qt objects in this process collect their cyclic garbage
as the app does: on the GUI thread only (app.ui.collector, tests/ui/conftest.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app.ui.collector import GuiThreadCollector


@pytest.fixture(autouse=True)
def gui_thread_collection(request: pytest.FixtureRequest) -> Iterator[None]:
    """Without it a worker thread that allocates past the threshold may collect a cycle
    holding a Qt object with a timer; the timer then fires on freed memory in a later
    test (seen: a segfault in QTimerInfoList::activateTimers after test_secrets)."""
    if "qapp" not in request.fixturenames:
        yield
        return
    collector = GuiThreadCollector()
    try:
        yield
    finally:
        collector.stop()
        collector.deleteLater()
        gc.collect()  # the test's own cycles, here, on the GUI thread
