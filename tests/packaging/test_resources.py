"""resources/: the icon, the .desktop file and the AppStream metainfo, as desktops read them.

The validators are Debian's (desktop-file-utils, appstream), which .ci/run installs; a
test that needs one is skipped, naming the package, where it is missing.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from app import APP_NAME, __version__
from app.core.formats import ALL_FORMATS
from app.ui.app_icon import ICON_NAME, ICON_SIZES, icon_files

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
DESKTOP_FILE = RESOURCES / "photo-uploader.desktop"
METAINFO = RESOURCES / "io.github.photo_uploader.PhotoUploader.metainfo.xml"


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package {package})")
    return path


def _desktop_entry(path: Path = DESKTOP_FILE) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep case
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_the_desktop_file_passes_desktop_file_validate() -> None:
    validate = _tool("desktop-file-validate", "desktop-file-utils")
    done = subprocess.run([validate, DESKTOP_FILE], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in done.stdout + done.stderr


def test_the_metainfo_passes_appstreamcli_validate() -> None:
    appstreamcli = _tool("appstreamcli", "appstream")
    done = subprocess.run(
        [appstreamcli, "validate", "--no-net", METAINFO],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_desktop_file_opens_every_image_type_the_app_accepts() -> None:
    entry = _desktop_entry()
    assert entry["Exec"] == "photo-uploader-gui %F"  # files, several at once
    assert entry["Icon"] == ICON_NAME
    # X11 docks match windows by WM_CLASS, whose class Qt sets to the application name
    # (the instance is the program's name, which differs between a venv and the bundle).
    assert entry["StartupWMClass"] == APP_NAME
    offered = {mime for mime in entry["MimeType"].split(";") if mime}
    assert offered == {image_format.content_type for image_format in ALL_FORMATS}


def test_the_metainfo_launches_the_desktop_file_and_names_this_release() -> None:
    component = ET.parse(METAINFO).getroot()
    assert METAINFO.name == f"{component.findtext('id')}.metainfo.xml"
    assert component.findtext("launchable") == DESKTOP_FILE.name
    assert component.findtext("icon") == ICON_NAME
    releases = [release.get("version") for release in component.iter("release")]
    assert releases[0] == __version__  # newest first
    assert component.find("content_rating") is not None
    assert component.findall("screenshots/screenshot/image")


@pytest.mark.parametrize("size", ICON_SIZES)
def test_each_png_icon_is_the_size_its_folder_says(size: int) -> None:
    path = icon_files(RESOURCES)[size]
    assert path.parent.parent.name == f"{size}x{size}"
    with Image.open(path) as png:
        assert png.format == "PNG"
        assert png.size == (size, size)
        assert png.mode == "RGBA"  # a transparent background around the rounded tile
        assert png.getpixel((0, 0))[3] == 0


def test_the_scalable_icon_is_an_svg_with_a_square_canvas() -> None:
    svg = ET.parse(RESOURCES / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg")
    root = svg.getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    _, _, width, height = root.get("viewBox", "").split()
    assert width == height


def test_the_icons_are_exactly_the_hicolor_sizes_the_app_loads() -> None:
    rendered = {
        int(folder.name.split("x")[0])
        for folder in (RESOURCES / "icons" / "hicolor").iterdir()
        if folder.name != "scalable"
    }
    assert rendered == set(ICON_SIZES)
