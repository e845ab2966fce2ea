"""The Settings dialog: form, live key preview, validation, saving and "Test connection"."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.core.config import Destination
from app.core.errors import StoreError
from app.core.localserver import free_loopback_port
from app.core.thumbnails import PreviewSpec
from app.ui.settings import (
    AUTH_KEYS,
    AUTH_PROFILE,
    AppSettings,
    MemorySecretStore,
    SettingsStore,
)
from app.ui.settings_dialog import (
    LOCAL_BUCKET_NOTE,
    TESTING_NOTE,
    SettingsDialog,
    StoreFactory,
)
from app.ui.settings_sections import NO_KEYRING_NOTE

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TEST_TIMEOUT_MS = 30_000


@dataclass
class MotoS3:
    url: str
    access_key: str = "testing"
    secret_key: str = "testing"

    def make_bucket(self, name: str) -> str:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
        client.create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    port = free_loopback_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield MotoS3(url=f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture
def secrets() -> MemorySecretStore:
    return MemorySecretStore()


@pytest.fixture
def store(ini: Path, secrets: MemorySecretStore) -> SettingsStore:
    return SettingsStore(QSettings(str(ini), QSettings.Format.IniFormat), secrets)


def open_dialog(
    qtbot: QtBot,
    store: SettingsStore,
    *,
    profiles: list[str] | None = None,
    store_factory: StoreFactory | None = None,
) -> SettingsDialog:
    if store_factory is None:
        dialog = SettingsDialog(store, profiles=profiles or [])
    else:
        dialog = SettingsDialog(store, profiles=profiles or [], store_factory=store_factory)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(dialog.is_loaded)  # the keyring answered off the GUI thread
    return dialog


def click_radio(qtbot: QtBot, radio: QRadioButton) -> None:
    """Click the indicator: a radio button's row is wider than the part that reacts."""
    point = QPoint(radio.height() // 2, radio.height() // 2)
    qtbot.mouseClick(radio, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    assert radio.isChecked()


def choose_credentials(dialog: SettingsDialog, text: str) -> None:
    index = dialog.destination.credentials_combo.findText(text)
    assert index >= 0, f"{text!r} is not offered"
    dialog.destination.credentials_combo.setCurrentIndex(index)


def fill_remote(dialog: SettingsDialog, qtbot: QtBot, *, bucket: str, endpoint: str) -> None:
    click_radio(qtbot, dialog.destination.s3_radio)
    dialog.destination.bucket_edit.setText(bucket)
    dialog.destination.endpoint_edit.setText(endpoint)
    dialog.destination.region_edit.setText("us-east-1")
    choose_credentials(dialog, "Access keys…")
    dialog.destination.access_key_edit.setText("testing")
    dialog.destination.secret_edit.setText("testing")


# --------------------------------------------------------------------------- the form


def test_opens_with_the_stored_settings(
    qtbot: QtBot, store: SettingsStore, secrets: MemorySecretStore
) -> None:
    store.save(
        AppSettings(
            bucket="my-coins",
            prefix="coins",
            auth=AUTH_KEYS,
            access_key="AKIAEXAMPLE",
            checksum_mode="when_required",
            concurrency=3,
        )
    )
    secrets.set("AKIAEXAMPLE", SECRET)
    dialog = open_dialog(qtbot, store)

    assert dialog.destination.s3_radio.isChecked()
    assert dialog.destination.bucket_edit.text() == "my-coins"
    assert dialog.destination.credentials_combo.currentText() == "Access keys…"
    assert dialog.destination.secret_edit.text() == SECRET
    assert dialog.destination.secret_edit.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.compatibility.checksum_combo.currentData() == "when_required"
    assert dialog.performance.concurrency_spin.value() == 3
    assert dialog.settings() == store.load()
    assert dialog.secret_key() == SECRET


def test_local_bucket_by_default(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = open_dialog(qtbot, store)
    assert dialog.destination.local_radio.isChecked()
    assert not dialog.destination.bucket_edit.isEnabled()
    assert dialog.is_valid()
    assert dialog.settings().uses_local_bucket
    assert dialog.secret_key() is None


def test_fill_the_form_and_save(
    qtbot: QtBot, store: SettingsStore, secrets: MemorySecretStore, ini: Path
) -> None:
    dialog = open_dialog(qtbot, store)
    fill_remote(dialog, qtbot, bucket="my-coins", endpoint="https://s3.example.com")
    dialog.destination.secret_edit.setText(SECRET)
    dialog.keys.prefix_edit.setText("coins/2024")
    dialog.keys.template_edit.setText("{prefix}{sha8}/{stem}{ext}")
    dialog.performance.concurrency_spin.setValue(16)
    dialog.performance.thumbnail_size_spin.setValue(600)
    dialog.performance.quality_spin.setValue(75)
    assert not dialog.performance.preview_size_spin.isEnabled()  # off by default
    dialog.performance.preview_check.setChecked(True)
    dialog.performance.preview_size_spin.setValue(2000)
    combo = dialog.performance.preview_format_combo
    combo.setCurrentIndex(combo.findData("webp"))
    dialog.compatibility.checksum_combo.setCurrentIndex(
        dialog.compatibility.checksum_combo.findData("when_required")
    )
    dialog.compatibility.verify_check.setChecked(True)
    dialog.keys.gps_check.setChecked(True)
    dialog.keys.folder_item_check.setChecked(False)

    with qtbot.waitSignal(dialog.settings_saved) as saved, qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)

    expected = AppSettings(
        bucket="my-coins",
        prefix="coins/2024",
        region="us-east-1",
        endpoint_url="https://s3.example.com",
        auth=AUTH_KEYS,
        access_key="testing",
        checksum_mode="when_required",
        key_template="{prefix}{sha8}/{stem}{ext}",
        concurrency=16,
        thumbnail_size=600,
        thumbnail_quality=75,
        preview_size=2000,
        preview_format="webp",
        verify_after_upload=True,
        keep_gps=True,
        item_from_folder=False,
    )
    assert saved.args == [expected]
    assert expected.engine_settings().keep_gps
    assert not expected.engine_settings().item_from_folder
    assert expected.engine_settings().preview == PreviewSpec(max_side=2000, format="webp")
    assert store.load() == expected
    assert secrets.get("testing") == SECRET
    assert SECRET not in ini.read_text(encoding="utf-8")


def test_cancel_saves_nothing_and_forgets_the_edits(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = open_dialog(qtbot, store)
    dialog.keys.prefix_edit.setText("changed")
    click_radio(qtbot, dialog.destination.s3_radio)
    with qtbot.waitSignal(dialog.rejected):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert store.load() == AppSettings()

    dialog.open()  # the window keeps one dialog and opens it again
    assert dialog.settings() == AppSettings()
    assert dialog.destination.local_radio.isChecked() and dialog.keys.prefix_edit.text() == ""


def test_reopening_after_ok_shows_the_saved_settings(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = open_dialog(qtbot, store)
    dialog.keys.prefix_edit.setText("kept")
    dialog.accept()
    dialog.open()
    assert dialog.keys.prefix_edit.text() == "kept"


def test_live_preview_follows_prefix_and_template(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = open_dialog(qtbot, store)
    assert dialog.keys.photo_preview.text() == "IMG_0042-3b7d4f1e.jpg"
    assert dialog.keys.thumbnail_preview.text() == "thumbnails/IMG_0042-3b7d4f1e.jpg"

    qtbot.keyClicks(dialog.keys.prefix_edit, "coins\\2024")
    assert dialog.keys.photo_preview.text() == "coins/2024/IMG_0042-3b7d4f1e.jpg"
    assert dialog.keys.thumbnail_preview.text() == "coins/2024/thumbnails/IMG_0042-3b7d4f1e.jpg"

    dialog.keys.template_edit.setText("{prefix}{sha8}/{stem}{ext}")
    assert dialog.keys.photo_preview.text() == "coins/2024/3b7d4f1e/IMG_0042.jpg"
    assert "coins/2024/3b7d4f1e/IMG_0042.jpg" in dialog.keys.template_edit.accessibleDescription()


def test_the_preview_shows_item_view_folder_and_date_taken(
    qtbot: QtBot, store: SettingsStore
) -> None:
    dialog = open_dialog(qtbot, store)
    dialog.keys.template_edit.setText("{item}/{taken:%Y/%m}/{view}-{stem}-{sha8}{ext}")
    assert dialog.keys.photo_preview.text() == "coin-1907/2024/05/obverse-IMG_0042-3b7d4f1e.jpg"
    dialog.keys.template_edit.setText("{folder}/{stem}-{sha8}{ext}")
    assert dialog.keys.photo_preview.text() == "coins/1907/IMG_0042-3b7d4f1e.jpg"
    assert dialog.ok_button.isEnabled()
    dialog.keys.template_edit.setText("{view:>8}{sha8}")
    assert "except for the date taken" in dialog.keys.template_error.text()
    assert not dialog.ok_button.isEnabled()


def test_invalid_template_disables_ok_with_a_message(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = open_dialog(qtbot, store)
    dialog.keys.template_edit.setText("{prefix}{nope}")

    assert not dialog.ok_button.isEnabled()
    assert not dialog.keys.template_error.isHidden()
    assert "Unknown placeholder {nope}" in dialog.keys.template_error.text()
    assert "color" in dialog.keys.template_error.styleSheet()
    assert dialog.keys.photo_preview.text() == "—"

    dialog.accept()  # e.g. Enter pressed: still refused
    assert dialog.result() == 0
    assert store.load() == AppSettings()

    dialog.keys.template_edit.setText("{prefix}{stem}-{sha256}{ext}")
    assert dialog.ok_button.isEnabled()
    assert dialog.keys.template_error.isHidden()


def test_thumbnail_collision_is_refused(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = open_dialog(qtbot, store)
    dialog.keys.template_edit.setText("{prefix}thumbnails/{stem}-{sha8}.jpg")
    assert not dialog.ok_button.isEnabled()
    assert "thumbnail" in dialog.keys.template_error.text()


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ({"bucket": ""}, "Enter the bucket name"),
        (
            {"endpoint": "s3.example.com"},
            "“s3.example.com” does not start with http:// or https://. Write the endpoint URL "
            "with its scheme, e.g. https://s3.example.com.",
        ),
        (
            {"endpoint": "localhost:9000"},
            "Write the endpoint URL with its scheme, e.g. http://localhost:9000.",
        ),
        ({"endpoint": "ftp://s3.example.com"}, "e.g. https://s3.example.com."),
        ({"secret": ""}, "Enter both the access key ID and the secret key"),
        ({"access_key": ""}, "Enter both the access key ID and the secret key"),
    ],
)
def test_incomplete_destination_disables_ok_and_test(
    qtbot: QtBot, store: SettingsStore, edit: dict[str, str], problem: str
) -> None:
    dialog = open_dialog(qtbot, store)
    fill_remote(dialog, qtbot, bucket="b", endpoint="https://s3.example.com")
    assert dialog.ok_button.isEnabled()
    widgets = {
        "bucket": dialog.destination.bucket_edit,
        "endpoint": dialog.destination.endpoint_edit,
        "secret": dialog.destination.secret_edit,
        "access_key": dialog.destination.access_key_edit,
    }
    for name, value in edit.items():
        widgets[name].setText(value)

    assert not dialog.ok_button.isEnabled()
    assert not dialog.destination.test_button.isEnabled()
    shown = [
        label.text()
        for label in (
            dialog.destination.bucket_error,
            dialog.destination.endpoint_error,
            dialog.destination.keys_error,
        )
        if not label.isHidden()
    ]
    assert len(shown) == 1 and problem in shown[0]

    click_radio(qtbot, dialog.destination.local_radio)
    assert dialog.ok_button.isEnabled()  # the local bucket needs none of that


def test_credentials_offer_profiles(qtbot: QtBot, store: SettingsStore) -> None:
    store.save(AppSettings(bucket="b", auth=AUTH_PROFILE, profile="work"))
    dialog = open_dialog(qtbot, store, profiles=["default", "work"])

    texts = [
        dialog.destination.credentials_combo.itemText(i)
        for i in range(dialog.destination.credentials_combo.count())
    ]
    assert texts == [
        "Default AWS credentials",
        "AWS profile: default",
        "AWS profile: work",
        "Access keys…",
    ]
    assert dialog.destination.credentials_combo.currentText() == "AWS profile: work"
    assert (
        dialog.destination.access_key_edit.isHidden() and dialog.destination.secret_edit.isHidden()
    )
    assert dialog.secret_key() is None

    choose_credentials(dialog, "Access keys…")
    assert (
        not dialog.destination.access_key_edit.isHidden()
        and not dialog.destination.secret_edit.isHidden()
    )

    choose_credentials(dialog, "AWS profile: default")
    settings = dialog.settings()
    assert (settings.auth, settings.profile) == (AUTH_PROFILE, "default")


def test_a_vanished_profile_stays_selected(qtbot: QtBot, store: SettingsStore) -> None:
    store.save(AppSettings(bucket="b", auth=AUTH_PROFILE, profile="old"))
    dialog = open_dialog(qtbot, store, profiles=["work"])
    assert dialog.destination.credentials_combo.currentText() == "AWS profile: old (not found)"
    assert (dialog.settings().auth, dialog.settings().profile) == (AUTH_PROFILE, "old")


def test_no_keyring_note_only_with_access_keys(qtbot: QtBot, ini: Path) -> None:
    secrets = MemorySecretStore(persistent=False)
    store = SettingsStore(QSettings(str(ini), QSettings.Format.IniFormat), secrets)
    dialog = open_dialog(qtbot, store)
    click_radio(qtbot, dialog.destination.s3_radio)
    assert dialog.destination.keyring_note.isHidden()

    choose_credentials(dialog, "Access keys…")
    assert not dialog.destination.keyring_note.isHidden()
    assert dialog.destination.keyring_note.text() == NO_KEYRING_NOTE

    dialog.destination.bucket_edit.setText("b")
    dialog.destination.access_key_edit.setText("AKIAEXAMPLE")
    dialog.destination.secret_edit.setText(SECRET)
    with qtbot.waitSignal(dialog.accepted):  # the secret is stored off the GUI thread
        dialog.accept()
    assert secrets.get("AKIAEXAMPLE") == SECRET  # kept for this session
    assert SECRET not in ini.read_text(encoding="utf-8")


def test_keyring_note_hidden_when_a_keyring_exists(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = open_dialog(qtbot, store)
    click_radio(qtbot, dialog.destination.s3_radio)
    choose_credentials(dialog, "Access keys…")
    assert dialog.destination.keyring_note.isHidden()


# --------------------------------------------------------------------------- accessibility


def controls(dialog: SettingsDialog) -> list[QWidget]:
    kinds = (QLineEdit, QComboBox, QAbstractSpinBox, QAbstractButton)
    found = [w for w in dialog.findChildren(QWidget) if isinstance(w, kinds)]
    # Line edits and buttons that Qt puts inside spin boxes and combos are not ours.
    return [w for w in found if not isinstance(w.parent(), QAbstractSpinBox | QComboBox)]


def test_every_control_has_an_accessible_name(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = open_dialog(qtbot, store)
    nameless = [w.objectName() or repr(w) for w in controls(dialog) if not w.accessibleName()]
    assert nameless == []


def test_mnemonics_are_unique_and_labels_have_buddies(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = open_dialog(qtbot, store)
    letters: list[str] = []
    for widget in dialog.findChildren(QWidget):
        if isinstance(widget, QLabel | QAbstractButton):
            match = re.search(r"&([^&])", widget.text().replace("&&", ""))
            if match:
                letters.append(match.group(1).lower())
            if isinstance(widget, QLabel) and match:
                assert widget.buddy() is not None, widget.text()
    assert len(letters) >= 12
    assert len(letters) == len(set(letters)), sorted(letters)


def test_tab_walks_the_form_in_reading_order(qtbot: QtBot, store: SettingsStore) -> None:
    store.save(AppSettings(bucket="b", auth=AUTH_KEYS, access_key="AKIA"))
    store.secrets.set("AKIA", SECRET)
    dialog = open_dialog(qtbot, store)
    dialog.destination.s3_radio.setFocus()
    visited: list[QWidget] = []
    for _ in range(21):
        dialog.focusNextChild()  # what Tab does
        visited.append(dialog.focusWidget())
    assert visited[:20] == [
        dialog.destination.bucket_edit,
        dialog.destination.region_edit,
        dialog.destination.endpoint_edit,
        dialog.destination.credentials_combo,
        dialog.destination.access_key_edit,
        dialog.destination.secret_edit,
        dialog.destination.test_button,
        dialog.performance.concurrency_spin,
        dialog.performance.limit_edit,
        dialog.performance.thumbnail_size_spin,
        dialog.performance.quality_spin,
        dialog.performance.preview_check,  # (its size and format only once it is on)
        dialog.compatibility.checksum_combo,
        dialog.compatibility.verify_check,
        dialog.watch.folder_list,
        dialog.watch.add_button,  # (Remove only once a folder is selected)
        dialog.keys.prefix_edit,
        dialog.keys.template_edit,
        dialog.keys.folder_item_check,
        dialog.keys.gps_check,
    ]
    assert visited[20] in dialog.buttons.buttons()  # then the OK/Cancel buttons


# --------------------------------------------------------------------------- test connection


def test_connection_to_an_existing_bucket(
    qtbot: QtBot, store: SettingsStore, moto_s3: MotoS3
) -> None:
    bucket = moto_s3.make_bucket("collection-ok")
    dialog = open_dialog(qtbot, store)
    fill_remote(dialog, qtbot, bucket=bucket, endpoint=moto_s3.url)

    with qtbot.waitSignal(dialog.connection_tested, timeout=TEST_TIMEOUT_MS) as tested:
        qtbot.mouseClick(dialog.destination.test_button, Qt.MouseButton.LeftButton)
        assert not dialog.destination.test_button.isEnabled()
        assert dialog.destination.test_result.text() == TESTING_NOTE

    message = "Connected: bucket “collection-ok” is ready."
    assert tested.args == [True, message]
    assert dialog.destination.test_result.text() == message
    assert dialog.destination.test_button.isEnabled()
    assert store.load() == AppSettings()  # testing saves nothing


def test_connection_to_a_missing_bucket(
    qtbot: QtBot, store: SettingsStore, moto_s3: MotoS3
) -> None:
    dialog = open_dialog(qtbot, store)
    fill_remote(dialog, qtbot, bucket="no-such-bucket", endpoint=moto_s3.url)

    with qtbot.waitSignal(dialog.connection_tested, timeout=TEST_TIMEOUT_MS) as tested:
        qtbot.mouseClick(dialog.destination.test_button, Qt.MouseButton.LeftButton)

    message = "The bucket “no-such-bucket” does not exist. Check the bucket name in Settings."
    assert tested.args == [False, message]
    assert dialog.destination.test_result.text() == message
    assert "color" in dialog.destination.test_result.styleSheet()
    assert dialog.destination.test_button.isEnabled()


def test_connection_test_for_the_local_bucket(qtbot: QtBot, store: SettingsStore) -> None:
    dialog = open_dialog(qtbot, store)
    with qtbot.waitSignal(dialog.connection_tested) as tested:
        qtbot.mouseClick(dialog.destination.test_button, Qt.MouseButton.LeftButton)
    assert tested.args == [True, LOCAL_BUCKET_NOTE]
    assert dialog.destination.test_result.text() == LOCAL_BUCKET_NOTE


@dataclass
class GatedStore:
    """A store whose check_bucket waits for `gate`, then fails or succeeds."""

    bucket: str
    gate: threading.Event
    error: StoreError | None = None
    closed: bool = False


@dataclass
class GatedFactory:
    gate: threading.Event = field(default_factory=threading.Event)
    error: StoreError | None = None
    destinations: list[Destination] = field(default_factory=list)
    stores: list[GatedStore] = field(default_factory=list)

    def __call__(self, destination: Destination) -> GatedStoreAdapter:
        self.destinations.append(destination)
        store = GatedStore(destination.bucket, self.gate, self.error)
        self.stores.append(store)
        return GatedStoreAdapter(store)


class GatedStoreAdapter:
    def __init__(self, state: GatedStore) -> None:
        self.state = state
        self.bucket = state.bucket

    def check_bucket(self) -> None:
        assert self.state.gate.wait(TEST_TIMEOUT_MS / 1000)
        if self.state.error is not None:
            raise self.state.error

    def close(self) -> None:
        self.state.closed = True


def test_connection_test_runs_off_the_gui_thread(qtbot: QtBot, store: SettingsStore) -> None:
    factory = GatedFactory(error=StoreError("Cannot reach the storage server at x."))
    dialog = open_dialog(qtbot, store, store_factory=factory)
    fill_remote(dialog, qtbot, bucket="b", endpoint="https://s3.example.com")
    dialog.destination.secret_edit.setText(SECRET)

    qtbot.mouseClick(dialog.destination.test_button, Qt.MouseButton.LeftButton)
    # The GUI thread is free while the check waits: the form still responds.
    assert dialog.is_testing() and not dialog.destination.test_button.isEnabled()
    dialog.keys.prefix_edit.setText("still responsive")
    assert dialog.keys.photo_preview.text().startswith("still responsive/")

    with qtbot.waitSignal(dialog.connection_tested, timeout=TEST_TIMEOUT_MS) as tested:
        factory.gate.set()
    assert tested.args == [False, "Cannot reach the storage server at x."]
    assert factory.stores[0].closed
    assert factory.destinations[0].secret_key == SECRET
    assert SECRET not in dialog.destination.test_result.text()


def test_result_after_closing_is_ignored(qtbot: QtBot, store: SettingsStore) -> None:
    factory = GatedFactory()
    dialog = open_dialog(qtbot, store, store_factory=factory)
    fill_remote(dialog, qtbot, bucket="b", endpoint="https://s3.example.com")
    qtbot.mouseClick(dialog.destination.test_button, Qt.MouseButton.LeftButton)
    dialog.reject()
    assert not dialog.is_testing() and dialog.destination.test_button.isEnabled()

    with qtbot.assertNotEmitted(dialog.connection_tested):
        factory.gate.set()
        qtbot.waitUntil(
            lambda: bool(factory.stores) and factory.stores[0].closed, timeout=TEST_TIMEOUT_MS
        )
        QApplication.processEvents()
    assert dialog.destination.test_result.text() == ""


def test_testing_again_after_reopening(qtbot: QtBot, store: SettingsStore, moto_s3: MotoS3) -> None:
    bucket = moto_s3.make_bucket("collection-reopen")
    dialog = open_dialog(qtbot, store)
    fill_remote(dialog, qtbot, bucket=bucket, endpoint=moto_s3.url)
    dialog.reject()
    dialog.open()
    with qtbot.waitSignal(dialog.connection_tested, timeout=TEST_TIMEOUT_MS) as tested:
        qtbot.mouseClick(dialog.destination.test_button, Qt.MouseButton.LeftButton)
    assert tested.args[0] is True


class SlowKeyring(MemorySecretStore):
    """A keyring behind a D-Bus that takes its time: every call waits for `answer`, and
    notes the thread it ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = threading.Event()
        self.threads: set[str] = set()

    def _wait(self) -> None:
        self.threads.add(threading.current_thread().name)
        self.answer.wait(10)

    def available(self) -> bool:
        self._wait()
        return True

    def get(self, access_key: str) -> str | None:
        self._wait()
        return super().get(access_key)

    def set(self, access_key: str, secret: str) -> bool:
        self._wait()
        return super().set(access_key, secret)


def test_a_slow_keyring_never_holds_up_the_dialog(qtbot: QtBot, ini: Path) -> None:
    keyring = SlowKeyring()
    keyring.secrets["AKIAEXAMPLE"] = SECRET
    store = SettingsStore(QSettings(str(ini), QSettings.Format.IniFormat), keyring)
    store.save(AppSettings(bucket="b", auth=AUTH_KEYS, access_key="AKIAEXAMPLE"))

    started = time.monotonic()
    dialog = SettingsDialog(store, profiles=[])  # opens at once, keyring or not
    qtbot.addWidget(dialog)
    dialog.show()
    assert time.monotonic() - started < 2.0
    assert not dialog.is_loaded() and dialog.destination.secret_edit.text() == ""
    dialog.keys.prefix_edit.setText("responsive")  # the form works meanwhile
    assert dialog.keys.photo_preview.text().startswith("responsive/")

    keyring.answer.set()
    qtbot.waitUntil(dialog.is_loaded)
    assert dialog.destination.secret_edit.text() == SECRET
    with qtbot.waitSignal(dialog.accepted):
        dialog.accept()
    assert keyring.threads and "MainThread" not in keyring.threads


def test_an_upload_speed_limit_is_checked_as_typed_and_saved(
    qtbot: QtBot, store: SettingsStore
) -> None:
    dialog = open_dialog(qtbot, store)
    limit = dialog.performance.limit_edit
    assert limit.text() == "" and limit.placeholderText() == "No limit"

    limit.setText("fast")
    assert not dialog.is_valid()
    assert dialog.performance.limit_error.isVisibleTo(dialog)
    assert (
        dialog.performance.limit_error.text() == "Not a speed: write e.g. 20M (MiB/s), 512K or off."
    )

    limit.setText("20M")
    assert dialog.is_valid() and not dialog.performance.limit_error.isVisibleTo(dialog)
    with qtbot.waitSignal(dialog.settings_saved) as saved:
        dialog.accept()
    assert saved.args[0].upload_limit == "20M"
    assert saved.args[0].engine_settings().upload_limit == 20 * 1024 * 1024
    assert store.load().upload_limit == "20M"


def test_watched_folders_are_added_removed_and_saved(
    qtbot: QtBot, store: SettingsStore, tmp_path: Path
) -> None:
    store.save(AppSettings(watched_folders=("/photos/Copy stand",)))
    dialog = open_dialog(qtbot, store)
    section = dialog.watch
    assert section.folders() == ("/photos/Copy stand",)
    assert not section.remove_button.isEnabled()  # nothing selected
    section.add_folder(str(tmp_path / "Scans, 2024"))
    section.add_folder("/photos/Copy stand")  # already watched: selected, not doubled
    assert section.folders() == ("/photos/Copy stand", str(tmp_path / "Scans, 2024"))
    assert section.folder_list.currentItem().text() == "/photos/Copy stand"
    assert section.remove_button.isEnabled()
    qtbot.mouseClick(section.remove_button, Qt.MouseButton.LeftButton)
    assert section.folders() == (str(tmp_path / "Scans, 2024"),)
    dialog.accept()
    assert store.load().watched_folders == (str(tmp_path / "Scans, 2024"),)


def test_the_dialog_fits_a_1024_by_768_screen(qtbot: QtBot, store: SettingsStore) -> None:
    """It was 1082 px wide at the least: OK and Cancel fell off a 1024-px screen."""
    store.save(AppSettings(watched_folders=("/home/collector/Pictures/Copy stand capture",)))
    dialog = open_dialog(qtbot, store)
    least = dialog.minimumSizeHint()
    assert least.width() <= 1000 and least.height() <= 720, least
