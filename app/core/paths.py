"""Where Photo Uploader keeps its files.

``data_dir()`` holds what the app makes (the journal, the local test bucket and its
credentials); ``config_dir()`` holds what the user chooses (destinations, settings).
Both follow the platform's conventions through platformdirs (XDG on Linux) and can be
moved with an environment variable, which the tests use so they never touch the real
user folders:

- ``PHOTO_UPLOADER_DATA_DIR``
- ``PHOTO_UPLOADER_CONFIG_DIR``

Each folder is created on first use, readable by its owner only (0o700).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "photo-uploader"

DATA_DIR_ENV = "PHOTO_UPLOADER_DATA_DIR"
CONFIG_DIR_ENV = "PHOTO_UPLOADER_CONFIG_DIR"

_DIR_MODE = 0o700


def data_dir() -> Path:
    """The folder for the app's own data, created on demand (mode 0o700)."""
    override = os.environ.get(DATA_DIR_ENV)
    base = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, False))
    return _ensure_dir(base)


def config_dir() -> Path:
    """The folder for the user's settings, created on demand (mode 0o700)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    base = Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, False))
    return _ensure_dir(base)


def _ensure_dir(path: Path) -> Path:
    path = path.expanduser()
    if not path.is_dir():
        # mkdir applies the umask to the mode, so a new folder is at most 0o700.
        # An existing folder keeps whatever mode its owner gave it.
        path.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    return path
