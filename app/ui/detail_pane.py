"""The pane beside the queue: everything about the selected file, copyable."""

from __future__ import annotations

from urllib.parse import quote

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.models import FileSnapshot, FileState, Item, ThumbnailState
from app.core.policy import takes_item
from app.core.sizes import human_size
from app.ui.badges import message_text, state_badge, thumbnail_badge
from app.ui.delegates import wrap_lines
from app.ui.preview_cache import shrink_image

PREVIEW_SIDE = 240


def object_url(snap: FileSnapshot, endpoint_url: str | None) -> str | None:
    """Where the original lives: s3://bucket/key, or the endpoint's path-style URL."""
    if not snap.key or not snap.bucket:
        return None
    key = quote(snap.key, safe="/")
    if endpoint_url:
        return f"{endpoint_url.rstrip('/')}/{snap.bucket}/{key}"
    return f"s3://{snap.bucket}/{snap.key}"


class ElidedLabel(QLabel):
    """Up to two lines that never clip mid-character: keys, URLs and hashes wrap at any
    character, and what still does not fit is elided in the middle (a key keeps its
    start and its extension); the whole text is in the tooltip, and the Copy button
    beside it copies the whole."""

    LINES = 2

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        lines = wrap_lines(
            self._full,
            self.font(),
            self.contentsRect().width(),
            self.LINES,
            anywhere=True,
            elide=Qt.TextElideMode.ElideMiddle,
        )
        shown = "\n".join(lines)
        self.setText(shown)
        self.setToolTip(self._full if shown.replace("\n", "") != self._full else "")


class _CopyField(QWidget):
    """A value on one line (elided, never clipped) with a Copy button."""

    def __init__(self, name: str, parent: QWidget | None = None, *, mono: bool = False) -> None:
        super().__init__(parent)
        self._value = ElidedLabel()
        self._value.setAccessibleName(name)
        if mono:
            self._value.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        said = name if any(c.isupper() for c in name[1:]) else name.lower()  # "URL", "key"
        self._copy = QPushButton("Copy")
        self._copy.setAccessibleName(f"Copy {said}")
        self._copy.setToolTip(f"Copy the {said} to the clipboard")
        self._copy.clicked.connect(self._to_clipboard)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._value, 1)
        layout.addWidget(self._copy, 0)
        self.set_value(None)

    def set_value(self, value: str | None) -> None:
        self._value.set_full_text(value or "—")
        self._value.setAccessibleDescription(value or "none")
        self._copy.setEnabled(bool(value))
        self._text = value or ""

    def shown_text(self) -> str:
        """What the collector sees now (elided when it does not fit)."""
        return self._value.text()

    def text(self) -> str:
        return self._text

    def _to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self._text)


def item_text(item: Item | None) -> str:
    """An item in one or two lines: "coin-1907 · obverse · primary", then its title."""
    if item is None:
        return "—"
    head = " · ".join(
        part for part in (item.id, item.view, "primary" if item.primary else None) if part
    )
    lines = [line for line in (head, item.title, item.notes) if line]
    return "\n".join(lines) or "None"


