"""Starting the window: Qt application, qasync loop, crash handling, a clean quit.

qasync runs asyncio on Qt's event loop. The coroutine `_run_window` lives as long as the
window; closing the window, or SIGINT, SIGTERM or SIGHUP (Ctrl+C, `kill`, logging out),
sets `quit_requested`, then the controller cancels uploads and stops the local server
before the loop ends. A later launch for the same user and data folder hands its paths
to this window (app.ui.single_instance). What was installed at start (signal handlers,
the Qt message handler, the excepthook, the crash trail) is removed at the end.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_API", "pyside6")  # qasync picks its binding at import time

import asyncio
import gc
import logging
import logging.handlers
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import qasync
from PySide6.QtCore import QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QMessageBox

from app import APP_NAME, __version__
from app.core.crashlog import CrashTrail
from app.core.paths import data_dir
from app.ui.app_icon import DESKTOP_FILE_NAME, app_icon
from app.ui.background import shared_background
from app.ui.collector import GuiThreadCollector
from app.ui.controller import UploadController
from app.ui.preview_cache import PreviewCache
from app.ui.queue_model import QueueModel
from app.ui.settings import SettingsStore, stored_secret
from app.ui.signals import SignalHandler
from app.ui.single_instance import InstanceServer, hand_over, instance_name
from app.ui.window import MainWindow

log = logging.getLogger("app")


def setup_logging() -> Path:
    """Log to a rotating file in the data folder; tracebacks go there, never to the user."""
    folder = data_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "photo-uploader.log"
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def qt_message_to_log(kind: QtMsgType, context: Any, message: str) -> None:
    """A Qt message into the log, with its category and where in Qt it was raised."""
    category = getattr(context, "category", None) or "default"
    where = ""
    file, line = getattr(context, "file", None), getattr(context, "line", 0)
    if file:
        where = f" ({file}:{line})"
    logging.getLogger(f"qt.{category}").log(
        _QT_LEVELS.get(kind, logging.WARNING), "%s%s", message, where
    )


def _route_qt_messages() -> None:
    qInstallMessageHandler(qt_message_to_log)


class CrashReporter:
    """Unexpected exceptions: logged with their traceback, shown as one calm sentence."""

    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self._showing = False

    def excepthook(
        self,
        kind: type[BaseException],
        value: BaseException,
        tb: TracebackType | None,
    ) -> None:
        log.error("unexpected error:\n%s", "".join(traceback.format_exception(kind, value, tb)))
        self._show()

    def loop_handler(self, _loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            log.error("unexpected error in a task", exc_info=exc)
        else:
            log.error("unexpected event loop error: %s", context.get("message"))
        self._show()

    def _show(self) -> None:
        if self._showing or QApplication.instance() is None:
            return
        self._showing = True
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            APP_NAME,
            "Something unexpected went wrong. Your queue is still there; "
            "uploads that were running may show as failed and can be retried.",
        )
        box.setInformativeText(f"Details were saved to {self._log_path}.")
        box.finished.connect(lambda _r: setattr(self, "_showing", False))
        box.open()


def create_application(argv: Sequence[str]) -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv[:1]))
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName("PhotoUploader")
    app.setDesktopFileName(DESKTOP_FILE_NAME)
    app.setWindowIcon(app_icon())
    # We quit through _run_window, after cleaning up, not when the last window closes.
    app.setQuitOnLastWindowClosed(False)
    return app


WindowScript = Callable[[MainWindow], Awaitable[None]]


async def _run_window(
    app: QApplication,
    paths: list[Path],
    script: WindowScript | None = None,
    instance: InstanceServer | None = None,
    last_crash: Path | None = None,
    collector: GuiThreadCollector | None = None,
) -> int:
    quit_requested = asyncio.Event()
    app.aboutToQuit.connect(quit_requested.set)
    signals = SignalHandler(quit_requested.set)
    signals.activate()

    background = shared_background()
    settings_store = SettingsStore.open_default()
    previews = PreviewCache()
    model = QueueModel(previews)
    controller = UploadController(model, secret_for=settings_store.secrets.get)
    window = MainWindow(controller, model, previews, settings_store)
    window.closed.connect(quit_requested.set)
    if instance is not None:
        instance.paths_received.connect(lambda handed: window.bring_forward(handed))
    window.show()
    if last_crash is not None:
        window.offer_crash_report(last_crash)
    try:
        if paths:  # queued now (said at once), sent once the engine is up
            window.add_paths(paths)
        settings = settings_store.load()
        secret = await background.run(stored_secret, settings_store.secrets, settings)
        await controller.start(settings, secret)
        tune_garbage_collector()
        if collector is not None:  # after start-up's garbage went in one collection
            collector.start()
        if script is not None:  # screenshots and benchmarks drive the real window
            scripted = asyncio.ensure_future(script(window))
            scripted.add_done_callback(lambda _task: quit_requested.set())
        await quit_requested.wait()
    finally:
        signals.deactivate()
        if instance is not None:
            instance.close()
        await controller.aclose()
        background.shutdown()
        previews.close()
        if window.isVisible():
            window.save_state()
            window.hide()
        window.deleteLater()
    return 0


def tune_garbage_collector() -> None:
    """Keep full collections from freezing the window.

    A full (generation 2) collection scans every object and holds the GIL meanwhile, so
    whichever thread triggers it stalls the GUI thread too: 50-190 ms here, once boto3,
    Qt and Pillow had loaded. Freezing what start-up created moves it out of every
    later scan; a larger first threshold makes collections rarer.
    """
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(20_000, second, third)


GUI_SWITCH_INTERVAL = 0.001


def favour_the_gui_thread() -> None:
    """Hand the GIL over every 1 ms instead of 5.

    Worker threads run at background priority (app.core.threads); when the GUI thread
    wants the GIL, a low-priority holder must first be scheduled to let go of it. A
    shorter switch interval bounds that wait: bench/ui_lag.py, 200 photos, p99 lag
    17.1/17.2/14.8 ms at 5 ms against 14.8/14.3/13.8 ms at 1 ms, same upload time.
    """
    sys.setswitchinterval(GUI_SWITCH_INTERVAL)


NO_DISPLAY_MESSAGE = (
    "photo-uploader: no display was found, so the window cannot open. Run it from a "
    "desktop session, or upload without a window: python -m app upload PATH..."
)


def display_available() -> bool:
    """False on a Linux box with no X11/Wayland session (Qt would abort, not explain)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_gui(argv: Sequence[str], script: WindowScript | None = None) -> int:
    """Open the window; `argv` may name files and folders to queue at once.

    `script`, if given, is awaited with the window once it is up; the app quits when it
    returns (used by docs/make_screenshot.py and bench/ui_lag.py).
    """
    if not display_available():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return 2
    paths = [Path(arg).expanduser() for arg in argv if not arg.startswith("-")]
    log_path = setup_logging()
    favour_the_gui_thread()
    app = create_application([sys.argv[0]])
    name = instance_name(data_dir())
    if script is None and hand_over(name, paths):  # (app.__main__ asks first, before loading)
        log.info("handed %d path(s) to the window already open", len(paths))
        return 0
    instance = InstanceServer(name)
    instance.listen()
    trail = CrashTrail(data_dir()).install()
    _route_qt_messages()
    reporter = CrashReporter(log_path)
    sys.excepthook = reporter.excepthook
    collector = GuiThreadCollector(app, started=False)  # once the window is up
    try:
        with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
            runner.get_loop().set_exception_handler(reporter.loop_handler)
            return runner.run(
                _run_window(app, paths, script, instance, trail.last_crash, collector)
            )
    finally:
        sys.excepthook = sys.__excepthook__
        qInstallMessageHandler(None)
        trail.uninstall()
        collector.stop()
        # Free Python-side Qt wrappers while the application still exists; left to
        # interpreter shutdown, PySide6 can crash tearing them down in the wrong order.
        gc.collect()
