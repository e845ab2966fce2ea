"""The Settings dialog's sections, each a group of fields, and the small factories that
make those fields alike (names for tests and screen readers, buddies for mnemonics)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.config import MAX_CONCURRENCY
from app.ui.settings import (
    DEFAULT_PREVIEW_SIZE,
    MAX_PREVIEW_SIZE,
    MAX_THUMBNAIL_QUALITY,
    MAX_THUMBNAIL_SIZE,
    MIN_CONCURRENCY,
    MIN_PREVIEW_SIZE,
    MIN_THUMBNAIL_QUALITY,
    MIN_THUMBNAIL_SIZE,
)

ENDPOINT_PLACEHOLDER = "Leave empty for AWS"
ENDPOINT_HINT = "For another store, its URL, e.g. https://<account>.r2.cloudflarestorage.com"
NO_KEYRING_NOTE = "No system keyring was found, so the secret key is kept only until you quit."
CHECKSUM_CHOICES = (
    ("when_supported", "When supported (default)"),
    ("when_required", "Only when required (for R2, older B2, …)"),
)


def line_edit(name: str, accessible: str, placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setAccessibleName(accessible)
    edit.setPlaceholderText(placeholder)
    edit.setClearButtonEnabled(False)
    return edit


def check_box(name: str, accessible: str, text: str, tooltip: str) -> QCheckBox:
    box = QCheckBox(text)
    box.setObjectName(name)
    box.setAccessibleName(accessible)
    box.setToolTip(tooltip)
    return box


def spin(name: str, accessible: str, low: int, high: int, suffix: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setAccessibleName(accessible)
    spin.setRange(low, high)
    spin.setSuffix(suffix)
    return spin


def key_preview(name: str, accessible: str, font: QFont) -> QLineEdit:
    """A read-only field: long keys scroll instead of widening the dialog, and can be copied."""
    preview = QLineEdit()
    preview.setObjectName(name)
    preview.setAccessibleName(accessible)
    preview.setReadOnly(True)
    preview.setFrame(False)
    preview.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
    preview.setFont(font)
    # Room for the default thumbnail key with a short prefix; longer keys scroll.
    preview.setMinimumWidth(preview.fontMetrics().horizontalAdvance("x" * 34))
    palette = preview.palette()
    palette.setColor(QPalette.ColorRole.Base, palette.color(QPalette.ColorRole.Window))
    preview.setPalette(palette)
    return preview


def error_label(name: str, accessible: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setAccessibleName(accessible)
    label.setWordWrap(True)
    label.hide()
    return label


def add_row(form: QFormLayout, text: str, field: QWidget) -> None:
    label = QLabel(text)
    label.setBuddy(field)
    form.addRow(label, field)


class DestinationSection(QGroupBox):
    """Where photos go: the local test bucket or an S3 bucket, its credentials, a
    connection test.

    Signals:
        changed(): a field changed (the dialog checks the form again).
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Destination", parent)
        self.local_radio = QRadioButton("&Local test bucket (on this computer)")
        self.local_radio.setAccessibleName("Local test bucket")
        self.local_radio.setToolTip("Try the app without an account: photos stay on this computer.")
        self.s3_radio = QRadioButton("S&3 bucket")
        self.s3_radio.setAccessibleName("S3 bucket")
        self.s3_radio.setToolTip("Amazon S3, or an S3-compatible store (MinIO, R2, B2, Wasabi…).")
        self._where = QButtonGroup(self)
        self._where.addButton(self.local_radio)
        self._where.addButton(self.s3_radio)

        self.bucket_edit = line_edit("bucket", "Bucket name", "e.g. my-collection-photos")
        self.bucket_error = error_label("bucketError", "Bucket problem")
        self.region_edit = line_edit("region", "Region", "e.g. eu-central-1 (optional)")
        self.endpoint_edit = line_edit("endpointUrl", "Endpoint URL", ENDPOINT_PLACEHOLDER)
        # The format's example below the field, wrapped: as a placeholder it made the
        # dialog wider than a 1024-px screen.
        self.endpoint_hint = QLabel(ENDPOINT_HINT)
        self.endpoint_hint.setObjectName("endpointHint")
        self.endpoint_hint.setWordWrap(True)
        self.endpoint_hint.setEnabled(False)  # drawn greyed, as a placeholder is
        self.endpoint_edit.setAccessibleDescription(ENDPOINT_HINT)
        self.endpoint_edit.setToolTip(
            "Only for S3-compatible stores such as MinIO, Cloudflare R2, Backblaze B2 or Wasabi."
        )
        self.endpoint_error = error_label("endpointError", "Endpoint URL problem")

        self.credentials_combo = QComboBox()
        self.credentials_combo.setObjectName("credentials")
        self.credentials_combo.setAccessibleName("Credentials")
        self.credentials_combo.setToolTip(
            "Default: what the AWS CLI would use (environment variables, the default profile, "
            "SSO or an instance role)."
        )
        self.access_key_edit = line_edit("accessKey", "Access key ID", "e.g. AKIA…")
        self.secret_edit = line_edit("secretKey", "Secret key", "")
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.keys_error = error_label("keysError", "Access keys problem")
        self.keyring_note = QLabel(NO_KEYRING_NOTE)
        self.keyring_note.setObjectName("keyringNote")
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setAccessibleName("Secret key storage")

        self.s3_form = QFormLayout()
        self.s3_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        add_row(self.s3_form, "&Bucket:", self.bucket_edit)
        self.s3_form.addRow(self.bucket_error)
        add_row(self.s3_form, "&Region:", self.region_edit)
        add_row(self.s3_form, "&Endpoint URL:", self.endpoint_edit)
        self.s3_form.addRow("", self.endpoint_hint)
        self.s3_form.addRow(self.endpoint_error)
        add_row(self.s3_form, "Cre&dentials:", self.credentials_combo)
        add_row(self.s3_form, "Access &key ID:", self.access_key_edit)
        add_row(self.s3_form, "&Secret key:", self.secret_edit)
        self.s3_form.addRow(self.keyring_note)
        self.s3_form.addRow(self.keys_error)
        self.s3_fields = QWidget()
        self.s3_fields.setLayout(self.s3_form)
        self.s3_form.setContentsMargins(24, 0, 0, 0)  # indented under the radio button

        self.test_button = QPushButton("&Test connection")
        self.test_button.setObjectName("testConnection")
        self.test_button.setAccessibleName("Test connection")
        self.test_button.setAccessibleDescription("Checks that the bucket exists and can be used.")
        self.test_result = QLabel()
        self.test_result.setObjectName("testResult")
        self.test_result.setAccessibleName("Connection test result")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.test_result, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.local_radio)
        layout.addWidget(self.s3_radio)
        layout.addWidget(self.s3_fields)
        layout.addLayout(test_row)

        self.local_radio.toggled.connect(self.changed)
        for edit in (self.bucket_edit, self.endpoint_edit, self.access_key_edit, self.secret_edit):
            edit.textChanged.connect(self.changed)
        self.credentials_combo.currentIndexChanged.connect(self.changed)


