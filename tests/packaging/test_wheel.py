"""pyproject.toml: the wheel carries every package and resources/, and finds its icon.

The wheel is built offline (`pip wheel --no-build-isolation --no-index`) from a copy of
what the build reads, in about three seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.helpers.installs import REPO

SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_under_app_is_listed_for_the_wheel() -> None:
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "app").rglob("__init__.py")
    }
    assert set(SETUPTOOLS["packages"]) == on_disk | {"app.resources"}
    assert SETUPTOOLS["package-dir"] == {"app.resources": "resources"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for folder in ("app", "resources"):
        shutil.copytree(
            REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            out,
            source,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = out.glob("photo_uploader-*.whl")
    return path


def test_the_wheel_carries_the_icon_the_desktop_file_and_the_metainfo(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        str(Path("app", "resources", path.relative_to(REPO / "resources")))
        for path in (REPO / "resources").rglob("*")
        if path.is_file()
    }
    assert shipped <= names
    assert "app/resources/icons/hicolor/scalable/apps/photo-uploader.svg" in names
    assert "app/resources/photo-uploader.desktop" in names


def test_an_installed_wheel_finds_its_own_resources(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    found = subprocess.run(
        [sys.executable, "-c", "from app.ui.app_icon import resources_dir; print(resources_dir())"],
        cwd=tmp_path,  # not the checkout, whose app/ would be imported instead
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(site / "app" / "resources")
