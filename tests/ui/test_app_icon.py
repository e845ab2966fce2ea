"""The app's icon is found wherever the app runs from, and the window shows it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app.ui import app_icon
from app.ui.app_icon import ICON_SIZES, resources_dir
from app.ui.main import create_application

REPO = Path(__file__).resolve().parents[2]
CHECKOUT_RESOURCES = REPO / "resources"


def _copy_resources(to: Path) -> Path:
    shutil.copytree(CHECKOUT_RESOURCES, to)
    return to


def test_a_source_checkout_finds_the_top_level_resources_folder() -> None:
    assert resources_dir() == CHECKOUT_RESOURCES


def test_an_installed_wheel_finds_them_inside_the_package(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "app"
    package.mkdir(parents=True)
    inside = _copy_resources(package / "resources")
    assert resources_dir(package_dir=package) == inside


def test_a_bundle_finds_them_in_its_own_folder(tmp_path: Path) -> None:
    bundled = _copy_resources(tmp_path / "_internal" / "app" / "resources")
    elsewhere = tmp_path / "no-resources-here" / "app"
    elsewhere.mkdir(parents=True)
    assert resources_dir(package_dir=elsewhere, bundle_dir=tmp_path / "_internal") == bundled


def test_a_folder_without_the_icon_is_not_taken_for_the_resources(tmp_path: Path) -> None:
    package = tmp_path / "app"
    (package / "resources").mkdir(parents=True)  # empty: a packager forgot the files
    assert resources_dir(package_dir=package) is None


def test_the_window_shows_the_app_icon_at_every_size(qapp: QApplication) -> None:
    before = qapp.windowIcon()
    try:
        create_application(["photo-uploader"])
        icon = QApplication.windowIcon()
        assert not icon.isNull()
        available = {size.width() for size in icon.availableSizes()}
        assert available >= set(ICON_SIZES)
        assert not icon.pixmap(16, 16).isNull()
    finally:
        qapp.setWindowIcon(before)


def test_without_its_resources_the_app_falls_back_to_the_theme_icon(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(app_icon, "resources_dir", lambda: None)
    icon = app_icon.app_icon()
    assert isinstance(icon, QIcon)
    assert "icon was not found" in caplog.text
