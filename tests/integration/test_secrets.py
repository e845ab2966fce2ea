"""Secrets stay secret (issue 4): after runs with a known secret key, it appears in no file
the app writes (data and config folders: logs, journal, settings, the local bucket) and in
nothing it prints, and the local bucket's own secret never reaches a command line or a log.

The only file allowed to hold a secret is the local bucket's generated key file
(local-credentials.json, mode 0600), and only that bucket's own secret.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import os
import stat
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest
import qasync
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication

from app.core.localserver import find_rclone, start_local_bucket
from app.core.paths import config_dir, data_dir
from app.ui.controller import UploadController
from app.ui.main import setup_logging
from app.ui.preview_cache import PreviewCache
from app.ui.queue_model import QueueModel
from app.ui.settings import (
    AUTH_KEYS,
    AppSettings,
    MemorySecretStore,
    SecretStore,
    SettingsStore,
    default_qsettings,
)
from tests.helpers import corpus
from tests.helpers.cli import run_upload
from tests.helpers.servers import S3Endpoint

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
LOCAL_CREDENTIALS = "local-credentials.json"
# A wrong secret the user might type: it must not be echoed back either.
WRONG_SECRET = "WrongSecretTypedByTheUser0123456789abcdefXYZ"


def places_holding(secret: str, roots: list[Path], texts: dict[str, str]) -> list[str]:
    """Every file under `roots` and every named text that contains `secret` (as UTF-8 or
    UTF-16, as Qt or Windows tools might write it)."""
    needles = (secret.encode("utf-8"), secret.encode("utf-16-le"))
    found = [name for name, text in texts.items() if secret in text]
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                path = Path(folder, name)
                if path.is_symlink() or not path.is_file():
                    continue
                data = path.read_bytes()
                if any(needle in data for needle in needles):
                    found.append(str(path))
    return found


def every_file(*roots: Path) -> list[Path]:
    return [
        Path(folder, name) for root in roots for folder, _, names in os.walk(root) for name in names
    ]


def run_cli(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_upload(*args, env=env, timeout=110)


def folder_with_failures(folder: Path) -> Path:
    """Good photos plus files that fail (not images) or lose their thumbnail (truncated)."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus.jpeg_photo(folder / "coin.jpg", (200, 150), seed=11)
    corpus.png_rgba(folder / "stamp.png")
    corpus.truncated_jpeg(folder / "cut.jpg", seed=12)
    corpus.text_named_jpg(folder / "notes.jpg")
    corpus.zero_byte(folder / "empty.jpg")
    corpus.fifo(folder / "pipe.jpg")
    return folder


def local_secret() -> str:
    data = json.loads((data_dir() / LOCAL_CREDENTIALS).read_text("utf-8"))
    secret: str = data["secret_key"]
    assert len(secret) >= 16
    return secret


# --- The command line, with the user's secret in the environment ------------------------


