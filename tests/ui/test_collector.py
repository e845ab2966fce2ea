"""app.ui.collector: cyclic garbage with Qt objects in it is freed on the GUI thread."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QObject, Qt
from pytestqt.qtbot import QtBot

from app.ui.collector import GuiThreadCollector


@pytest.fixture
def collector(qapp: object) -> Iterator[GuiThreadCollector]:
    made = GuiThreadCollector(interval_ms=10)
    yield made
    made.stop()


def _garbage_cycle_with_a_qobject(destroyed_on: list[str]) -> None:
    holder = QObject()
    holder.destroyed.connect(
        lambda: destroyed_on.append(threading.current_thread().name),
        Qt.ConnectionType.DirectConnection,
    )
    holder.me = holder  # type: ignore[attr-defined]  # a cycle only the collector frees


def _allocate_on_a_worker(kept: list[list[int]]) -> None:
    def allocate() -> None:
        kept.extend([] for _ in range(10 * gc.get_threshold()[0]))  # far past the threshold

    worker = threading.Thread(target=allocate, name="allocating")
    worker.start()
    worker.join()


def test_a_cycle_holding_a_qt_object_is_freed_on_the_gui_thread(
    qtbot: QtBot, collector: GuiThreadCollector
) -> None:
    destroyed_on: list[str] = []
    _garbage_cycle_with_a_qobject(destroyed_on)
    kept: list[list[int]] = []
    _allocate_on_a_worker(kept)  # would have set off a collection there
    assert destroyed_on == []
    qtbot.waitUntil(lambda: bool(destroyed_on))
    assert destroyed_on == [threading.main_thread().name]


def test_stopping_gives_back_automatic_collection(qapp: object) -> None:
    was_enabled = gc.isenabled()  # off already under the session's collector
    gc.enable()
    try:
        collector = GuiThreadCollector()
        assert not gc.isenabled()
        collector.stop()
        assert gc.isenabled()
    finally:
        if not was_enabled:
            gc.disable()