class KeysSection(QGroupBox):
    """How keys are named: prefix and template, with a live preview.

    Signals:
        changed(): a field changed (the dialog updates the preview).
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Keys", parent)
        self.prefix_edit = line_edit("prefix", "Prefix", "Optional folder, e.g. coins/2024")
        self.template_edit = line_edit("keyTemplate", "Key template", "")
        self.template_edit.setToolTip(
            "Placeholders: {prefix} {stem} {ext} {sha256} {sha8}; {item} and {view} (the "
            "photo's item), {folder} (its folder within what you dropped), {taken:%Y/%m} "
            "(the date taken, 'undated' when unknown). Thumbnails go under thumbnails/ "
            "with the photo's name. A key never changes once the photo is uploaded."
        )
        self.template_error = error_label("keyTemplateError", "Key template problem")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.photo_preview = key_preview("photoKeyPreview", "Photo key preview", mono)
        self.thumbnail_preview = key_preview("thumbnailKeyPreview", "Thumbnail key preview", mono)
        hint = QLabel(
            "Placeholders: {prefix} {stem} {ext} {sha256} {sha8} {item} {view} {folder} "
            "{taken:%Y/%m}. The preview is for IMG_0042.jpg of item coin-1907 (obverse), "
            "in coins/1907, taken 2024-05-01."
        )
        hint.setWordWrap(True)
        hint.setAccessibleName("Key template placeholders")
        self.gps_check = check_box(
            "keepGps",
            "Keep GPS positions in the metadata files",
            "Put each photo's GPS position in its metadata &file",
            "Each photo gets a metadata file beside it in the bucket (KEY.json): when it was "
            "taken, with what camera, its item. Where it was taken is left out unless this "
            "is on: anyone who can read the bucket could read it.",
        )

        self.folder_item_check = check_box(
            "itemFromFolder",
            "Name each photo's item after the folder dropped",
            "&Name each photo's item after the folder it was dropped in",
            "Photos in a dropped folder belong to the item named after that folder (a "
            "folder per coin, say); each row's item can be changed with Edit item. Off: "
            "photos have no item until you give them one.",
        )

        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        add_row(form, "&Prefix:", self.prefix_edit)
        add_row(form, "Key te&mplate:", self.template_edit)
        form.addRow(hint)
        form.addRow(self.template_error)
        form.addRow("Photo key:", self.photo_preview)
        form.addRow("Thumbnail key:", self.thumbnail_preview)
        form.addRow(self.folder_item_check)
        form.addRow(self.gps_check)

        self.prefix_edit.textChanged.connect(self.changed)
        self.template_edit.textChanged.connect(self.changed)


class PerformanceSection(QGroupBox):
    """How hard the app works: uploads at once, a speed limit, thumbnail size and quality.

    Signals:
        changed(): the speed limit was edited (the dialog checks it).
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Performance", parent)
        self.limit_edit = line_edit("uploadLimit", "Upload speed limit", "No limit")
        self.limit_edit.setToolTip(
            "The most the app sends a second, all uploads together, e.g. 20M for 20 MiB/s "
            "or 512K. Leave it empty (or write off) for no limit. Applies at once."
        )
        self.limit_error = error_label("uploadLimitError", "Upload speed limit problem")
        self.concurrency_spin = spin(
            "concurrency", "Uploads at once", MIN_CONCURRENCY, MAX_CONCURRENCY, ""
        )
        self.concurrency_spin.setToolTip(
            "How many files are read, hashed and sent at the same time."
        )
        self.thumbnail_size_spin = spin(
            "thumbnailSize", "Thumbnail size", MIN_THUMBNAIL_SIZE, MAX_THUMBNAIL_SIZE, " px"
        )
        self.thumbnail_size_spin.setToolTip("The longest side of each thumbnail, in pixels.")
        self.thumbnail_size_spin.setSingleStep(50)
        self.quality_spin = spin(
            "thumbnailQuality",
            "Thumbnail quality",
            MIN_THUMBNAIL_QUALITY,
            MAX_THUMBNAIL_QUALITY,
            "",
        )
        self.quality_spin.setToolTip(
            "JPEG quality of the thumbnails: higher is sharper and larger."
        )
        self.preview_check = check_box(
            "makePreviews",
            "Make a display preview of each photo",
            "Make a pre&view",
            "Beside each thumbnail, a larger copy for showing the photo on screen (under "
            "previews/), from the same decode: upright, sRGB, no metadata. Off by default.",
        )
        self.preview_size_spin = spin(
            "previewSize", "Preview size", MIN_PREVIEW_SIZE, MAX_PREVIEW_SIZE, " px"
        )
        self.preview_size_spin.setSingleStep(100)
        self.preview_size_spin.setValue(DEFAULT_PREVIEW_SIZE)
        self.preview_size_spin.setToolTip("The longest side of each preview, in pixels.")
        self.preview_format_combo = QComboBox()
        self.preview_format_combo.setObjectName("previewFormat")
        self.preview_format_combo.setAccessibleName("Preview format")
        self.preview_format_combo.addItem("JPEG", "jpeg")
        self.preview_format_combo.addItem("WebP (smaller)", "webp")
        preview_row = QHBoxLayout()  # (under the checkbox: one row was too wide at 1024 px)
        preview_row.addWidget(self.preview_size_spin)
        preview_row.addWidget(self.preview_format_combo)
        preview_row.addStretch(1)
        self.preview_check.toggled.connect(self._enable_preview_fields)
        self._enable_preview_fields(False)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        add_row(form, "&Uploads at once:", self.concurrency_spin)
        add_row(form, "Speed lim&it:", self.limit_edit)
        form.addRow(self.limit_error)
        add_row(form, "Thumbnail si&ze:", self.thumbnail_size_spin)
        add_row(form, "Thumbnail &quality:", self.quality_spin)
        form.addRow("Preview:", self.preview_check)
        form.addRow("", preview_row)
        self.limit_edit.textChanged.connect(self.changed)

    def _enable_preview_fields(self, on: bool) -> None:
        self.preview_size_spin.setEnabled(on)
        self.preview_format_combo.setEnabled(on)


