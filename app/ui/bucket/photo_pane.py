"""The pane beside the Bucket tab's grid: the selected photo larger (its preview when it
has one, else its thumbnail), every field its metadata file keeps, and what can be done
with it. The pane shows and offers; app.ui.bucket.actions does."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.collection import Photo
from app.core.sharing import EXPIRY_CHOICES
from app.core.sizes import human_size

PREVIEW_SIDE = 480  # decoded at most this size; shown at the pane's width
EXPIRY_NAMES = {"1h": "1 hour", "1d": "1 day", "7d": "7 days"}


def photo_fields(photo: Photo, record: Mapping[str, object] | None) -> list[tuple[str, str]]:
    """(label, value) for each field worth showing: from the photo, and from its sidecar
    (`record`, None while it is read or when it has none)."""
    fields = [("Key", photo.key), ("Size", f"{human_size(photo.size)} ({photo.size:,} bytes)")]
    fields.append(("Type", photo.content_type))
    if not photo.detailed:
        return [*fields, ("Details", "being read…")]
    if not photo.ours:
        return [*fields, ("Uploaded by", "another tool: Check… can adopt it")]
    record = record or {}
    width, height = record.get("width"), record.get("height")
    if isinstance(width, int) and isinstance(height, int):
        fields.append(("Dimensions", f"{width} \N{MULTIPLICATION SIGN} {height}"))
    fields.append(("Taken", photo.taken_at or "not recorded"))
    camera = record.get("camera")
    if isinstance(camera, dict):
        model = " ".join(str(camera[k]) for k in ("make", "model") if camera.get(k))
        if model:
            fields.append(("Camera", model))
        if camera.get("lens"):
            fields.append(("Lens", str(camera["lens"])))
    item = photo.item
    if item is not None:
        for label, value in (
            ("Item", item.id),
            ("Title", item.title),
            ("View", item.view),
            ("Notes", item.notes),
        ):
            if value:
                fields.append((label, value))
        fields.append(("Primary", "yes" if item.primary else "no"))
    else:
        fields.append(("Item", "none"))
    for label, name in (("Original name", "original_name"), ("Folder", "original_folder")):
        text = record.get(name)
        if isinstance(text, str) and text:
            fields.append((label, text))
    fields.append(("Uploaded", photo.uploaded_at or "before metadata files"))
    fields.append(("SHA-256", photo.sha256[:16] + "…"))  # (whole in `list --jsonl`)
    if photo.has_gps:
        fields.append(("GPS", "kept in its metadata file"))
    if not photo.indexed:
        fields.append(("Index", "missing: Check… writes it again"))
    return fields


class PhotoPane(QWidget):
    """Scrolls rather than clips when the window is small."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(160)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.preview.setAccessibleName("Preview of the selected photo")
        self.title = QLabel("Select a photo to see its details.")
        self.title.setWordWrap(True)
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.fields = QLabel()
        self.fields.setWordWrap(True)
        self.fields.setTextFormat(Qt.TextFormat.RichText)
        self.fields.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fields.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.fields.setAccessibleName("The selected photo's fields")

        self.edit_button = QPushButton("Edit item…")
        self.edit_button.setToolTip("Set the item (ID, title, view, notes, primary)")
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open the original in the desktop's viewer")
        self.share_button = QPushButton("Copy share link")
        self.expiry_box = QComboBox()
        for code in EXPIRY_CHOICES:
            self.expiry_box.addItem(f"for {EXPIRY_NAMES[code]}", code)
        self.expiry_box.setCurrentIndex(1)
        self.expiry_box.setAccessibleName("How long the link works")
        self.save_button = QPushButton("Save as…")
        self.download_button = QPushButton("Download selected…")
        self.download_button.setToolTip("Save the selected originals into a folder")
        self.delete_button = QPushButton("Delete…")
        buttons = QGridLayout()
        buttons.addWidget(self.edit_button, 0, 0)
        buttons.addWidget(self.open_button, 0, 1)
        buttons.addWidget(self.share_button, 1, 0)
        buttons.addWidget(self.expiry_box, 1, 1)
        buttons.addWidget(self.save_button, 2, 0)
        buttons.addWidget(self.download_button, 2, 1)
        buttons.addWidget(self.delete_button, 3, 0)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setAccessibleName("What the last action did")

        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.addWidget(self.preview)
        layout.addWidget(self.title)
        layout.addWidget(self.fields)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.setMinimumWidth(260)
        self._image: QImage | None = None
        self.key = ""  # the photo shown ("" for none, or several)
        self.show_photos([])

    def show_photos(self, photos: Sequence[Photo]) -> None:
        """What is selected: one photo's fields (its sidecar's come with show_record),
        or how many are selected."""
        self.key = photos[0].key if len(photos) == 1 else ""
        self._image = None
        self.preview.clear()
        self.preview.setVisible(len(photos) == 1)
        if not photos:
            self.title.setText("Select a photo to see its details.")
            self.fields.clear()
        elif len(photos) == 1:
            photo = photos[0]
            self.title.setText(photo.key[photo.key.rfind("/") + 1 :])
            self.preview.setText("…")
            self._set_fields(photo_fields(photo, None))
        else:
            total = sum(p.size for p in photos)
            self.title.setText(f"{len(photos):,} photos selected ({human_size(total)})")
            self.fields.clear()

    def show_record(self, photo: Photo, record: Mapping[str, object] | None) -> None:
        if photo.key == self.key:
            self._set_fields(photo_fields(photo, record))

    def show_image(self, key: str, image: QImage | None) -> None:
        if key != self.key:
            return
        self._image = image
        if image is None:
            self.preview.setText("No preview")
        else:
            self._fit_image()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_image()

    def _fit_image(self) -> None:
        """The image as large as the pane's width allows, but never so tall that the
        buttons go out of sight (at most 40 % of the pane's height)."""
        if self._image is None:
            return
        box = QSize(max(64, self.width() - 24), max(120, int(self.height() * 0.4)))
        pixmap = QPixmap.fromImage(self._image)
        if pixmap.width() > box.width() or pixmap.height() > box.height():
            pixmap = pixmap.scaled(
                box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        self.preview.setPixmap(pixmap)

    def _set_fields(self, fields: list[tuple[str, str]]) -> None:
        rows = "".join(
            f"<tr><td style='padding-right:8px; color:palette(placeholder-text)'>"
            f"{html.escape(label)}</td><td>{html.escape(value)}</td></tr>"
            for label, value in fields
        )
        self.fields.setText(f"<table cellspacing='2'>{rows}</table>")
