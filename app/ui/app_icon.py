"""The app's icon, from the resources folder wherever the app was installed from.

The files live in the repository's top-level ``resources/`` folder. An installed wheel
and the PyInstaller bundle carry that folder as ``app/resources``; a source checkout
(and an editable install, which imports ``app`` from the checkout) has it beside ``app``.
:func:`resources_dir` is the one place that knows this.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon

import app

log = logging.getLogger(__name__)

ICON_NAME = "photo-uploader"
#: The name of resources/photo-uploader.desktop, which desktops match the window to.
DESKTOP_FILE_NAME = "photo-uploader"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
_SCALABLE_ICON = Path("icons", "hicolor", "scalable", "apps", f"{ICON_NAME}.svg")


def resources_dir(package_dir: Path | None = None, bundle_dir: Path | None = None) -> Path | None:
    """The folder holding the icon, the .desktop file and the metainfo, or None.

    Looked for in the PyInstaller bundle (``sys._MEIPASS/app/resources``), then inside
    the ``app`` package (a wheel), then beside it (a source checkout). The arguments
    stand in for ``app``'s folder and the bundle's, for tests.
    """
    package = package_dir or Path(app.__file__).resolve().parent
    bundle = bundle_dir or _bundle_root()
    candidates = [package / "resources", package.parent / "resources"]
    if bundle is not None:
        candidates.insert(0, bundle / "app" / "resources")
    for candidate in candidates:
        if (candidate / _SCALABLE_ICON).is_file():
            return candidate
    return None


def _bundle_root() -> Path | None:
    meipass = getattr(sys, "_MEIPASS", None)
    return Path(meipass) if getattr(sys, "frozen", False) and meipass else None


def icon_files(resources: Path) -> dict[int, Path]:
    """The PNG rendering of each size, by size in pixels."""
    return {
        size: resources / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        for size in ICON_SIZES
    }


def app_icon() -> QIcon:
    """The window icon, one PNG per size (crisper than the SVG scaled, at 16 px); the
    desktop theme's icon of our name when the resources cannot be found."""
    resources = resources_dir()
    if resources is None:
        log.warning("the app's icon was not found; using the desktop theme's, if any")
        return QIcon.fromTheme(ICON_NAME)
    icon = QIcon()
    for size, path in icon_files(resources).items():
        if path.is_file():
            icon.addFile(str(path), QSize(size, size))
    return icon


def notification_icon() -> Path | None:
    """A PNG of the icon for desktop notifications (None when not found)."""
    resources = resources_dir()
    path = icon_files(resources).get(128) if resources is not None else None
    return path if path is not None and path.is_file() else None
