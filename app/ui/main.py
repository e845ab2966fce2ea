"""Starting the window: Qt application, qasync loop, crash handling, a clean quit.

qasync runs asyncio on Qt's event loop. The coroutine `_run_window` lives as long as the
window; closing the window (or Ctrl+C in the terminal) sets `quit_requested`, then the
controller cancels uploads and stops the local server before the loop ends.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_API", "pyside6")  # qasync picks its binding at import time

import asyncio
import gc
import logging
import logging.handlers
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType

import qasync
from PySide6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from app import APP_NAME, __version__
from app.core.paths import data_dir
from app.ui.controller import UploadController
from app.ui.preview_cache import PreviewCache
from app.ui.queue_model import QueueModel
from app.ui.settings import SettingsStore
from app.ui.window import MainWindow

log = logging.getLogger("app")
RESOURCES = Path(__file__).resolve().parents[1] / "resources"


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


def _route_qt_messages() -> None:
    levels = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }

    def handler(kind: QtMsgType, _context: object, message: str) -> None:
        logging.getLogger("qt").log(levels.get(kind, logging.WARNING), message)

    qInstallMessageHandler(handler)


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
    app.setDesktopFileName("photo-uploader")
    icon = RESOURCES / "photo-uploader.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    # We quit through _run_window, after cleaning up, not when the last window closes.
    app.setQuitOnLastWindowClosed(False)
    return app


WindowScript = Callable[[MainWindow], Awaitable[None]]


async def _run_window(
    app: QApplication, paths: list[Path], script: WindowScript | None = None
) -> int:
    loop = asyncio.get_running_loop()
    quit_requested = asyncio.Event()
    app.aboutToQuit.connect(quit_requested.set)
    # Ctrl+C in the terminal: Python only sees the signal when Python code runs, so a
    # short timer keeps it running; the handler asks for a clean quit (qasync #127).
    signal.signal(signal.SIGINT, lambda *_: loop.call_soon_threadsafe(quit_requested.set))
    sigint_pump = QTimer()
    sigint_pump.start(200)
    sigint_pump.timeout.connect(lambda: None)

    settings_store = SettingsStore.open_default()
    previews = PreviewCache()
    model = QueueModel(previews)
    controller = UploadController(model, secret_for=settings_store.secrets.get)
    window = MainWindow(controller, model, previews, settings_store)
    window.closed.connect(quit_requested.set)
    window.show()
    try:
        settings = settings_store.load()
        await controller.start(settings, settings_store.secret_for(settings))
        tune_garbage_collector()
        if paths:
            window.add_paths(paths)
        if script is not None:  # screenshots and benchmarks drive the real window
            scripted = asyncio.ensure_future(script(window))
            scripted.add_done_callback(lambda _task: quit_requested.set())
        await quit_requested.wait()
    finally:
        sigint_pump.stop()
        await controller.aclose()
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
    _route_qt_messages()
    reporter = CrashReporter(log_path)
    sys.excepthook = reporter.excepthook
    try:
        with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
            runner.get_loop().set_exception_handler(reporter.loop_handler)
            return runner.run(_run_window(app, paths, script))
    finally:
        # Free Python-side Qt wrappers while the application still exists; left to
        # interpreter shutdown, PySide6 can crash tearing them down in the wrong order.
        gc.collect()
