"""The Settings dialog: where photos go, how keys are named, and how hard the app works.

Open it with `open()` (never `exec()` inside a coroutine) and listen to `settings_saved`
or `accepted`. On OK the dialog stores the secret key in the SecretStore and the rest in
the SettingsStore itself, so the caller only has to apply the new settings.

"Test connection" runs `check_bucket()` on a thread the dialog owns; the worker only
returns plain data, and the GUI thread picks it up (a 30 ms timer polls the future while
a test runs), so a slow or unreachable server never freezes the window and no Qt object is
touched off the GUI thread.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol
from urllib.parse import urlsplit

from PySide6.QtCore import QEvent, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.config import MAX_CONCURRENCY, Destination
from app.core.errors import StoreError
from app.core.keys import KeyTemplate, KeyTemplateError, sample_keys
from app.core.store import S3Store
from app.ui.settings import (
    AUTH_DEFAULT,
    AUTH_KEYS,
    AUTH_PROFILE,
    MAX_THUMBNAIL_QUALITY,
    MAX_THUMBNAIL_SIZE,
    MIN_CONCURRENCY,
    MIN_THUMBNAIL_QUALITY,
    MIN_THUMBNAIL_SIZE,
    AppSettings,
    SettingsStore,
    aws_profiles,
)

log = logging.getLogger(__name__)


class BucketCheck(Protocol):
    """The part of a store that "Test connection" uses (S3Store has it)."""

    def check_bucket(self) -> None: ...
    def close(self) -> None: ...


StoreFactory = Callable[[Destination], BucketCheck]

ENDPOINT_PLACEHOLDER = "Leave empty for AWS; e.g. https://<account>.r2.cloudflarestorage.com"
NO_KEYRING_NOTE = "No system keyring was found, so the secret key is kept only until you quit."
LOCAL_BUCKET_NOTE = (
    "The local test bucket is managed by the app: it starts on this computer when you "
    "upload, so there is no connection to test."
)
TESTING_NOTE = "Testing the connection…"
POLL_INTERVAL_MS = 30

CHECKSUM_CHOICES = (
    ("when_supported", "When supported (default)"),
    ("when_required", "Only when required (for R2, older B2, …)"),
)

# Error text colours with at least 4.5:1 contrast on typical light and dark window colours.
_ERROR_ON_LIGHT = "#c62828"
_ERROR_ON_DARK = "#ff8a80"


def _open_store(destination: Destination) -> BucketCheck:
    return S3Store(destination, concurrency=1)


def check_connection(destination: Destination, store_factory: StoreFactory) -> tuple[bool, str]:
    """Try the bucket once; (ok, one sentence for the user). Never raises; runs on a worker."""
    try:
        store = store_factory(destination)
        try:
            store.check_bucket()
        finally:
            store.close()
    except StoreError as exc:
        return False, str(exc)
    except Exception as exc:
        log.warning("Connection test failed unexpectedly: %s", type(exc).__name__)
        return False, f"The connection test failed unexpectedly ({type(exc).__name__})."
    return True, f"Connected: bucket “{destination.bucket}” is ready."


def endpoint_problem(url: str) -> str | None:
    """Why an endpoint URL cannot work, or None (empty means AWS)."""
    url = url.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return "Start the endpoint URL with https:// (or http:// for a local server)."
    return None


class SettingsDialog(QDialog):
    """Edits AppSettings; saves them (and the secret key) when the user presses OK.

    Signals:
        settings_saved(AppSettings): emitted on OK after the settings were stored,
            just before `accepted`.
        connection_tested(bool, str): a connection test finished; whether it worked and
            the sentence shown to the user.
    """

    settings_saved = Signal(object)
    connection_tested = Signal(bool, str)

    def __init__(
        self,
        store: SettingsStore,
        parent: QWidget | None = None,
        *,
        profiles: Sequence[str] | None = None,
        store_factory: StoreFactory = _open_store,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._store_factory = store_factory
        self._profiles = list(aws_profiles() if profiles is None else profiles)
        self._initial = store.load()
        self._executor: ThreadPoolExecutor | None = None
        self._testing = False
        self._pending: Future[tuple[bool, str]] | None = None
        # The worker never touches Qt: the GUI thread polls its future while a test runs.
        # (Emitting a signal from a plain Python thread crashed PySide6 6.12 in our tests.)
        self._poll_timer = QTimer(self)
        self._poll_timer.setInterval(POLL_INTERVAL_MS)
        self._poll_timer.timeout.connect(self._collect_test_result)
        self._has_keyring = store.secrets.available()
        self._credential_choices: list[tuple[str, str]] = []
        self._test_failed = False
        self._error_colour = _ERROR_ON_LIGHT

        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self._build()
        self._load(self._initial)
        self._refresh()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        left = QVBoxLayout()
        left.addWidget(self._build_destination())
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self._build_performance())
        right.addWidget(self._build_compatibility())
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.addLayout(left, 3)
        columns.addLayout(right, 2)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setAccessibleName("Save settings")
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAccessibleName("Cancel without saving")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        outer = QVBoxLayout(self)
        outer.addLayout(columns)
        outer.addWidget(self._build_keys())  # full width: keys can be long
        outer.addWidget(self.buttons)
        self._set_tab_order()
        self._apply_error_colour()

    def _build_destination(self) -> QGroupBox:
        group = QGroupBox("Destination")
        self.local_radio = QRadioButton("&Local test bucket (on this computer)")
        self.local_radio.setAccessibleName("Local test bucket")
        self.local_radio.setToolTip("Try the app without an account: photos stay on this computer.")
        self.s3_radio = QRadioButton("S&3 bucket")
        self.s3_radio.setAccessibleName("S3 bucket")
        self.s3_radio.setToolTip("Amazon S3, or an S3-compatible store (MinIO, R2, B2, Wasabi…).")
        self._where = QButtonGroup(self)
        self._where.addButton(self.local_radio)
        self._where.addButton(self.s3_radio)

        self.bucket_edit = self._line_edit("bucket", "Bucket name", "e.g. my-collection-photos")
        self.bucket_error = self._error_label("bucketError", "Bucket problem")
        self.region_edit = self._line_edit(
            "region", "Region", "e.g. eu-central-1 (optional)"
        )
        self.endpoint_edit = self._line_edit("endpointUrl", "Endpoint URL", ENDPOINT_PLACEHOLDER)
        # Wide enough for the whole placeholder, which is the only hint for the format.
        metrics = self.endpoint_edit.fontMetrics()
        self.endpoint_edit.setMinimumWidth(metrics.horizontalAdvance(ENDPOINT_PLACEHOLDER) + 16)
        self.endpoint_edit.setToolTip(
            "Only for S3-compatible stores such as MinIO, Cloudflare R2, Backblaze B2 or Wasabi."
        )
        self.endpoint_error = self._error_label("endpointError", "Endpoint URL problem")

        self.credentials_combo = QComboBox()
        self.credentials_combo.setObjectName("credentials")
        self.credentials_combo.setAccessibleName("Credentials")
        self.credentials_combo.setToolTip(
            "Default: what the AWS CLI would use (environment variables, the default profile, "
            "SSO or an instance role)."
        )
        self.access_key_edit = self._line_edit("accessKey", "Access key ID", "e.g. AKIA…")
        self.secret_edit = self._line_edit("secretKey", "Secret key", "")
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.keys_error = self._error_label("keysError", "Access keys problem")
        self.keyring_note = QLabel(NO_KEYRING_NOTE)
        self.keyring_note.setObjectName("keyringNote")
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setAccessibleName("Secret key storage")

        self._s3_form = QFormLayout()
        self._s3_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._add_row(self._s3_form, "&Bucket:", self.bucket_edit)
        self._s3_form.addRow(self.bucket_error)
        self._add_row(self._s3_form, "&Region:", self.region_edit)
        self._add_row(self._s3_form, "&Endpoint URL:", self.endpoint_edit)
        self._s3_form.addRow(self.endpoint_error)
        self._add_row(self._s3_form, "Cre&dentials:", self.credentials_combo)
        self._add_row(self._s3_form, "Access &key ID:", self.access_key_edit)
        self._add_row(self._s3_form, "&Secret key:", self.secret_edit)
        self._s3_form.addRow(self.keyring_note)
        self._s3_form.addRow(self.keys_error)
        self._s3_fields = QWidget()
        self._s3_fields.setLayout(self._s3_form)
        self._s3_form.setContentsMargins(24, 0, 0, 0)  # indented under the radio button

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

        layout = QVBoxLayout(group)
        layout.addWidget(self.local_radio)
        layout.addWidget(self.s3_radio)
        layout.addWidget(self._s3_fields)
        layout.addLayout(test_row)

        self.local_radio.toggled.connect(self._refresh)
        for edit in (self.bucket_edit, self.endpoint_edit, self.access_key_edit, self.secret_edit):
            edit.textChanged.connect(self._refresh)
        self.credentials_combo.currentIndexChanged.connect(self._refresh)
        self.test_button.clicked.connect(self.test_connection)
        return group

    def _build_keys(self) -> QGroupBox:
        group = QGroupBox("Keys")
        self.prefix_edit = self._line_edit("prefix", "Prefix", "Optional folder, e.g. coins/2024")
        self.template_edit = self._line_edit("keyTemplate", "Key template", "")
        self.template_edit.setToolTip(
            "Placeholders: {prefix} {stem} {ext} {sha256} {sha8}. "
            "Thumbnails go under thumbnails/ with the same name."
        )
        self.template_error = self._error_label("keyTemplateError", "Key template problem")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.photo_preview = self._preview("photoKeyPreview", "Photo key preview", mono)
        self.thumbnail_preview = self._preview(
            "thumbnailKeyPreview", "Thumbnail key preview", mono
        )
        hint = QLabel("Placeholders: {prefix} {stem} {ext} {sha256} {sha8}")
        hint.setWordWrap(True)
        hint.setAccessibleName("Key template placeholders")

        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._add_row(form, "&Prefix:", self.prefix_edit)
        self._add_row(form, "Key te&mplate:", self.template_edit)
        form.addRow(hint)
        form.addRow(self.template_error)
        form.addRow("Photo key:", self.photo_preview)
        form.addRow("Thumbnail key:", self.thumbnail_preview)

        self.prefix_edit.textChanged.connect(self._refresh)
        self.template_edit.textChanged.connect(self._refresh)
        return group

    def _build_performance(self) -> QGroupBox:
        group = QGroupBox("Performance")
        self.concurrency_spin = self._spin(
            "concurrency", "Uploads at once", MIN_CONCURRENCY, MAX_CONCURRENCY, ""
        )
        self.concurrency_spin.setToolTip(
            "How many files are read, hashed and sent at the same time."
        )
        self.thumbnail_size_spin = self._spin(
            "thumbnailSize", "Thumbnail size", MIN_THUMBNAIL_SIZE, MAX_THUMBNAIL_SIZE, " px"
        )
        self.thumbnail_size_spin.setToolTip("The longest side of each thumbnail, in pixels.")
        self.thumbnail_size_spin.setSingleStep(50)
        self.quality_spin = self._spin(
            "thumbnailQuality",
            "Thumbnail quality",
            MIN_THUMBNAIL_QUALITY,
            MAX_THUMBNAIL_QUALITY,
            "",
        )
        self.quality_spin.setToolTip(
            "JPEG quality of the thumbnails: higher is sharper and larger."
        )
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self._add_row(form, "&Uploads at once:", self.concurrency_spin)
        self._add_row(form, "Thumbnail si&ze:", self.thumbnail_size_spin)
        self._add_row(form, "Thumbnail &quality:", self.quality_spin)
        return group

    def _build_compatibility(self) -> QGroupBox:
        group = QGroupBox("Compatibility")
        self.checksum_combo = QComboBox()
        self.checksum_combo.setObjectName("checksumMode")
        self.checksum_combo.setAccessibleName("Checksums")
        for mode, text in CHECKSUM_CHOICES:
            self.checksum_combo.addItem(text, mode)
        self.checksum_combo.setToolTip(
            "Some S3-compatible stores reject the checksums that newer AWS libraries send by "
            "default; choose “Only when required” if uploads fail with “not supported” errors."
        )
        self.verify_check = QCheckBox("Read each photo back after upload and compare (slo&wer)")
        self.verify_check.setObjectName("verifyAfterUpload")
        self.verify_check.setAccessibleName("Verify each upload by reading it back")
        self.verify_check.setToolTip(
            "Downloads every uploaded original and compares its SHA-256 with the file, for "
            "stores that do not check checksums themselves. Doubles the traffic."
        )
        form = QFormLayout(group)
        self._add_row(form, "C&hecksums:", self.checksum_combo)
        form.addRow(self.verify_check)
        return group

    def _line_edit(self, name: str, accessible: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setAccessibleName(accessible)
        edit.setPlaceholderText(placeholder)
        edit.setClearButtonEnabled(False)
        return edit

    def _spin(self, name: str, accessible: str, low: int, high: int, suffix: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setAccessibleName(accessible)
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        return spin

    def _preview(self, name: str, accessible: str, font: QFont) -> QLineEdit:
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

    def _error_label(self, name: str, accessible: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setAccessibleName(accessible)
        label.setWordWrap(True)
        label.hide()
        return label

    @staticmethod
    def _add_row(form: QFormLayout, text: str, field: QWidget) -> None:
        label = QLabel(text)
        label.setBuddy(field)
        form.addRow(label, field)

    def _set_tab_order(self) -> None:
        chain: list[QWidget] = [
            self.local_radio,
            self.s3_radio,
            self.bucket_edit,
            self.region_edit,
            self.endpoint_edit,
            self.credentials_combo,
            self.access_key_edit,
            self.secret_edit,
            self.test_button,
            self.concurrency_spin,
            self.thumbnail_size_spin,
            self.quality_spin,
            self.checksum_combo,
            self.verify_check,
            self.prefix_edit,
            self.template_edit,
            self.buttons,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _apply_error_colour(self) -> None:
        """Red that stays readable: darker on a light window, lighter on a dark one."""
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        colour = _ERROR_ON_DARK if dark else _ERROR_ON_LIGHT
        for label in (self.bucket_error, self.endpoint_error, self.keys_error, self.template_error):
            label.setStyleSheet(f"color: {colour};")
        self._error_colour = colour
        self._show_test_result(self.test_result.text(), ok=not self._test_failed)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "template_error"):
            self._apply_error_colour()

    # ------------------------------------------------------------------ values

    def _load(self, settings: AppSettings) -> None:
        (self.local_radio if settings.uses_local_bucket else self.s3_radio).setChecked(True)
        self.bucket_edit.setText(settings.bucket)
        self.region_edit.setText(settings.region)
        self.endpoint_edit.setText(settings.endpoint_url)
        self._fill_credentials(settings)
        self.access_key_edit.setText(settings.access_key)
        secret = self._store.secrets.get(settings.access_key) if settings.access_key else None
        self.secret_edit.setText(secret or "")
        self.prefix_edit.setText(settings.prefix)
        self.template_edit.setText(settings.key_template)
        self.concurrency_spin.setValue(settings.concurrency)
        self.thumbnail_size_spin.setValue(settings.thumbnail_size)
        self.quality_spin.setValue(settings.thumbnail_quality)
        index = self.checksum_combo.findData(settings.checksum_mode)
        self.checksum_combo.setCurrentIndex(max(0, index))
        self.verify_check.setChecked(settings.verify_after_upload)

    def _fill_credentials(self, settings: AppSettings) -> None:
        choices: list[tuple[str, str, str]] = [(AUTH_DEFAULT, "", "Default AWS credentials")]
        choices += [(AUTH_PROFILE, name, f"AWS profile: {name}") for name in self._profiles]
        saved_profile = settings.profile.strip()
        if (
            settings.auth == AUTH_PROFILE
            and saved_profile
            and saved_profile not in self._profiles
        ):
            # Keep a profile that vanished from the AWS config visible instead of dropping it.
            choices.append(
                (AUTH_PROFILE, saved_profile, f"AWS profile: {saved_profile} (not found)")
            )
        choices.append((AUTH_KEYS, "", "Access keys…"))
        self.credentials_combo.clear()
        self._credential_choices = []
        for auth, profile, text in choices:
            self._credential_choices.append((auth, profile))
            self.credentials_combo.addItem(text)
        wanted = (settings.auth, saved_profile if settings.auth == AUTH_PROFILE else "")
        index = (
            self._credential_choices.index(wanted) if wanted in self._credential_choices else 0
        )
        self.credentials_combo.setCurrentIndex(index)

    def _credential_choice(self) -> tuple[str, str]:
        index = self.credentials_combo.currentIndex()
        if 0 <= index < len(self._credential_choices):
            return self._credential_choices[index]
        return AUTH_DEFAULT, ""

    def settings(self) -> AppSettings:
        """The settings as the form shows them now (saved or not)."""
        auth, profile = self._credential_choice()
        return AppSettings(
            bucket="" if self.local_radio.isChecked() else self.bucket_edit.text().strip(),
            prefix=self.prefix_edit.text().strip(),
            region=self.region_edit.text().strip(),
            endpoint_url=self.endpoint_edit.text().strip(),
            auth=auth,
            profile=profile if auth == AUTH_PROFILE else self._initial.profile,
            access_key=self.access_key_edit.text().strip(),
            checksum_mode=str(self.checksum_combo.currentData()),
            key_template=self.template_edit.text(),
            concurrency=self.concurrency_spin.value(),
            thumbnail_size=self.thumbnail_size_spin.value(),
            thumbnail_quality=self.quality_spin.value(),
            verify_after_upload=self.verify_check.isChecked(),
        )

    def secret_key(self) -> str | None:
        """The secret key typed in (or loaded from the keyring) when access keys are used."""
        if self._credential_choice()[0] != AUTH_KEYS:
            return None
        return self.secret_edit.text() or None

    # ------------------------------------------------------------------ validation

    @Slot()
    def _refresh(self) -> None:
        """Enable what applies, update the key preview and say what is wrong, if anything."""
        remote = self.s3_radio.isChecked()
        use_keys = self._credential_choice()[0] == AUTH_KEYS
        self._s3_fields.setEnabled(remote)
        for field in (self.access_key_edit, self.secret_edit):
            self._s3_form.setRowVisible(field, use_keys)
        self._s3_form.setRowVisible(self.keyring_note, use_keys and not self._has_keyring)

        bucket_problem = None
        if remote and not self.bucket_edit.text().strip():
            bucket_problem = "Enter the bucket name, or choose the local test bucket."
        url_problem = endpoint_problem(self.endpoint_edit.text()) if remote else None
        keys_problem = None
        if remote and use_keys and not (
            self.access_key_edit.text().strip() and self.secret_edit.text()
        ):
            keys_problem = "Enter both the access key ID and the secret key."
        template_problem = self._update_preview()

        self._show_problem(self.bucket_error, bucket_problem)
        self._show_problem(self.endpoint_error, url_problem)
        self._show_problem(self.keys_error, keys_problem)
        self._show_problem(self.template_error, template_problem)
        self.template_edit.setAccessibleDescription(
            template_problem
            or f"Photo key: {self.photo_preview.text()}; "
            f"thumbnail key: {self.thumbnail_preview.text()}"
        )

        destination_ok = not (bucket_problem or url_problem or keys_problem)
        self.ok_button.setEnabled(destination_ok and template_problem is None)
        self.test_button.setEnabled(destination_ok and not self._testing)

    def _update_preview(self) -> str | None:
        try:
            keys = sample_keys(
                KeyTemplate(original=self.template_edit.text()), self.prefix_edit.text()
            )
        except KeyTemplateError as exc:
            self.photo_preview.setText("—")
            self.thumbnail_preview.setText("—")
            return str(exc)
        for preview, key in zip((self.photo_preview, self.thumbnail_preview), keys, strict=True):
            preview.setText(key)
            preview.setCursorPosition(0)
            preview.setToolTip(key)
        return None

    @staticmethod
    def _show_problem(label: QLabel, problem: str | None) -> None:
        label.setText(problem or "")
        label.setVisible(problem is not None)

    def is_valid(self) -> bool:
        """Whether OK may be pressed (every field makes sense)."""
        return self.ok_button.isEnabled()

    # ------------------------------------------------------------------ connection test

    @Slot()
    def test_connection(self) -> None:
        """Check the bucket the form describes, on a worker thread; see `connection_tested`."""
        if self._testing:
            return
        if self.local_radio.isChecked():
            self._show_test_result(LOCAL_BUCKET_NOTE, ok=True)
            self.connection_tested.emit(True, LOCAL_BUCKET_NOTE)
            return
        try:
            destination = self.settings().destination(self.secret_key())
        except ValueError as exc:
            self._show_test_result(str(exc), ok=False)
            self.connection_tested.emit(False, str(exc))
            return
        if destination is None:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="settings-test")
        self._testing = True
        self._show_test_result(TESTING_NOTE, ok=True)
        self._refresh()
        self._pending = self._executor.submit(check_connection, destination, self._store_factory)
        self._poll_timer.start()

    @Slot()
    def _collect_test_result(self) -> None:
        """Runs on the GUI thread: pick up the worker's (ok, message) once it is ready."""
        future = self._pending
        if future is None or not future.done():
            return
        self._poll_timer.stop()
        self._pending = None
        self._testing = False
        ok, message = future.result()  # check_connection never raises
        self._show_test_result(message, ok=ok)
        self._refresh()
        self.connection_tested.emit(ok, message)

    def _show_test_result(self, message: str, *, ok: bool) -> None:
        self._test_failed = not ok
        self.test_result.setText(message)
        self.test_result.setStyleSheet("" if ok else f"color: {self._error_colour};")

    def is_testing(self) -> bool:
        return self._testing

    # ------------------------------------------------------------------ closing

    def accept(self) -> None:
        """Store the secret (keyring or memory) and the settings, then close."""
        if not self.is_valid():
            return
        settings = self.settings()
        secret = self.secret_key()
        if settings.auth == AUTH_KEYS and settings.access_key and secret:
            self._store.secrets.set(settings.access_key, secret)
        self._store.save(settings)
        self._initial = settings
        self.settings_saved.emit(settings)
        super().accept()

    def done(self, result: int) -> None:
        """Close; a running test is abandoned (its thread ends by itself, unheard).

        After Cancel the form goes back to the saved settings, so opening the dialog again
        never shows edits that were thrown away.
        """
        self._poll_timer.stop()
        self._pending = None
        self._testing = False
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        if result != QDialog.DialogCode.Accepted:
            self._load(self._initial)
        self._show_test_result("", ok=True)
        self._refresh()
        super().done(result)
