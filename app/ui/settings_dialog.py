"""The Settings dialog: where photos go, how keys are named, and how hard the app works.

Open it with `open()` (never `exec()` inside a coroutine) and listen to `settings_saved`
or `accepted`. On OK the dialog stores the secret key in the SecretStore and the rest in
the SettingsStore itself, so the caller only has to apply the new settings.

"Test connection" runs `check_bucket()`, and every keyring call runs, through the
window's Background (app.ui.background): off the GUI thread, the outcome handed back on
it, so a slow server or keyring never freezes the window and no Qt object is touched off
the GUI thread.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6.QtCore import QEvent, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.core.bandwidth import RateError, parse_rate
from app.core.config import Destination, endpoint_problem
from app.core.errors import StoreError
from app.core.keys import KeyTemplate, KeyTemplateError, sample_keys
from app.core.store import S3Store
from app.ui.background import Background, Outcome
from app.ui.settings import (
    AUTH_DEFAULT,
    AUTH_KEYS,
    AUTH_PROFILE,
    AppSettings,
    SettingsStore,
    aws_profiles,
)
from app.ui.settings_sections import (
    CompatibilitySection,
    DestinationSection,
    KeysSection,
    PerformanceSection,
    WatchSection,
)

log = logging.getLogger(__name__)


class BucketCheck(Protocol):
    """The part of a store that "Test connection" uses (S3Store has it)."""

    def check_bucket(self) -> None: ...
    def close(self) -> None: ...


StoreFactory = Callable[[Destination], BucketCheck]

LOCAL_BUCKET_NOTE = (
    "The local test bucket is managed by the app: it starts on this computer when you "
    "upload, so there is no connection to test."
)
TESTING_NOTE = "Testing the connection…"
LIMIT_HINT = "Not a speed: write e.g. 20M (MiB/s), 512K or off."

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
        background: Background | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._store_factory = store_factory
        self._profiles = list(aws_profiles() if profiles is None else profiles)
        self._initial = store.load()
        # The keyring, connection tests: off the GUI thread (D-Bus may take seconds), on
        # a pool the dialog owns while it is open (closing it drops what still runs).
        self._given_background = background
        self._own_background: Background | None = None
        self._testing = False
        self._test_round = 0  # a result from an earlier round (before closing) is stale
        self._has_keyring = True  # until the keyring says otherwise: no note meanwhile
        self._saving = False
        self._waiting_for = {"keyring"}  # what the form still waits to hear from the keyring
        self._background().submit(store.secrets.available, then=self._learned_keyring)
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
        self.destination = DestinationSection()
        self.keys = KeysSection()
        self.performance = PerformanceSection()
        self.compatibility = CompatibilitySection()
        self.watch = WatchSection()
        self.destination.changed.connect(self._refresh)
        self.keys.changed.connect(self._refresh)
        self.performance.changed.connect(self._refresh)
        self.watch.changed.connect(self._refresh)
        self.destination.test_button.clicked.connect(self.test_connection)
        left = QVBoxLayout()
        left.addWidget(self.destination)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.performance)
        right.addWidget(self.compatibility)
        right.addWidget(self.watch)
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
        outer.addWidget(self.keys)  # full width: keys can be long
        outer.addWidget(self.buttons)
        self._set_tab_order()
        self._apply_error_colour()

    def _set_tab_order(self) -> None:
        chain: list[QWidget] = [
            self.destination.local_radio,
            self.destination.s3_radio,
            self.destination.bucket_edit,
            self.destination.region_edit,
            self.destination.endpoint_edit,
            self.destination.credentials_combo,
            self.destination.access_key_edit,
            self.destination.secret_edit,
            self.destination.test_button,
            self.performance.concurrency_spin,
            self.performance.limit_edit,
            self.performance.thumbnail_size_spin,
            self.performance.quality_spin,
            self.performance.preview_check,
            self.performance.preview_size_spin,
            self.performance.preview_format_combo,
            self.compatibility.checksum_combo,
            self.compatibility.verify_check,
            self.watch.folder_list,
            self.watch.add_button,
            self.watch.remove_button,
            self.keys.prefix_edit,
            self.keys.template_edit,
            self.keys.folder_item_check,
            self.keys.gps_check,
            self.buttons,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _apply_error_colour(self) -> None:
        """Red that stays readable: darker on a light window, lighter on a dark one."""
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        colour = _ERROR_ON_DARK if dark else _ERROR_ON_LIGHT
        for label in (
            self.destination.bucket_error,
            self.destination.endpoint_error,
            self.destination.keys_error,
            self.keys.template_error,
            self.performance.limit_error,
        ):
            label.setStyleSheet(f"color: {colour};")
        self._error_colour = colour
        self._show_test_result(self.destination.test_result.text(), ok=not self._test_failed)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "keys"):
            self._apply_error_colour()

    # ------------------------------------------------------------------ values

    def _load(self, settings: AppSettings) -> None:
        (
            self.destination.local_radio
            if settings.uses_local_bucket
            else self.destination.s3_radio
        ).setChecked(True)
        self.destination.bucket_edit.setText(settings.bucket)
        self.destination.region_edit.setText(settings.region)
        self.destination.endpoint_edit.setText(settings.endpoint_url)
        self._fill_credentials(settings)
        self.destination.access_key_edit.setText(settings.access_key)
        self.destination.secret_edit.setText("")
        if settings.access_key:
            key = settings.access_key
            self._waiting_for.add("secret")
            self._background().submit(
                self._store.secrets.get, key, then=lambda found: self._fill_secret(key, found)
            )
        self.keys.prefix_edit.setText(settings.prefix)
        self.keys.template_edit.setText(settings.key_template)
        self.performance.concurrency_spin.setValue(settings.concurrency)
        self.performance.limit_edit.setText(settings.upload_limit)
        self.performance.thumbnail_size_spin.setValue(settings.thumbnail_size)
        self.performance.quality_spin.setValue(settings.thumbnail_quality)
        self.performance.preview_check.setChecked(bool(settings.preview_size))
        if settings.preview_size:
            self.performance.preview_size_spin.setValue(settings.preview_size)
        combo = self.performance.preview_format_combo
        combo.setCurrentIndex(max(0, combo.findData(settings.preview_format)))
        index = self.compatibility.checksum_combo.findData(settings.checksum_mode)
        self.compatibility.checksum_combo.setCurrentIndex(max(0, index))
        self.compatibility.verify_check.setChecked(settings.verify_after_upload)
        self.keys.gps_check.setChecked(settings.keep_gps)
        self.keys.folder_item_check.setChecked(settings.item_from_folder)
        self.watch.set_folders(settings.watched_folders)

    def _fill_credentials(self, settings: AppSettings) -> None:
        choices: list[tuple[str, str, str]] = [(AUTH_DEFAULT, "", "Default AWS credentials")]
        choices += [(AUTH_PROFILE, name, f"AWS profile: {name}") for name in self._profiles]
        saved_profile = settings.profile.strip()
        if settings.auth == AUTH_PROFILE and saved_profile and saved_profile not in self._profiles:
            # Keep a profile that vanished from the AWS config visible instead of dropping it.
            choices.append(
                (AUTH_PROFILE, saved_profile, f"AWS profile: {saved_profile} (not found)")
            )
        choices.append((AUTH_KEYS, "", "Access keys…"))
        self.destination.credentials_combo.clear()
        self._credential_choices = []
        for auth, profile, text in choices:
            self._credential_choices.append((auth, profile))
            self.destination.credentials_combo.addItem(text)
        wanted = (settings.auth, saved_profile if settings.auth == AUTH_PROFILE else "")
        index = self._credential_choices.index(wanted) if wanted in self._credential_choices else 0
        self.destination.credentials_combo.setCurrentIndex(index)

    def _credential_choice(self) -> tuple[str, str]:
        index = self.destination.credentials_combo.currentIndex()
        if 0 <= index < len(self._credential_choices):
            return self._credential_choices[index]
        return AUTH_DEFAULT, ""

    def settings(self) -> AppSettings:
        """The settings as the form shows them now (saved or not)."""
        auth, profile = self._credential_choice()
        return AppSettings(
            bucket=""
            if self.destination.local_radio.isChecked()
            else self.destination.bucket_edit.text().strip(),
            prefix=self.keys.prefix_edit.text().strip(),
            region=self.destination.region_edit.text().strip(),
            endpoint_url=self.destination.endpoint_edit.text().strip(),
            auth=auth,
            profile=profile if auth == AUTH_PROFILE else self._initial.profile,
            access_key=self.destination.access_key_edit.text().strip(),
            checksum_mode=str(self.compatibility.checksum_combo.currentData()),
            key_template=self.keys.template_edit.text(),
            concurrency=self.performance.concurrency_spin.value(),
            thumbnail_size=self.performance.thumbnail_size_spin.value(),
            thumbnail_quality=self.performance.quality_spin.value(),
            preview_size=self.performance.preview_size_spin.value()
            if self.performance.preview_check.isChecked()
            else 0,
            preview_format=self.performance.preview_format_combo.currentData(),
            verify_after_upload=self.compatibility.verify_check.isChecked(),
            upload_limit=self.performance.limit_edit.text().strip(),
            keep_gps=self.keys.gps_check.isChecked(),
            item_from_folder=self.keys.folder_item_check.isChecked(),
            watched_folders=self.watch.folders(),
        )

    def secret_key(self) -> str | None:
        """The secret key typed in (or loaded from the keyring) when access keys are used."""
        if self._credential_choice()[0] != AUTH_KEYS:
            return None
        return self.destination.secret_edit.text() or None

    # ------------------------------------------------------------------ validation

    @Slot()
    def _refresh(self) -> None:
        """Enable what applies, update the key preview and say what is wrong, if anything."""
        remote = self.destination.s3_radio.isChecked()
        use_keys = self._credential_choice()[0] == AUTH_KEYS
        self.destination.s3_fields.setEnabled(remote)
        for field in (self.destination.access_key_edit, self.destination.secret_edit):
            self.destination.s3_form.setRowVisible(field, use_keys)
        self.destination.s3_form.setRowVisible(
            self.destination.keyring_note, use_keys and not self._has_keyring
        )

        bucket_problem = None
        if remote and not self.destination.bucket_edit.text().strip():
            bucket_problem = "Enter the bucket name, or choose the local test bucket."
        url_problem = endpoint_problem(self.destination.endpoint_edit.text()) if remote else None
        keys_problem = None
        if (
            remote
            and use_keys
            and not (
                self.destination.access_key_edit.text().strip()
                and self.destination.secret_edit.text()
            )
        ):
            keys_problem = "Enter both the access key ID and the secret key."
        template_problem = self._update_preview()
        try:
            parse_rate(self.performance.limit_edit.text())
            limit_problem = None
        except RateError:  # the field is right above: say how to write one, briefly
            limit_problem = LIMIT_HINT
        self._show_problem(self.performance.limit_error, limit_problem)

        self._show_problem(self.destination.bucket_error, bucket_problem)
        self._show_problem(self.destination.endpoint_error, url_problem)
        self._show_problem(self.destination.keys_error, keys_problem)
        self._show_problem(self.keys.template_error, template_problem)
        self.keys.template_edit.setAccessibleDescription(
            template_problem
            or f"Photo key: {self.keys.photo_preview.text()}; "
            f"thumbnail key: {self.keys.thumbnail_preview.text()}"
        )

        destination_ok = not (bucket_problem or url_problem or keys_problem)
        self.ok_button.setEnabled(
            destination_ok and template_problem is None and limit_problem is None
        )
        self.destination.test_button.setEnabled(destination_ok and not self._testing)

    def _update_preview(self) -> str | None:
        try:
            keys = sample_keys(
                KeyTemplate(original=self.keys.template_edit.text()), self.keys.prefix_edit.text()
            )
        except KeyTemplateError as exc:
            self.keys.photo_preview.setText("—")
            self.keys.thumbnail_preview.setText("—")
            return str(exc)
        for preview, key in zip(
            (self.keys.photo_preview, self.keys.thumbnail_preview), keys, strict=True
        ):
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

    def _background(self) -> Background:
        if self._given_background is not None:
            return self._given_background
        if self._own_background is None:
            self._own_background = Background(workers=2, name="settings")
        return self._own_background

    def is_loaded(self) -> bool:
        """Whether the keyring has answered (is there one; the saved secret)."""
        return not self._waiting_for

    def _learned_keyring(self, outcome: Outcome[bool]) -> None:
        self._has_keyring = outcome.error is None and bool(outcome.value)
        self._waiting_for.discard("keyring")
        self._refresh()

    def _fill_secret(self, access_key: str, outcome: Outcome[str | None]) -> None:
        """The saved secret, unless the form has moved on meanwhile."""
        self._waiting_for.discard("secret")
        edit = self.destination
        same_key = edit.access_key_edit.text().strip() == access_key
        if outcome.error is None and outcome.value and same_key and not edit.secret_edit.text():
            edit.secret_edit.setText(outcome.value)

    @Slot()
    def test_connection(self) -> None:
        """Check the bucket the form describes, on a worker thread; see `connection_tested`."""
        if self._testing:
            return
        if self.destination.local_radio.isChecked():
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
        self._testing = True
        self._show_test_result(TESTING_NOTE, ok=True)
        self._refresh()
        round_ = self._test_round
        self._background().submit(
            check_connection,
            destination,
            self._store_factory,
            then=lambda outcome: self._tested(round_, outcome),
        )

    def _tested(self, round_: int, outcome: Outcome[tuple[bool, str]]) -> None:
        """On the GUI thread: the worker's (ok, message), unless it is stale."""
        if round_ != self._test_round:
            return  # the dialog was closed meanwhile: nobody asked any more
        self._testing = False
        ok, message = outcome.get()  # check_connection never raises
        self._show_test_result(message, ok=ok)
        self._refresh()
        self.connection_tested.emit(ok, message)

    def _show_test_result(self, message: str, *, ok: bool) -> None:
        self._test_failed = not ok
        self.destination.test_result.setText(message)
        self.destination.test_result.setStyleSheet("" if ok else f"color: {self._error_colour};")

    def is_testing(self) -> bool:
        return self._testing

    # ------------------------------------------------------------------ closing

    def accept(self) -> None:
        """Store the secret (keyring or memory, off the GUI thread) and the settings, then
        close."""
        if not self.is_valid() or self._saving:
            return
        settings = self.settings()
        secret = self.secret_key()
        if settings.auth == AUTH_KEYS and settings.access_key and secret:
            self._saving = True
            self.ok_button.setEnabled(False)
            self._background().submit(
                self._store.secrets.set,
                settings.access_key,
                secret,
                then=lambda _stored: self._saved(settings),
            )
        else:
            self._saved(settings)

    def _saved(self, settings: AppSettings) -> None:
        self._saving = False
        self._store.save(settings)
        self._initial = settings
        self.settings_saved.emit(settings)
        super().accept()

    def done(self, result: int) -> None:
        """Close; a running test is abandoned (its thread ends by itself, unheard).

        After Cancel the form goes back to the saved settings, so opening the dialog again
        never shows edits that were thrown away.
        """
        self._test_round += 1  # a test still running is not heard any more
        self._testing = False
        if self._own_background is not None:  # what was asked still ends, unheard
            self._own_background.shutdown(drop_queued=False)
            self._own_background = None
        if result != QDialog.DialogCode.Accepted:
            self._load(self._initial)
        self._show_test_result("", ok=True)
        self._refresh()
        super().done(result)
