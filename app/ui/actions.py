"""The window's actions: text, shortcut and tip of each, in one place."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolBar, QWidget

Shortcut = QKeySequence | QKeySequence.StandardKey | str | None


class WindowActions:
    """Every action of the main window, added to it (so shortcuts work anywhere in it).

    `slots` maps each action's name to what it does; the window decides when each is
    enabled.
    """

    def __init__(self, window: QWidget, slots: dict[str, Callable[[], object]]) -> None:
        self._window = window

        def make(name: str, text: str, shortcut: Shortcut, tip: str) -> QAction:
            action = QAction(text, window)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if tip:
                shown = f"{tip} ({action.shortcut().toString()})" if shortcut else tip
                action.setToolTip(shown)
                action.setStatusTip(tip)
            action.triggered.connect(slots[name])
            window.addAction(action)
            return action

        self.add_photos = make(
            "add_photos", "Add &photos…", QKeySequence.StandardKey.Open, "Add photo files"
        )
        self.add_folder = make(
            "add_folder", "Add &folder…", "Ctrl+Shift+O", "Add a folder of photos"
        )
        self.retry = make(
            "retry",
            "&Retry failed",
            "Ctrl+R",
            "Retry failed files and failed thumbnails; only the failed step is redone "
            "(a file that is empty or not an image waits until it is added again, fixed)",
        )
        self.pause = make(
            "pause", "&Pause", "Ctrl+P", "Pause: no new files start; running ones finish"
        )
        self.pause.setCheckable(True)
        self.pause.toggled.connect(self._pause_says_what_it_does)
        self.cancel = make("cancel", "&Cancel selected", "Ctrl+.", "Stop the selected files")
        self.remove = make(
            "remove",
            "Re&move selected",
            QKeySequence.StandardKey.Delete,
            "Remove the selected files from the queue (nothing is deleted from the bucket)",
        )
        self.clear = make(
            "clear",
            "C&lear finished",
            "Ctrl+Shift+L",
            "Remove finished files from the queue; failed files stay",
        )
        self.settings = make(
            "settings", "&Settings…", "Ctrl+,", "Destination, credentials and more"
        )
        self.paste = make(
            "paste",
            "Paste paths",
            QKeySequence.StandardKey.Paste,
            "Add files named on the clipboard",
        )
        self.edit_item = make(
            "edit_item",
            "Edit &item…",
            "Ctrl+I",
            "Set the item the selected photos belong to (ID, title, view, notes)",
        )
        self.copy_key = make("copy_key", "Copy &key", None, "Copy the object key")
        self.show_in_folder = make(
            "show_in_folder", "Show in &folder", None, "Open the file's folder"
        )
        self.quit = make("quit", "&Quit", QKeySequence.StandardKey.Quit, "Quit")

    def _pause_says_what_it_does(self, paused: bool) -> None:
        """Its text and tips say what pressing it does now: Pause, or Resume."""
        if paused:
            text, tip = "&Resume", "Resume: queued files start again"
        else:
            text, tip = "&Pause", "Pause: no new files start; running ones finish"
        self.pause.setText(text)
        self.pause.setToolTip(f"{tip} ({self.pause.shortcut().toString()})")
        self.pause.setStatusTip(tip)

    def toolbar(self) -> QToolBar:
        toolbar = QToolBar("Actions", self._window)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (
            self.add_photos,
            self.add_folder,
            None,
            self.retry,
            self.pause,
            self.cancel,
            self.remove,
            self.clear,
            self.edit_item,
            None,
            self.settings,
        ):
            if action is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(action)
        return toolbar
