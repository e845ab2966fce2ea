"""The window's tests collect cyclic garbage as the app does: on the GUI thread only."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from app.ui.collector import GuiThreadCollector


@pytest.fixture(scope="session", autouse=True)
def gui_thread_collection(qapp: object) -> Iterator[None]:
    collector = GuiThreadCollector()
    yield
    collector.stop()


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync loop on the test's QApplication, as the app runs."""
    qapp.setQuitOnLastWindowClosed(False)  # as create_application() does for the real app
    event_loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    event_loop.close()
    asyncio.set_event_loop(None)
