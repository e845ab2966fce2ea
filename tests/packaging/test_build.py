"""packaging/build.sh: the PyInstaller one-folder bundle builds and runs on its own.

One build (about 30 s here, 400 MB in a temporary folder) serves every test of the module.
The bundle runs with this test's data folder (tests/conftest.py), its rclone from inside
the bundle, never the one this Python installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import __version__
from app.core.localserver import process_alive
from app.core.localserver.shared import STATE_FILE
from tests.helpers import corpus, rawfiles
from tests.helpers.installs import run_script

pytestmark = [pytest.mark.bundle, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("bundle")
    dist = folder / "dist"
    started = time.monotonic()
    built = run_script(
        "build.sh", str(dist), env={**os.environ, "PYTHON": sys.executable}, timeout=900
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    program = dist / "photo-uploader" / "photo-uploader"
    assert program.is_file()
    print(f"bundle built in {time.monotonic() - started:.0f} s")
    yield program
    shutil.rmtree(folder)  # 400 MB, which pytest would keep for three runs


def _run(program: Path, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [program, *map(str, args)],
        env={**os.environ, "PHOTO_UPLOADER_RCLONE": "", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_bundle_answers_its_version(bundle: Path) -> None:
    done = _run(bundle, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"photo-uploader {__version__}\n"


def test_the_bundle_uploads_to_the_local_test_bucket(bundle: Path, tmp_path: Path) -> None:
    """JPEG and WebP through Pillow, HEIC through pillow-heif, a scan too big for Pillow
    through libvips, a CR2 through its embedded preview: every thumbnail made."""
    photos = tmp_path / "photos"
    photos.mkdir()
    corpus.jpeg_photo(photos / "coin.jpg")
    corpus.webp(photos / "stamp.webp")
    if corpus.heic_writable():
        corpus.heic(photos / "print.heic")
    corpus.big_scan(photos / "scan.png", (6000, 6000))  # 36 MP: past Pillow's budget
    rawfiles.cr2(photos / "book.cr2")
    done = _run(bundle, "upload", "--jsonl", photos)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert {Path(line["path"]).name for line in lines} == {p.name for p in photos.iterdir()}
    for line in lines:
        assert (line["status"], line["thumbnail_status"]) == ("uploaded", "generated"), line
    bucket = Path(os.environ["PHOTO_UPLOADER_DATA_DIR"]) / "local-bucket" / "photos"
    assert (bucket / lines[0]["key"]).is_file()
    assert (bucket / lines[0]["thumbnail_key"]).is_file()


def test_the_bundle_carries_the_icon_and_libraw(bundle: Path) -> None:
    inside = bundle.parent / "_internal"
    assert (inside / "app" / "resources" / "icons" / "hicolor" / "scalable").is_dir()
    assert (inside / "app" / "resources" / "photo-uploader.desktop").is_file()
    assert list((inside / "rawpy").glob("_rawpy*.so"))  # imported only for some RAWs


@pytest.fixture
def window(bundle: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [bundle],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(10)


def _until(condition: object, timeout: float = 30.0) -> bool:
    """Poll another process's state (there is nothing to await across processes)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_bundles_window_starts_its_server_which_dies_with_it_on_kill_9(
    bundle: Path, window: subprocess.Popen[bytes]
) -> None:
    """The window's local bucket is started through the bundle's own launcher mode, so
    the kernel ends it when the window dies, with no chance to clean up."""
    state = Path(os.environ["PHOTO_UPLOADER_DATA_DIR"]) / STATE_FILE

    def server_of_window() -> int | None:
        try:
            record = json.loads(state.read_text())
        except (OSError, ValueError):
            return None
        return record["server_pid"] if record["owner_pid"] == window.pid else None

    assert _until(lambda: server_of_window() is not None), "the window's server never started"
    server = server_of_window()
    assert server is not None and process_alive(server)
    assert Path(f"/proc/{server}/exe").resolve() == bundle.parent / "_internal" / "rclone"
    # What the programs it starts inherit: not the bundle's library folder.
    environment = Path(f"/proc/{server}/environ").read_bytes().split(b"\0")
    assert not [entry for entry in environment if entry.startswith(b"LD_LIBRARY_PATH=")]
    window.send_signal(signal.SIGKILL)
    window.wait(10)
    assert _until(lambda: not process_alive(server), timeout=10), "rclone outlived the window"
