"""Adding files: which paths a drop or the clipboard names, the handler that takes drops
for the whole window (always as a copy), the empty queue's drop target, and the file
choosers (opened with open(), never exec(), inside qasync's loop)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


def local_paths(mime: QMimeData) -> list[Path]:
    """Files and folders named by a drop or the clipboard: file URLs, or plain-text paths."""
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    if paths or not mime.hasText():
        return paths
    for line in mime.text().splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("file:"):
            url = QUrl(line)
            if url.isLocalFile():
                paths.append(Path(url.toLocalFile()))
        elif line.startswith(("/", "~")) or (len(line) > 2 and line[1] == ":"):
            paths.append(Path(line).expanduser())
    return paths


class DropTarget(QObject):
    """Takes drops of local files and folders for `widget` and hands their paths to
    `on_paths`, out of the drop handler (the drag source is still waiting).

    Always a copy, never a move: the source files must stay where they are (a file
    manager that honours a move would delete them; Picard's item views do the same).
    """

    def __init__(self, widget: QWidget, on_paths: Callable[[list[Path]], None]) -> None:
        super().__init__(widget)
        self._on_paths = on_paths
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if not isinstance(event, QDragEnterEvent | QDragMoveEvent):
                return False
            if local_paths(event.mimeData()):
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
            else:
                event.ignore()
            return True
        if kind == QEvent.Type.Drop and isinstance(event, QDropEvent):
            paths = local_paths(event.mimeData())
            if not paths:
                event.ignore()
                return True
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            QTimer.singleShot(0, lambda: self._on_paths(paths))
            return True
        return False


class DropHint(QWidget):
    """What an empty queue shows: a big, obvious drop target."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropHint")
        title = QLabel("Drop photos or folders here")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "Each photo is uploaded byte for byte with a thumbnail beside it.\n"
            "Identical photos are never sent twice. You can also paste file paths (Ctrl+V)."
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        self.add_photos = QPushButton("Add photos…")
        self.add_folder = QPushButton("Add folder…")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_photos)
        buttons.addWidget(self.add_folder)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.setStyleSheet(
            "#dropHint { border: 2px dashed palette(mid); border-radius: 12px; margin: 16px; }"
        )


PHOTO_FILTERS = [
    "Photos (*.jpg *.jpeg *.png *.webp *.gif *.tif *.tiff *.heic *.heif *.avif "
    "*.JPG *.JPEG *.PNG *.HEIC)",
    "Camera RAW (*.cr2 *.cr3 *.nef *.nrw *.arw *.dng *.orf *.rw2 *.pef *.raf *.srw "
    "*.CR2 *.CR3 *.NEF *.NRW *.ARW *.DNG *.ORF *.RW2 *.PEF *.RAF *.SRW)",
    "All files (*)",
]


def choose_files(parent: QWidget, on_paths: Callable[[list[Path]], None]) -> None:
    dialog = QFileDialog(parent, "Add photos")
    dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
    dialog.setNameFilters(PHOTO_FILTERS)
    dialog.filesSelected.connect(lambda files: on_paths([Path(f) for f in files]))
    dialog.open()


def choose_folder(parent: QWidget, on_paths: Callable[[list[Path]], None]) -> None:
    dialog = QFileDialog(parent, "Add a folder of photos")
    dialog.setFileMode(QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    dialog.fileSelected.connect(lambda folder: on_paths([Path(folder)]))
    dialog.open()


def clipboard_paths() -> list[Path]:
    mime = QGuiApplication.clipboard().mimeData()
    return local_paths(mime) if mime is not None else []