class CompatibilitySection(QGroupBox):
    """For stores that differ from AWS: the checksum mode, verify-after-upload."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Compatibility", parent)
        self.checksum_combo = QComboBox()
        self.checksum_combo.setObjectName("checksumMode")
        self.checksum_combo.setAccessibleName("Checksums")
        for mode, text in CHECKSUM_CHOICES:
            self.checksum_combo.addItem(text, mode)
        self.checksum_combo.setToolTip(
            "Some S3-compatible stores reject the checksums that newer AWS libraries send by "
            "default; choose “Only when required” if uploads fail with “not supported” errors."
        )
        self.verify_check = check_box(
            "verifyAfterUpload",
            "Verify each upload by reading it back",
            "Read each photo back after upload and compare (slo&wer)",
            "Downloads every uploaded original and compares its SHA-256 with the file, for "
            "stores that do not check checksums themselves. Doubles the traffic.",
        )
        form = QFormLayout(self)
        add_row(form, "C&hecksums:", self.checksum_combo)
        form.addRow(self.verify_check)


class WatchSection(QGroupBox):
    """Folders whose new photos are uploaded as they appear (a tethered camera's, a
    scanner's), while the app runs; photos added while it was closed go at the next start.

    Signals:
        changed(): a folder was added or removed.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Watched folders", parent)
        self.folder_list = QListWidget()
        self.folder_list.setObjectName("watchedFolders")
        self.folder_list.setAccessibleName("Watched folders")
        self.folder_list.setAccessibleDescription(
            "New photos in these folders are uploaded once they are complete."
        )
        self.folder_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.folder_list.setMaximumHeight(self.folder_list.fontMetrics().height() * 4)
        self.add_button = QPushButton("&Add folder…")
        self.add_button.setObjectName("addWatchedFolder")
        self.add_button.setAccessibleName("Add a watched folder")
        self.remove_button = QPushButton("Rem&ove")
        self.remove_button.setObjectName("removeWatchedFolder")
        self.remove_button.setAccessibleName("Stop watching the selected folders")
        hint = QLabel(
            "While the app runs, photos in these folders are uploaded once complete: those "
            "already there too. Each folder in them names its photos' item."
        )
        hint.setToolTip(
            "New and changed photos in these folders (and folders below them) are uploaded "
            "once their writer is done with them; temporary names such as *.part wait until "
            "renamed. Photos already in a folder when you add it, and those added while the "
            "app was closed, go when it starts. The first folder below a watched one names "
            "the item of the photos in it."
        )
        hint.setWordWrap(True)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.folder_list, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(hint)
        self.add_button.clicked.connect(self._choose)
        self.remove_button.clicked.connect(self.remove_selected)
        self.folder_list.itemSelectionChanged.connect(self._enable)
        self._enable()

    def folders(self) -> tuple[str, ...]:
        items = (self.folder_list.item(i) for i in range(self.folder_list.count()))
        return tuple(item.text() for item in items if item is not None)

    def set_folders(self, folders: tuple[str, ...]) -> None:
        self.folder_list.clear()
        self.folder_list.addItems(list(folders))
        self._enable()

    def add_folder(self, folder: str) -> None:
        """Add a folder unless it is watched already (then it is selected)."""
        found = self.folder_list.findItems(folder, Qt.MatchFlag.MatchExactly)
        if found:
            self.folder_list.setCurrentItem(found[0])
            return
        self.folder_list.addItem(folder)
        self.folder_list.setCurrentRow(self.folder_list.count() - 1)
        self.changed.emit()

    def remove_selected(self) -> None:
        for item in self.folder_list.selectedItems():
            self.folder_list.takeItem(self.folder_list.row(item))
        self._enable()
        self.changed.emit()

    def _choose(self) -> None:
        dialog = QFileDialog(self, "Watch a folder")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(self.add_folder)
        dialog.open()

    def _enable(self) -> None:
        self.remove_button.setEnabled(bool(self.folder_list.selectedItems()))
