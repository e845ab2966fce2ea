"""Settings persistence, secret handling and AWS profile discovery."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest
from PySide6.QtCore import QByteArray, QSettings

from app.core.keys import DEFAULT_KEY_TEMPLATE, KeyTemplate
from app.ui.settings import (
    AUTH_DEFAULT,
    AUTH_KEYS,
    AUTH_PROFILE,
    AppSettings,
    MemorySecretStore,
    SecretStore,
    SettingsStore,
    aws_profiles,
    default_qsettings,
)

InstallKeyring = Callable[[keyring.backend.KeyringBackend], None]

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def make_store(path: Path, secrets: SecretStore | None = None) -> SettingsStore:
    """A fresh store on `path`: a new QSettings each time, as after a restart."""
    qsettings = QSettings(str(path), QSettings.Format.IniFormat)
    return SettingsStore(qsettings, secrets if secrets is not None else MemorySecretStore())


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


def customised() -> AppSettings:
    return AppSettings(
        bucket="my-coins",
        prefix="coins/2024",
        region="eu-central-1",
        endpoint_url="https://example.r2.cloudflarestorage.com",
        auth=AUTH_KEYS,
        profile="work",
        access_key="AKIAEXAMPLE",
        checksum_mode="when_required",
        key_template="{prefix}{sha8}/{stem}{ext}",
        concurrency=12,
        thumbnail_size=512,
        thumbnail_quality=70,
        verify_after_upload=True,
        watched_folders=("/photos/Copy stand, left", "/mnt/nas/scans"),
    )


# --------------------------------------------------------------------------- persistence


def test_defaults_when_nothing_is_stored(ini: Path) -> None:
    settings = make_store(ini).load()
    assert settings == AppSettings()
    assert settings.uses_local_bucket
    assert settings.key_template == DEFAULT_KEY_TEMPLATE


def test_settings_survive_a_restart(ini: Path) -> None:
    make_store(ini).save(customised())
    assert make_store(ini).load() == customised()


def test_text_with_commas_and_at_signs_round_trips(ini: Path) -> None:
    settings = replace(customised(), prefix="a,b/@c", key_template="{prefix}{stem},{sha8}{ext}")
    make_store(ini).save(settings)
    assert make_store(ini).load() == settings


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("concurrency=lots", "concurrency"),
        ("concurrency=0", "concurrency"),
        ("concurrency=65", "concurrency"),
        ("thumbnail_size=10", "thumbnail_size"),
        ("thumbnail_size=99999", "thumbnail_size"),
        ("thumbnail_quality=100", "thumbnail_quality"),
        ("thumbnail_quality=1.5", "thumbnail_quality"),
        ("auth=password", "auth"),
        ("checksum_mode=always", "checksum_mode"),
        ("key_template={prefix}{nope}", "key_template"),
        ("key_template={prefix}", "key_template"),
        ("verify_after_upload=maybe", "verify_after_upload"),
        ("bucket=@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x18)", "bucket"),
        ("watched_folders=/photos", "watched_folders"),
        ('watched_folders="{\\"a\\": 1}"', "watched_folders"),
    ],
)
def test_bad_stored_values_fall_back_to_defaults(
    tmp_path: Path, ini: Path, line: str, field: str
) -> None:
    # Edit a copy: QSettings caches a file it has read, and an edit that keeps the size
    # within the same mtime tick would go unnoticed.
    written = tmp_path / "written.ini"
    make_store(written).save(customised())
    text = written.read_text(encoding="utf-8")
    lines = [line if entry.startswith(f"{field}=") else entry for entry in text.splitlines()]
    ini.write_text("\n".join(lines) + "\n", encoding="utf-8")

    loaded = make_store(ini).load()

    assert getattr(loaded, field) == getattr(AppSettings(), field)
    others = {name: value for name, value in vars(loaded).items() if name != field}
    assert others == {n: v for n, v in vars(customised()).items() if n != field}


def test_a_garbage_file_loads_as_defaults(ini: Path) -> None:
    ini.write_bytes(b"\x00\xff[settings\n=\n\x89PNG\r\n\x1a\nconcurrency=[1,2]\n")
    assert make_store(ini).load() == AppSettings()


def test_settings_file_lives_in_the_config_dir(tmp_path: Path) -> None:
    # conftest points PHOTO_UPLOADER_CONFIG_DIR at tmp_path / "app-config".
    assert Path(default_qsettings().fileName()).parent == tmp_path / "app-config"


def test_window_state_round_trips(ini: Path) -> None:
    store = make_store(ini)
    blob = bytes(range(256)) * 3
    store.save_window("main/geometry", QByteArray(blob))
    store.save_window("main/columns", b"\x00\x01columns")

    restarted = make_store(ini)
    assert restarted.load_window("main/geometry") == blob
    assert restarted.load_window("main/columns") == b"\x00\x01columns"
    assert restarted.load_window("main/unknown") is None


def test_window_state_that_is_not_bytes_is_ignored(ini: Path) -> None:
    ini.write_text("[window]\nmain%2Fgeometry=hello\n", encoding="utf-8")
    assert make_store(ini).load_window("main/geometry") is None


# --------------------------------------------------------------------------- AppSettings


def test_local_bucket_has_no_destination() -> None:
    settings = AppSettings(bucket="   ", auth=AUTH_KEYS, access_key="AKIA")
    assert settings.uses_local_bucket
    assert settings.destination(SECRET) is None


def test_destination_with_access_keys() -> None:
    destination = customised().destination(SECRET)
    assert destination is not None
    assert destination.bucket == "my-coins"
    assert destination.prefix == "coins/2024/"
    assert destination.endpoint_url == "https://example.r2.cloudflarestorage.com"
    assert destination.region == "eu-central-1"
    assert (destination.access_key, destination.secret_key) == ("AKIAEXAMPLE", SECRET)
    assert destination.profile is None
    assert destination.checksum_mode == "when_required"
    assert SECRET not in repr(destination)


def test_destination_with_a_profile_ignores_keys() -> None:
    settings = replace(customised(), auth=AUTH_PROFILE, endpoint_url="", region="")
    destination = settings.destination(SECRET)
    assert destination is not None
    assert destination.profile == "work"
    assert destination.access_key is None and destination.secret_key is None
    assert destination.endpoint_url is None and destination.region is None


def test_destination_with_default_credentials_passes_none() -> None:
    destination = replace(customised(), auth=AUTH_DEFAULT).destination(SECRET)
    assert destination is not None
    assert (destination.profile, destination.access_key, destination.secret_key) == (
        None,
        None,
        None,
    )


def test_engine_settings() -> None:
    engine = customised().engine_settings()
    assert engine.concurrency == 12
    assert (engine.thumbnail.max_side, engine.thumbnail.quality) == (512, 70)
    assert engine.keys == KeyTemplate(original="{prefix}{sha8}/{stem}{ext}")


# --------------------------------------------------------------------------- secrets


def test_secret_never_reaches_the_settings_file(ini: Path) -> None:
    secrets = MemorySecretStore()
    store = make_store(ini, secrets)
    settings = customised()
    secrets.set(settings.access_key, SECRET)
    store.save(settings)

    assert SECRET not in ini.read_text(encoding="utf-8")
    restarted = make_store(ini, secrets)
    assert restarted.secret_for(restarted.load()) == SECRET


def test_secret_for_needs_access_keys(ini: Path) -> None:
    secrets = MemorySecretStore()
    secrets.set("AKIAEXAMPLE", SECRET)
    store = make_store(ini, secrets)
    assert store.secret_for(replace(customised(), auth=AUTH_PROFILE)) is None
    assert store.secret_for(replace(customised(), access_key="")) is None


def test_memory_secret_store() -> None:
    secrets = MemorySecretStore()
    assert secrets.available()
    assert secrets.get("AKIA") is None
    assert secrets.set("AKIA", SECRET) is True
    assert secrets.get("AKIA") == SECRET
    secrets.delete("AKIA")
    assert secrets.get("AKIA") is None
    secrets.delete("AKIA")  # deleting twice is fine
    assert secrets.set("", SECRET) is False


def test_memory_secret_store_without_keyring() -> None:
    secrets = MemorySecretStore(persistent=False)
    assert not secrets.available()
    assert secrets.set("AKIA", SECRET) is False
    assert secrets.get("AKIA") == SECRET


class DictKeyring(keyring.backend.KeyringBackend):
    """A working keyring backend that keeps passwords in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.passwords:
            raise keyring.errors.PasswordDeleteError("no such password")
        del self.passwords[(service, username)]


