"""Starting and ending the window: signals, the Qt message handler, the crash offer."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QtMsgType
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from app.ui.main import qt_message_to_log
from app.ui.signals import SignalHandler


def test_a_first_signal_asks_to_quit_and_a_second_quits_at_once(
    qapp: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[bool] = []
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    before = signal.getsignal(signal.SIGTERM)
    handler = SignalHandler(lambda: asked.append(True))
    handler.activate()
    try:
        assert signal.getsignal(signal.SIGTERM) == handler._handle
        handler._handle(signal.SIGTERM, None)
        assert asked == [True] and exits == []
        handler._handle(signal.SIGHUP, None)
        assert exits == [128 + signal.SIGHUP]
    finally:
        handler.deactivate()
    assert signal.getsignal(signal.SIGTERM) == before  # put back at the end


def test_a_real_sigterm_reaches_the_qt_loop_at_once(qtbot: QtBot) -> None:
    asked: list[bool] = []
    handler = SignalHandler(lambda: asked.append(True))
    handler.activate()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        qtbot.waitUntil(lambda: asked == [True], timeout=2000)
    finally:
        handler.deactivate()


def test_qt_messages_keep_their_category_file_and_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    context = SimpleNamespace(category="qt.qpa.xcb", file="qxcbconnection.cpp", line=412)
    with caplog.at_level(logging.DEBUG):
        qt_message_to_log(QtMsgType.QtWarningMsg, context, "could not connect to display")
    (record,) = caplog.records
    assert record.name == "qt.qt.qpa.xcb" and record.levelno == logging.WARNING
    assert record.getMessage() == "could not connect to display (qxcbconnection.cpp:412)"


def test_the_window_offers_the_last_crash_report(qtbot: QtBot, tmp_path: Path) -> None:
    from tests.helpers.fakes import FakeStore
    from tests.ui.test_window import App

    report = tmp_path / "crash-last.log"
    report.write_text("Fatal Python error: Segmentation fault\n")
    app = App(tmp_path / "settings.ini", FakeStore())
    app.window.offer_crash_report(report)
    boxes = [w for w in app.window.findChildren(QMessageBox) if w.isVisible()]
    assert boxes and "stopped unexpectedly last time" in boxes[0].text()
    assert str(report) in boxes[0].informativeText()
    assert any(b.text() == "Show report" for b in boxes[0].buttons())
    app.previews.close()
    app.window.deleteLater()
