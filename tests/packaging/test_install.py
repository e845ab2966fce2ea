"""packaging/install.sh --desktop: the menu entry and icons for this user, in XDG folders."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from app.ui.app_icon import ICON_NAME, ICON_SIZES
from tests.helpers.installs import FakeInstall, run_script


def _entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep case
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


@pytest.fixture
def install(tmp_path: Path) -> FakeInstall:
    fake = FakeInstall(tmp_path / "user")
    fake.mark_current()
    return fake


def test_the_desktop_entry_and_icons_go_into_the_users_data_folder(
    install: FakeInstall, tmp_path: Path
) -> None:
    data = tmp_path / "xdg-data"
    done = run_script("install.sh", "--desktop", env=install.env(XDG_DATA_HOME=str(data)))
    assert done.returncode == 0, done.stdout + done.stderr
    entry_path = data / "applications" / "photo-uploader.desktop"
    entry = _entry(entry_path)
    launcher = install.venv / "bin" / "photo-uploader-gui"
    assert entry["Exec"] == f"{launcher} %F"  # this install, with the files opened
    assert entry["TryExec"] == str(launcher)
    assert entry["Icon"] == ICON_NAME
    hicolor = data / "icons" / "hicolor"
    for size in ICON_SIZES:
        assert (hicolor / f"{size}x{size}" / "apps" / "photo-uploader.png").is_file()
    assert (hicolor / "scalable" / "apps" / "photo-uploader.svg").is_file()
    assert list((data / "metainfo").glob("*.metainfo.xml"))
    # The app was current: nothing was installed for it.
    assert not [call for call in install.calls() if call.startswith(("python", "apt-get", "sudo"))]

    if shutil.which("desktop-file-validate"):
        validated = subprocess.run(
            ["desktop-file-validate", entry_path], capture_output=True, text=True, timeout=30
        )
        assert validated.returncode == 0, validated.stdout + validated.stderr
    if shutil.which("update-desktop-database"):  # "Open with" for images
        cache = (data / "applications" / "mimeinfo.cache").read_text()
        assert "image/jpeg=photo-uploader.desktop;" in cache
        assert "image/x-adobe-dng=photo-uploader.desktop;" in cache


def test_an_install_path_with_a_space_is_quoted_in_exec(tmp_path: Path) -> None:
    install = FakeInstall(tmp_path / "my user")
    install.mark_current()
    data = tmp_path / "xdg-data"
    done = run_script("install.sh", "--desktop", env=install.env(XDG_DATA_HOME=str(data)))
    assert done.returncode == 0, done.stdout + done.stderr
    entry = _entry(data / "applications" / "photo-uploader.desktop")
    assert entry["Exec"] == f'"{install.venv / "bin" / "photo-uploader-gui"}" %F'


def test_an_unknown_option_is_refused(install: FakeInstall) -> None:
    done = run_script("install.sh", "--desk", env=install.env())
    assert done.returncode == 2
    assert "unknown option --desk" in done.stderr