class DetailPane(QWidget):
    """Larger preview, keys, URL, hash, size, type, item, and the whole error text.

    Signals:
        edit_item_requested(): the collector wants to edit the shown file's item.
    """

    edit_item_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailPane")
        self.setAccessibleName("File details")
        self.setMinimumWidth(240)
        self._endpoint_url: str | None = None
        self._file_id: int | None = None
        self._no_preview_text = ""

        self._preview = QLabel()
        self._preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._preview.setMinimumHeight(PREVIEW_SIDE)
        self._preview.setWordWrap(True)  # "No preview: ..." on two lines, not clipped
        self._preview.setAccessibleName("Preview")
        self._title = QLabel()
        self._title.setWordWrap(True)
        self._title.setTextFormat(Qt.TextFormat.PlainText)
        font = self._title.font()
        font.setBold(True)
        self._title.setFont(font)
        self._status = QLabel()
        self._status.setWordWrap(True)

        self.key = _CopyField("Key")
        self.thumbnail_key = _CopyField("Thumbnail key")
        self.preview_key = _CopyField("Preview key")
        self.url = _CopyField("URL")
        self.sha256 = _CopyField("SHA-256", mono=True)
        self._size = QLabel()
        self._type = QLabel()
        self._item = QLabel()
        self._item.setWordWrap(True)
        self._item.setTextFormat(Qt.TextFormat.PlainText)
        self._item.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._item.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._item.setAccessibleName("Item")
        self.edit_item_button = QPushButton("Edit…")
        self.edit_item_button.setAccessibleName("Edit item")
        self.edit_item_button.setToolTip("Set the item this photo belongs to (Ctrl+I)")
        self.edit_item_button.clicked.connect(self.edit_item_requested)
        item_row = QHBoxLayout()
        item_row.setContentsMargins(0, 0, 0, 0)
        item_row.addWidget(self._item, 1)
        item_row.addWidget(self.edit_item_button, 0, Qt.AlignmentFlag.AlignTop)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Key:", self.key)
        form.addRow("Thumbnail:", self.thumbnail_key)
        form.addRow("Preview:", self.preview_key)
        form.addRow("URL:", self.url)
        form.addRow("SHA-256:", self.sha256)
        form.addRow("Size:", self._size)
        form.addRow("Type:", self._type)
        form.addRow("Item:", item_row)

        self._message = QPlainTextEdit()
        self._message.setReadOnly(True)
        self._message.setAccessibleName("Message")
        self._message.setMaximumHeight(110)
        self._copy_message = QPushButton("Copy message")
        self._copy_message.setAccessibleName("Copy message")
        self._copy_message.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self._message.toPlainText())
        )

        layout = QVBoxLayout(self)
        layout.addWidget(self._preview)
        layout.addWidget(self._title)
        layout.addWidget(self._status)
        layout.addLayout(form)
        layout.addWidget(self._message)
        layout.addWidget(self._copy_message, 0, Qt.AlignmentFlag.AlignRight)
        layout.addStretch(1)
        self.show_snapshot(None)

    @property
    def file_id(self) -> int | None:
        return self._file_id

    def set_endpoint_url(self, endpoint_url: str | None) -> None:
        self._endpoint_url = endpoint_url

    def show_snapshot(
        self, snap: FileSnapshot | None, preview: QImage | None = None, *, loading: bool = False
    ) -> None:
        """Show one file, or a hint when nothing is selected. `loading`: its preview is
        being made (the pane is called again when it is there)."""
        self._file_id = snap.file_id if snap else None
        if snap is None:
            self._title.setText("No file selected")
            self._status.setText("Select a file in the queue to see its details.")
            for field in (self.key, self.thumbnail_key, self.preview_key, self.url, self.sha256):
                field.set_value(None)
            self._size.setText("—")
            self._type.setText("—")
            self._item.setText("—")
            self.edit_item_button.setEnabled(False)
            self._message.setPlainText("")
            self._copy_message.setEnabled(False)
            self._preview.setPixmap(QPixmap())
            self._preview.setText("")
            return
        self._title.setText(snap.path.name)
        self._title.setToolTip(str(snap.path))
        badge = state_badge(snap)
        thumb = thumbnail_badge(snap)
        self._status.setText(f"{badge.text} · thumbnail {thumb.text.lower()}")
        self.key.set_value(snap.key)
        self.thumbnail_key.set_value(snap.thumbnail_key)
        self.preview_key.set_value(snap.preview_key)
        self.url.set_value(object_url(snap, self._endpoint_url))
        self.sha256.set_value(snap.sha256)
        self._size.setText(human_size(snap.size) if snap.size is not None else "—")
        self._type.setText(snap.content_type or "—")
        self._item.setText(item_text(snap.item))
        self.edit_item_button.setEnabled(takes_item(snap))
        full = _full_message(snap)
        self._message.setPlainText(full)
        self._copy_message.setEnabled(bool(full))
        self._no_preview_text = "Loading the preview…" if loading else _no_preview_text(snap)
        self.set_preview(preview)

    def set_preview(self, image: QImage | None) -> None:
        if image is None or image.isNull():
            self._preview.setPixmap(QPixmap())
            self._preview.setText(self._no_preview_text)
            return
        self._preview.setPixmap(QPixmap.fromImage(shrink_image(image, PREVIEW_SIDE)))


def _no_preview_text(snap: FileSnapshot) -> str:
    if snap.thumbnail_state is ThumbnailState.FAILED:
        return "No preview: the thumbnail could not be made"
    if snap.state is FileState.FAILED:
        return "No preview: this file was not uploaded"
    if snap.state.is_final:
        return "No preview"
    return "Preview appears once the thumbnail is made"


def _full_message(snap: FileSnapshot) -> str:
    parts = []
    if snap.error:
        parts.append(snap.error)
    if snap.thumbnail_error:
        parts.append(f"Thumbnail: {snap.thumbnail_error}")
    if not parts and snap.state is not FileState.QUEUED:
        text = message_text(snap)
        if text and text != snap.key:
            parts.append(text)
    return "\n".join(parts)