class BrokenKeyring(DictKeyring):
    """A keyring that exists but fails, like a locked one or a vanished D-Bus."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError("locked")


@pytest.fixture
def use_keyring() -> Iterator[InstallKeyring]:
    """Install a keyring backend for one test and put the previous one back."""
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


def test_secret_store_uses_the_system_keyring(use_keyring: InstallKeyring) -> None:
    backend = DictKeyring()
    use_keyring(backend)
    secrets = SecretStore()

    assert secrets.available()
    assert secrets.set("AKIAEXAMPLE", SECRET) is True
    assert backend.passwords == {("photo-uploader", "AKIAEXAMPLE"): SECRET}
    assert SecretStore().get("AKIAEXAMPLE") == SECRET  # a new session finds it
    secrets.delete("AKIAEXAMPLE")
    assert backend.passwords == {}
    secrets.delete("AKIAEXAMPLE")  # nothing to delete: no error


def test_secret_store_without_keyring_keeps_the_secret_for_this_session(
    use_keyring: InstallKeyring,
) -> None:
    use_keyring(keyring.backends.fail.Keyring())
    secrets = SecretStore()

    assert not secrets.available()
    assert secrets.set("AKIAEXAMPLE", SECRET) is False
    assert secrets.get("AKIAEXAMPLE") == SECRET
    assert SecretStore().get("AKIAEXAMPLE") is None  # gone after a restart
    secrets.delete("AKIAEXAMPLE")
    assert secrets.get("AKIAEXAMPLE") is None


def test_secret_store_survives_a_failing_keyring(
    use_keyring: InstallKeyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_keyring(BrokenKeyring())
    secrets = SecretStore()

    assert secrets.set("AKIAEXAMPLE", SECRET) is False
    assert secrets.get("AKIAEXAMPLE") == SECRET  # from memory
    assert SecretStore().get("AKIAEXAMPLE") is None
    assert SECRET not in caplog.text


# --------------------------------------------------------------------------- AWS profiles


def test_aws_profiles_from_config_and_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aws-config"
    config.write_text(
        "[default]\nregion = eu-west-1\n\n[profile work]\nregion = us-east-1\n\n"
        "[profile collector]\nsso_start_url = https://example.awsapps.com/start\n",
        encoding="utf-8",
    )
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        "[backup]\naws_access_key_id = AKIA\naws_secret_access_key = x\n", encoding="utf-8"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))

    assert aws_profiles() == ["backup", "collector", "default", "work"]


def test_aws_profiles_without_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))
    assert aws_profiles() == []


def test_aws_profiles_with_a_broken_file_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aws-config"
    config.write_bytes(b"[profile work\nregion = \xff\xfe\n[[[\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    assert aws_profiles() == []
