"""The launcher a child runs to die with the app: with Python, and inside the bundle."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.core import childlauncher
from app.core.childlauncher import BUNDLE_LAUNCH_FLAG, launcher_command

# Runs the bundle's launcher mode from a plain Python: PARENT is this child's parent.
BUNDLE_MODE = """
import os, sys
from app.core.childlauncher import run_in_bundle
parent = os.getppid() if sys.argv[1] == "mine" else 1
run_in_bundle([str(parent), *sys.argv[2:]])
"""


def test_with_python_the_launcher_is_python_running_its_source() -> None:
    command = launcher_command(4242, ["/usr/bin/rclone", "serve", "s3"])
    assert command[:4] == [sys.executable, "-I", "-S", "-c"]
    assert command[4] == childlauncher.LAUNCHER_SOURCE
    assert command[5:] == ["4242", "/usr/bin/rclone", "serve", "s3"]


def test_in_the_bundle_the_launcher_is_the_apps_own_program(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/photo-uploader/photo-uploader")
    command = launcher_command(4242, ["/opt/photo-uploader/_internal/rclone", "serve"])
    assert command == [
        "/opt/photo-uploader/photo-uploader",
        BUNDLE_LAUNCH_FLAG,
        "4242",
        "/opt/photo-uploader/_internal/rclone",
        "serve",
    ]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_the_bundle_mode_becomes_the_program_it_names() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BUNDLE_MODE, "mine", "/bin/echo", "now rclone"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "now rclone\n"), done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_the_bundle_mode_will_not_outlive_a_parent_that_is_already_gone() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BUNDLE_MODE, "not mine", "/bin/echo", "orphan"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (71, "")
