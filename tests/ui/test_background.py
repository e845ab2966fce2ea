"""app.ui.background: blocking calls off the GUI thread, outcomes back on it."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from app.ui.background import Background, Outcome

TIMEOUT_S = 10


class Listener(QLineEdit):
    """A widget waiting for a background call's outcome (a line edit has a blink timer,
    which is what fired on freed memory when one was destroyed off the GUI thread)."""

    def heard(self, outcome: Outcome[str]) -> None:
        self.setText(outcome.get())


def test_the_outcome_comes_back_on_the_gui_thread(qtbot: QtBot) -> None:
    background = Background(workers=1)
    listener = Listener()
    qtbot.addWidget(listener)
    ran_on: list[str] = []

    def work() -> str:
        ran_on.append(threading.current_thread().name)
        return "done"

    background.submit(work, then=listener.heard)
    qtbot.waitUntil(lambda: listener.text() == "done")
    assert ran_on and ran_on[0] != threading.main_thread().name
    background.shutdown(wait=True)


def test_a_widget_closed_while_its_call_runs_is_destroyed_on_the_gui_thread(
    qtbot: QtBot,
) -> None:
    background = Background(workers=1)
    gate = threading.Event()
    destroyed_on: list[str] = []
    listener = Listener()
    listener.destroyed.connect(
        lambda: destroyed_on.append(threading.current_thread().name),
        Qt.ConnectionType.DirectConnection,
    )
    background.submit(gate.wait, TIMEOUT_S, then=listener.heard)
    del listener  # the window let go of it; only the pending call remembers it

    gate.set()
    background.shutdown(wait=True, drop_queued=False)  # the worker has let go of everything
    assert destroyed_on == [threading.main_thread().name]
