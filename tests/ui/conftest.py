"""The window's tests collect cyclic garbage as the app does: on the GUI thread only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.ui.collector import GuiThreadCollector


@pytest.fixture(scope="session", autouse=True)
def gui_thread_collection(qapp: object) -> Iterator[None]:
    collector = GuiThreadCollector()
    yield
    collector.stop()
