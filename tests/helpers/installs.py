"""A stand-in per-user install and stand-in system tools, for packaging/*.sh.

The scripts run for real (bash, coreutils, the real dpkg-query unless replaced); what
would install or start something is replaced by a small script that writes its name and
arguments to a calls file, so a test can say what was run, and nothing is installed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"

_RECORDER = """#!/usr/bin/env bash
printf '%s\\n' "{name} $*" >>"{calls}"
{then}
"""


class FakeInstall:
    """A venv folder whose programs only record that they were called, and a folder of
    system tools (apt-get, sudo, ...) put first on PATH."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / "venv"
        self.tools = root / "tools"
        self.calls_file = root / "calls.txt"
        self.home = root / "home"
        for folder in (self.venv / "bin", self.tools, self.home):
            folder.mkdir(parents=True, exist_ok=True)
        (self.venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        self.program("python", in_venv=True)
        self.program("photo-uploader", in_venv=True, then='echo "started with: $*"')
        self.program("photo-uploader-gui", in_venv=True)
        # Anything that would install: recorded, and failing so nothing goes on.
        for tool in ("apt-get", "sudo"):
            self.program(tool, then="exit 1")

    def program(self, name: str, *, in_venv: bool = False, then: str = "exit 0") -> Path:
        """A script `name` that records its call, then runs `then` (bash)."""
        path = (self.venv / "bin" if in_venv else self.tools) / name
        path.write_text(_RECORDER.format(name=name, calls=self.calls_file, then=then))
        path.chmod(0o755)
        return path

    def calls(self) -> list[str]:
        if not self.calls_file.exists():
            return []
        return self.calls_file.read_text().splitlines()

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a user whose install is this one."""
        return {
            **os.environ,
            "PATH": f"{self.tools}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "PHOTO_UPLOADER_VENV": str(self.venv),
            **extra,
        }

    def mark_current(self, extras: str = "") -> None:
        """Write the stamp install.sh writes after installing this clone as it is now."""
        stamp = run_bash(
            f'source {PACKAGING / "common.sh"} && expected_stamp "{extras}"', env=self.env()
        ).stdout
        (self.venv / "photo-uploader-install.stamp").write_text(stamp)


def run_bash(
    script: str, *, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def run_script(
    name: str,
    *args: str,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`bash packaging/NAME ARGS...` as a user runs it."""
    return subprocess.run(
        ["bash", str(PACKAGING / name), *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