def test_a_secret_from_the_environment_appears_nowhere_after_good_and_failing_runs(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    known = rclone_s3.secret_key
    photos = folder_with_failures(tmp_path / "photos")
    bucket = fresh_bucket(rclone_s3)
    user = {"AWS_ACCESS_KEY_ID": rclone_s3.access_key, "AWS_SECRET_ACCESS_KEY": known}
    wrong = {"AWS_ACCESS_KEY_ID": rclone_s3.access_key, "AWS_SECRET_ACCESS_KEY": WRONG_SECRET}
    remote = ("--bucket", bucket, "--endpoint-url", rclone_s3.url)
    runs = {
        "some files fail (JSON lines)": run_cli(photos, *remote, "--jsonl", env=user),
        "again, all duplicates (human)": run_cli(photos, *remote, env=user),
        "no such bucket": run_cli(
            photos, "--bucket", "no-such-bucket-here", "--endpoint-url", rclone_s3.url, env=user
        ),
        "wrong secret": run_cli(photos, *remote, "--jsonl", env=wrong),
        "local test bucket, AWS secret still set": run_cli(photos, "--jsonl", env=user),
    }

    codes = {name: result.returncode for name, result in runs.items()}
    assert codes == {
        "some files fail (JSON lines)": 1,
        "again, all duplicates (human)": 1,
        "no such bucket": 2,
        "wrong secret": 2,
        "local test bucket, AWS secret still set": 1,
    }
    assert "does not exist" in runs["no such bucket"].stderr
    assert "Check your credentials" in runs["wrong secret"].stderr
    texts = {
        f"{name} {stream}": getattr(result, stream)
        for name, result in runs.items()
        for stream in ("stdout", "stderr")
    }
    assert not any("Traceback" in text for text in texts.values())

    roots = [data_dir(), config_dir()]
    assert (data_dir() / LOCAL_CREDENTIALS).exists()  # the app did write its files here
    assert places_holding(known, roots, texts) == []
    assert places_holding(WRONG_SECRET, roots, texts) == []
    # The local bucket's own secret: in its 0600 key file and nowhere else.
    credentials = data_dir() / LOCAL_CREDENTIALS
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert places_holding(local_secret(), roots, texts) == [str(credentials)]


def test_the_local_bucket_secret_never_reaches_rclones_command_line(tmp_path: Path) -> None:
    """The CLI starts rclone through a wrapper that records the arguments it was given."""
    record = tmp_path / "rclone-argv"
    wrapper = tmp_path / "rclone-wrapper"
    real = find_rclone()
    wrapper.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$@\" >> '{record}'\n"
        f"[ -n \"$RCLONE_AUTH_KEY\" ] && echo '(auth key in the environment)' >> '{record}'\n"
        f"exec '{real}' \"$@\"\n"
    )
    wrapper.chmod(0o700)
    photos = folder_with_failures(tmp_path / "photos")

    result = run_cli(photos, "--jsonl", env={"PHOTO_UPLOADER_RCLONE": str(wrapper)})

    assert result.returncode == 1, result.stderr
    argv = record.read_text()
    assert "serve\ns3\n" in argv  # the wrapper really ran rclone
    assert "(auth key in the environment)" in argv  # the secret travels by environment
    secret = local_secret()
    assert secret not in argv
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    credentials = data_dir() / LOCAL_CREDENTIALS
    assert places_holding(secret, [data_dir(), config_dir()], texts) == [str(credentials)]


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc (Linux)")
def test_the_running_local_server_shows_no_secret_in_its_process_arguments(
    tmp_path: Path,
) -> None:
    server = start_local_bucket(data_dir())
    try:
        assert server.pid is not None
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        assert b"serve" in cmdline and b"s3" in cmdline  # the real, running rclone
        secret = server.credentials.secret_key.encode()
        assert not any(secret in arg for arg in cmdline)
        # It works with that secret, so the secret it got is the right one.
        photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
        server.client().upload_file(str(photo), "photos", "coin.jpg")
    finally:
        server.stop()
    log = data_dir() / "local-bucket.log"
    assert log.exists() and "(credentials in RCLONE_AUTH_KEY)" in log.read_text()
    assert server.credentials.secret_key not in log.read_text()


# --- The window's side: settings, keyring, log file and engine ---------------------------


