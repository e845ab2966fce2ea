"""packaging/run.sh: installs once, then only starts the app, also for a user without root."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.installs import REPO, FakeInstall, run_script


@pytest.fixture
def install(tmp_path: Path) -> FakeInstall:
    return FakeInstall(tmp_path / "user")


def test_a_current_install_is_started_with_nothing_installed(
    install: FakeInstall, tmp_path: Path
) -> None:
    install.mark_current()
    done = run_script("run.sh", "upload", "some photo.jpg", env=install.env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "started with: upload some photo.jpg\n"
    assert done.stderr == ""
    # Only the app ran: no apt-get, no sudo, no pip (the venv's python), no install log.
    assert install.calls() == ["photo-uploader upload some photo.jpg"]
    assert not (install.home / ".cache" / "photo-uploader-install.log").exists()


def test_an_install_made_with_the_dev_extras_also_serves_the_app(install: FakeInstall) -> None:
    install.mark_current(extras="dev")
    done = run_script("run.sh", "--version", env=install.env())
    assert done.returncode == 0, done.stderr
    assert install.calls() == ["photo-uploader --version"]


def test_a_changed_pyproject_installs_again_before_starting(install: FakeInstall) -> None:
    install.mark_current()
    stamp = install.venv / "photo-uploader-install.stamp"
    stamp.write_text(stamp.read_text().replace("pyproject ", "pyproject 0", 1))
    done = run_script("run.sh", "--version", env=install.env())
    assert done.returncode == 0, done.stderr
    assert "Installing Photo Uploader" in done.stderr
    calls = install.calls()
    assert f"python -m pip install -e {REPO}" in calls
    assert calls[-1] == "photo-uploader --version"
    assert not [call for call in calls if call.startswith(("apt-get", "sudo"))]
    # Installed: the next start installs nothing.
    run_script("run.sh", "--version", env=install.env())
    assert install.calls()[len(calls) :] == ["photo-uploader --version"]


def test_without_root_a_missing_library_is_one_sentence_and_nothing_runs(
    install: FakeInstall,
) -> None:
    """An unprivileged user on a machine that lacks Qt's libraries: what to install, in
    one sentence, and exit status 3; never apt-get, never a traceback."""
    install.program("id", then='[ "${1:-}" = -u ] && echo 1000 || /usr/bin/id "$@"')
    install.program("dpkg-query")  # nothing is installed
    done = run_script("run.sh", "--version", env=install.env())
    assert done.returncode == 3
    lines = done.stderr.splitlines()
    assert lines[0].startswith("Installing Photo Uploader")
    (sentence,) = lines[1:]
    assert sentence.startswith("Photo Uploader needs these system packages, which are missing:")
    assert "libegl1" in sentence and '"sudo apt-get install libegl1 ' in sentence
    assert not [call for call in install.calls() if call.startswith(("apt-get", "python"))]
    assert done.stdout == ""
