"""The tray icon while folders are watched: progress in its tooltip, Pause/Resume and
the window in its menu (the app keeps working behind other windows while it watches)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QApplication, QMenu, QStyle, QSystemTrayIcon, QWidget


class WatchTray(QSystemTrayIcon):
    """Shown while folders are watched (where the desktop has a tray).

    `show_window`, `toggle_pause` and `quit` are the window's own actions."""

    def __init__(
        self,
        *,
        show_window: Callable[[], object],
        toggle_pause: Callable[[], object],
        quit: Callable[[], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(_app_icon(), parent)
        self.menu = QMenu(parent)
        self.show_action = QAction("Show Photo Uploader", self.menu)
        self.pause_action = QAction("Pause uploads", self.menu)
        self.quit_action = QAction("Quit", self.menu)
        self.show_action.triggered.connect(show_window)
        self.pause_action.triggered.connect(toggle_pause)
        self.quit_action.triggered.connect(quit)
        self.menu.addAction(self.show_action)
        self.menu.addAction(self.pause_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.setContextMenu(self.menu)
        self.activated.connect(self._activated)
        self._show_window = show_window
        # Asked once: on Linux each ask makes a tray icon and a D-Bus round trip, and
        # `follow` runs four times a second.
        self.available = QSystemTrayIcon.isSystemTrayAvailable()

    def follow(self, *, watching: str, counts: str, paused: bool) -> None:
        """Show it while `watching` says something; its tooltip says what the queue does."""
        text = "Resume uploads" if paused else "Pause uploads"
        if self.pause_action.text() != text:
            self.pause_action.setText(text)
        lines = ["Photo Uploader" + (" (paused)" if paused else ""), watching, counts]
        tip = "\n".join(line for line in lines if line)
        if self.toolTip() != tip:  # (each change is a D-Bus message on Linux)
            self.setToolTip(tip)
        wanted = bool(watching) and self.available
        if wanted != self.isVisible():
            self.setVisible(wanted)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is QSystemTrayIcon.ActivationReason.Trigger:
            self._show_window()


def _app_icon() -> QIcon:
    icon = QApplication.windowIcon()
    if icon.isNull():
        style = QApplication.style()
        icon = style.standardIcon(QStyle.StandardPixmap.SP_ArrowUp)
    return icon