class LeakyKeyring(keyring.backend.KeyringBackend):
    """A keyring that fails with the password in its error message (a careless backend)."""

    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked(f"locked; cannot read {service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.PasswordSetError(f"cannot store {password!r} for {username}")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("locked")


@pytest.fixture
def keyring_backend() -> Iterator[Callable[[keyring.backend.KeyringBackend], None]]:
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


@pytest.fixture
def app_log_file() -> Iterator[Path]:
    """The window's log file (data folder), set up as the app does; removed afterwards."""
    root = logging.getLogger()
    level, before = root.level, list(root.handlers)
    path = setup_logging()
    yield path
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def run_on_a_qt_loop(qapp: QApplication, session: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `session` on a qasync loop, as the window does, then dispose of the loop here.

    The app's pools shut down without waiting (quitting must never hang) and their threads
    still hold the loop: they are let finish first, so the loop's Qt timers are freed on
    this thread rather than by a garbage collection on a worker thread of a later test
    ("QObject::~QObject: Timers cannot be stopped from another thread").
    """
    qapp.setQuitOnLastWindowClosed(False)
    threads_before = set(threading.enumerate())
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(session())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        # qasync's timer object (no Qt parent) still has timers registered with Qt after
        # close(); whichever thread drops the loop's last reference destroys it, and off
        # the GUI thread its timers stay behind to fire on freed memory in a later test
        # (a segfault in QTimerInfoList::activateTimers). Destroyed here, on this thread.
        timer = getattr(loop, "_timer", None)  # (qasync 0.28: a _SimpleTimer QObject)
        if timer is not None and shiboken6.isValid(timer):
            shiboken6.delete(timer)
        del timer
        del loop
        for thread in set(threading.enumerate()) - threads_before:
            thread.join(timeout=10)
        gc.collect()


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for a condition (not for time): fail clearly if it never holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("keeper", ["no keyring", "failing keyring", "memory store"])
def test_a_secret_typed_into_settings_appears_nowhere_the_window_writes(
    keeper: str,
    rclone_s3: S3Endpoint,
    fresh_bucket: Callable[[S3Endpoint], str],
    tmp_path: Path,
    qapp: QApplication,
    keyring_backend: Callable[[keyring.backend.KeyringBackend], None],
    app_log_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    known = rclone_s3.secret_key
    secrets: SecretStore
    if keeper == "memory store":
        secrets = MemorySecretStore()
    else:
        keyring_backend(
            keyring.backends.fail.Keyring() if keeper == "no keyring" else LeakyKeyring()
        )
        secrets = SecretStore()
    settings = AppSettings(
        bucket=fresh_bucket(rclone_s3),
        endpoint_url=rclone_s3.url,
        auth=AUTH_KEYS,
        access_key=rclone_s3.access_key,
    )
    # What the settings dialog does on OK: the secret to the keyring, the rest to the file.
    SettingsStore(default_qsettings(), secrets).save(settings)
    secrets.set(settings.access_key, known)
    # A restart: everything read back from disk (the secret from the keeper).
    store = SettingsStore(default_qsettings(), secrets)
    loaded = store.load()
    assert loaded == settings
    assert store.secret_for(loaded) == known
    photos = folder_with_failures(tmp_path / "photos")
    previews = PreviewCache()
    model = QueueModel(previews)
    controller = UploadController(model)
    problems: list[str] = []
    controller.problem.connect(problems.append)

    async def session() -> None:
        try:
            await controller.start(loaded, store.secret_for(loaded))
            controller.add_paths([photos])
            await until(lambda: model.rowCount() == 6 and not controller.has_unfinished())
            # A bucket that does not exist, with the same secret: a problem shown to the user.
            missing = dataclasses.replace(loaded, bucket="no-such-bucket-here")
            await controller.apply_settings(missing, store.secret_for(missing))
            await until(lambda: bool(problems))
        finally:
            await asyncio.wait_for(controller.aclose(), 15)
            previews.close()

    run_on_a_qt_loop(qapp, session)

    controller.flush_pending()
    shown = [model.snapshot_at(row) for row in range(model.rowCount())]
    # Qt objects with timers go on this thread, not whenever a worker thread collects them.
    for qt_object in (controller, model):
        qt_object.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert sorted(s.state.value for s in shown) == ["failed"] * 3 + ["uploaded"] * 3
    assert any("does not exist" in problem for problem in problems)
    messages = [str(m) for s in shown for m in (s.error, s.thumbnail_error, s.notice) if m]
    texts = {
        "messages shown": "\n".join(messages + problems),
        "log records": caplog.text,
        "settings repr": repr(loaded) + repr(settings.destination(known)),
    }
    roots = [data_dir(), config_dir()]
    assert app_log_file in every_file(*roots)
    assert (config_dir() / "settings.ini").exists()
    assert places_holding(known, roots, texts) == []
