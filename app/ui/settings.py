"""The user's choices, kept between runs: QSettings for plain values, the OS keyring for secrets.

`AppSettings` is what the settings dialog edits and the window reads; it turns into the
engine's `Destination` and `EngineSettings`. `SettingsStore` reads and writes it, and
never trusts what it reads: a value that is missing, of the wrong type or out of range
falls back to its default, so a damaged settings file cannot stop the app from starting.

The secret access key never goes into QSettings: `SecretStore` keeps it in the system
keyring (service "photo-uploader", username = the access key id). Without a keyring
(a headless Linux box) it lives in memory until the app quits.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, fields
from typing import Any

import botocore.session
import keyring
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
from PySide6.QtCore import QByteArray, QSettings

from app.core.bandwidth import RateError, parse_rate
from app.core.config import (
    CHECKSUM_MODES,
    MAX_CONCURRENCY,
    WINDOW_CONCURRENCY,
    Destination,
    EngineSettings,
)
from app.core.keys import DEFAULT_KEY_TEMPLATE, KeyTemplate, KeyTemplateError
from app.core.paths import config_dir
from app.core.thumbnails import PREVIEW_FORMATS, PreviewSpec, ThumbnailSpec

log = logging.getLogger(__name__)

ORGANIZATION = "PhotoUploader"
APPLICATION = "Photo Uploader"
SETTINGS_FILE_NAME = "settings.ini"
KEYRING_SERVICE = "photo-uploader"

AUTH_DEFAULT = "default"
AUTH_PROFILE = "profile"
AUTH_KEYS = "keys"
AUTH_MODES = (AUTH_DEFAULT, AUTH_PROFILE, AUTH_KEYS)

MIN_CONCURRENCY = 1
MIN_THUMBNAIL_SIZE, MAX_THUMBNAIL_SIZE = 64, 2048
MIN_PREVIEW_SIZE, MAX_PREVIEW_SIZE, DEFAULT_PREVIEW_SIZE = 320, 8192, 1600
MIN_THUMBNAIL_QUALITY, MAX_THUMBNAIL_QUALITY = 50, 95
DEFAULT_THUMBNAIL_SIZE = ThumbnailSpec().max_side
DEFAULT_THUMBNAIL_QUALITY = ThumbnailSpec().quality

_SETTINGS_VERSION = 1
_WINDOW_GROUP = "window"


@dataclass
class AppSettings:
    """Everything the settings dialog edits. An empty `bucket` means the local test bucket."""

    bucket: str = ""
    prefix: str = ""
    region: str = ""
    endpoint_url: str = ""
    auth: str = AUTH_DEFAULT
    profile: str = ""
    access_key: str = ""
    checksum_mode: str = CHECKSUM_MODES[0]
    key_template: str = DEFAULT_KEY_TEMPLATE
    concurrency: int = WINDOW_CONCURRENCY
    thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE
    thumbnail_quality: int = DEFAULT_THUMBNAIL_QUALITY
    preview_size: int = 0  # the display preview's longest side; 0: no previews
    preview_format: str = "jpeg"
    verify_after_upload: bool = False
    upload_limit: str = ""  # as typed, e.g. "20M"; empty or "off": no limit
    keep_gps: bool = False  # GPS positions go into the metadata sidecars
    item_from_folder: bool = True  # a photo's item id is its dropped folder's name
    # Folders whose new photos are uploaded as they appear (app.core.watch); kept in the
    # settings file as a JSON list (a folder's name may hold a comma).
    watched_folders: tuple[str, ...] = ()

    @property
    def uses_local_bucket(self) -> bool:
        return not self.bucket.strip()

    def key_templates(self) -> KeyTemplate:
        """The photo template with the default thumbnail template; raises KeyTemplateError."""
        return KeyTemplate(original=self.key_template)

    def engine_settings(self) -> EngineSettings:
        """Raises KeyTemplateError or ValueError if a value is unusable (load() prevents it)."""
        return EngineSettings(
            concurrency=self.concurrency,
            thumbnail=ThumbnailSpec(max_side=self.thumbnail_size, quality=self.thumbnail_quality),
            preview=PreviewSpec(max_side=self.preview_size, format=self.preview_format)
            if self.preview_size
            else None,
            keys=self.key_templates(),
            verify_after_upload=self.verify_after_upload,
            upload_limit=parse_rate(self.upload_limit),
            keep_gps=self.keep_gps,
            item_from_folder=self.item_from_folder,
        )

    def destination(self, secret_key: str | None) -> Destination | None:
        """The S3 destination, or None for the local test bucket (the app starts that one).

        Only the credentials that `auth` selects are passed on: a profile for "profile",
        the access key and `secret_key` for "keys", nothing (boto3's chain) for "default".
        """
        if self.uses_local_bucket:
            return None
        use_keys = self.auth == AUTH_KEYS
        return Destination(
            bucket=self.bucket.strip(),
            prefix=self.prefix,
            endpoint_url=self.endpoint_url.strip() or None,
            region=self.region.strip() or None,
            profile=(self.profile.strip() or None) if self.auth == AUTH_PROFILE else None,
            access_key=(self.access_key.strip() or None) if use_keys else None,
            secret_key=(secret_key or None) if use_keys else None,
            checksum_mode=self.checksum_mode,
        )


# --------------------------------------------------------------------------- secrets


class SecretStore:
    """Secret access keys in the system keyring, or in memory when there is none.

    No method raises for a keyring problem (locked, D-Bus gone, …): a failure is logged
    by exception type only, never with the secret, and the in-memory copy is used.
    """

    def __init__(self, service: str = KEYRING_SERVICE) -> None:
        self._service = service
        self._session: dict[str, str] = {}

    def available(self) -> bool:
        """Whether a real keyring backend exists (False for keyring's fail/null backends)."""
        try:
            backend = keyring.get_keyring()
            if isinstance(backend, keyring.backends.fail.Keyring | keyring.backends.null.Keyring):
                return False
            return float(backend.priority) > 0
        except Exception as exc:
            log.warning("Could not look up the system keyring: %s", type(exc).__name__)
            return False

    def get(self, access_key: str) -> str | None:
        if not access_key:
            return None
        if access_key in self._session:
            return self._session[access_key]
        if not self.available():
            return None
        try:
            secret = keyring.get_password(self._service, access_key)
        except Exception as exc:
            log.warning("Could not read the secret key from the keyring: %s", type(exc).__name__)
            return None
        return secret or None

    def set(self, access_key: str, secret: str) -> bool:
        """Keep `secret` for `access_key`; True if it will still be there after a restart."""
        if not access_key:
            return False
        if self.available():
            try:
                keyring.set_password(self._service, access_key, secret)
            except Exception as exc:
                log.warning("Could not save the secret key in the keyring: %s", type(exc).__name__)
            else:
                self._session.pop(access_key, None)
                return True
        self._session[access_key] = secret
        return False

    def delete(self, access_key: str) -> None:
        self._session.pop(access_key, None)
        if not access_key or not self.available():
            return
        try:
            keyring.delete_password(self._service, access_key)
        except keyring.errors.PasswordDeleteError:
            pass  # there was none
        except Exception as exc:
            log.warning("Could not delete the secret key from the keyring: %s", type(exc).__name__)


class MemorySecretStore(SecretStore):
    """A SecretStore for tests: a dict, and `persistent` says whether to act like a keyring."""

    def __init__(self, *, persistent: bool = True) -> None:
        super().__init__()
        self.persistent = persistent
        self.secrets: dict[str, str] = {}

    def available(self) -> bool:
        return self.persistent

    def get(self, access_key: str) -> str | None:
        return self.secrets.get(access_key) if access_key else None

    def set(self, access_key: str, secret: str) -> bool:
        if not access_key:
            return False
        self.secrets[access_key] = secret
        return self.persistent

    def delete(self, access_key: str) -> None:
        self.secrets.pop(access_key, None)


# --------------------------------------------------------------------------- QSettings


def stored_secret(secrets: SecretStore, settings: AppSettings) -> str | None:
    """The stored secret key when `settings` use access keys, else None. Blocking (the
    keyring): run it off the GUI thread, given the secret store rather than the
    SettingsStore, whose QSettings must stay on the GUI thread."""
    if settings.auth != AUTH_KEYS or not settings.access_key:
        return None
    return secrets.get(settings.access_key)


def default_qsettings() -> QSettings:
    """The app's settings file: an INI file in `config_dir()`, next to the user's other choices.

    A file in that folder (rather than the native store) keeps one place for everything the
    user chose and lets tests move it with PHOTO_UPLOADER_CONFIG_DIR.
    """
    return QSettings(str(config_dir() / SETTINGS_FILE_NAME), QSettings.Format.IniFormat)


class SettingsStore:
    """Reads and writes AppSettings and window geometry; secrets go to `secrets`.

    Attributes:
        secrets: where secret access keys are kept (never in `qsettings`).
    """

    def __init__(self, qsettings: QSettings, secrets: SecretStore) -> None:
        self._qsettings = qsettings
        self.secrets = secrets

    @classmethod
    def open_default(cls, secrets: SecretStore | None = None) -> SettingsStore:
        return cls(default_qsettings(), secrets if secrets is not None else SecretStore())

    @property
    def file_name(self) -> str:
        return self._qsettings.fileName()

    def load(self) -> AppSettings:
        """The stored settings; anything unreadable or out of range is replaced by its default."""
        defaults = AppSettings()
        q = self._qsettings
        q.beginGroup("settings")
        try:
            values: dict[str, Any] = {}
            for f in fields(AppSettings):
                default = getattr(defaults, f.name)
                raw = q.value(f.name) if q.contains(f.name) else None
                if isinstance(default, tuple):
                    values[f.name] = _as_folders(raw)
                elif isinstance(default, bool):
                    values[f.name] = _as_bool(raw, default)
                elif isinstance(default, int):
                    values[f.name] = _as_int(raw, default)
                else:
                    values[f.name] = _as_str(raw, default)
        finally:
            q.endGroup()
        settings = AppSettings(**values)
        _clamp(settings, defaults)
        return settings

    def save(self, settings: AppSettings) -> None:
        q = self._qsettings
        q.setValue("version", _SETTINGS_VERSION)
        q.beginGroup("settings")
        try:
            for f in fields(AppSettings):
                value = getattr(settings, f.name)
                q.setValue(f.name, json.dumps(list(value)) if isinstance(value, tuple) else value)
        finally:
            q.endGroup()
        q.sync()
        if q.status() != QSettings.Status.NoError:
            log.warning("Could not write the settings file %s", q.fileName())

    def secret_for(self, settings: AppSettings) -> str | None:
        """The stored secret key when `settings` use access keys, else None."""
        return stored_secret(self.secrets, settings)

    def save_window(self, key: str, state: bytes | QByteArray) -> None:
        """Keep a saveGeometry()/saveState() blob under `key` (e.g. "main/geometry")."""
        blob = state if isinstance(state, QByteArray) else QByteArray(state)
        self._qsettings.setValue(f"{_WINDOW_GROUP}/{key}", blob)
        self._qsettings.sync()

    def load_window(self, key: str) -> bytes | None:
        """The blob saved under `key`, or None; pass it to restoreGeometry()/restoreState()."""
        value = self._qsettings.value(f"{_WINDOW_GROUP}/{key}")
        if isinstance(value, QByteArray):
            data = bytes(value.data())
        elif isinstance(value, bytes | bytearray):
            data = bytes(value)
        else:
            return None
        return data or None


def _as_str(raw: object, default: str) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list | tuple):  # INI turns "a,b" into a list
        return ",".join(str(part) for part in raw) if raw else default
    return default


def _as_folders(raw: object) -> tuple[str, ...]:
    """A JSON list of folder paths; anything else is none."""
    if isinstance(raw, list | tuple):  # INI splits "a,b" into parts: join them back
        raw = ",".join(str(part) for part in raw)
    if not isinstance(raw, str):
        return ()
    try:
        folders = json.loads(raw)
    except ValueError:
        return ()
    if not isinstance(folders, list):
        return ()
    return tuple(dict.fromkeys(f for f in folders if isinstance(f, str) and f.strip()))


def _as_int(raw: object, default: int) -> int:
    if isinstance(raw, bool):
        return default
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            return default
    return default


def _as_bool(raw: object, default: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
    return default


def _clamp(settings: AppSettings, defaults: AppSettings) -> None:
    """Replace values the engine would refuse by their defaults."""
    if settings.auth not in AUTH_MODES:
        settings.auth = defaults.auth
    if settings.checksum_mode not in CHECKSUM_MODES:
        settings.checksum_mode = defaults.checksum_mode
    if not MIN_CONCURRENCY <= settings.concurrency <= MAX_CONCURRENCY:
        settings.concurrency = defaults.concurrency
    if not MIN_THUMBNAIL_SIZE <= settings.thumbnail_size <= MAX_THUMBNAIL_SIZE:
        settings.thumbnail_size = defaults.thumbnail_size
    if not MIN_THUMBNAIL_QUALITY <= settings.thumbnail_quality <= MAX_THUMBNAIL_QUALITY:
        settings.thumbnail_quality = defaults.thumbnail_quality
    if settings.preview_size and not MIN_PREVIEW_SIZE <= settings.preview_size <= MAX_PREVIEW_SIZE:
        settings.preview_size = defaults.preview_size
    if settings.preview_format not in PREVIEW_FORMATS:
        settings.preview_format = defaults.preview_format
    try:
        settings.key_templates()
    except KeyTemplateError:
        settings.key_template = defaults.key_template
    try:
        parse_rate(settings.upload_limit)
    except RateError:
        settings.upload_limit = defaults.upload_limit


def aws_profiles() -> list[str]:
    """Profile names in the user's AWS config and credentials files; [] if none or unreadable.

    botocore honours AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE.
    """
    try:
        names = botocore.session.Session().available_profiles
        return sorted({str(name) for name in names if name})
    except Exception as exc:
        log.warning("Could not read the AWS profiles: %s", type(exc).__name__)
        return []
