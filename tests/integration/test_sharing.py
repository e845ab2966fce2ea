"""Sharing the machine (issue 8), through real processes and the real local server:
signals quit cleanly, no server outlives its owner, the CLI beside an open window, a
second launch handing over its paths."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.localserver import process_alive
from app.core.localserver.shared import STATE_FILE
from tests.integration.test_restart import (
    REPO,
    LocalBucket,
    app_env,
    jsonl,
    make_photos,
    orphans_reaped,
    start,
    wait_for,
)

pytestmark = pytest.mark.integration


def server_record(data: Path) -> dict[str, int] | None:
    try:
        record = json.loads((data / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def rclones_serving(root: Path) -> list[int]:
    """Every process that is an rclone serving `root` (what `pgrep -af "serve s3"` shows)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        serving = b"serve\0s3" in cmdline and str(root).encode() in cmdline
        if serving and process_alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def until(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)  # another process: polled, nothing to await


def window_with_server(tmp_path: Path, *args: str | Path) -> tuple[subprocess.Popen[str], int]:
    """The window, started as a user would, once its local server is up."""
    data = tmp_path / "data"
    window = start(*args, env=app_env(tmp_path))
    wait_for(lambda: server_record(data) is not None, window, "the local server was up")
    record = server_record(data)
    assert record is not None
    return window, record["server_pid"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=str)
def test_a_signal_quits_the_window_cleanly_and_its_server_goes_with_it(
    tmp_path: Path, sig: signal.Signals
) -> None:
    bucket = LocalBucket(tmp_path / "data")
    with orphans_reaped(bucket.root):
        window, server = window_with_server(tmp_path)
        window.send_signal(sig)
        output, _ = window.communicate(timeout=30)
        assert window.returncode == 0, output
        assert "Traceback" not in output
        until(lambda: not process_alive(server), "the server stopped")
        assert rclones_serving(bucket.root) == []


def test_kill_9_of_the_window_leaves_no_server(tmp_path: Path) -> None:
    bucket = LocalBucket(tmp_path / "data")
    with orphans_reaped(bucket.root):
        window, server = window_with_server(tmp_path)
        window.send_signal(signal.SIGKILL)
        window.communicate(timeout=30)
        until(lambda: not process_alive(server), "the server died with the window")
        assert rclones_serving(bucket.root) == []


def test_sigterm_of_the_cli_says_what_got_done_exits_130_and_leaves_no_server(
    tmp_path: Path,
) -> None:
    photos = make_photos(tmp_path / "photos", 40)
    (tmp_path / "photos" / "zz big.jpg").write_bytes(photos[0].read_bytes() + b"\0" * 30_000_000)
    data = tmp_path / "data"
    bucket = LocalBucket(data)
    with orphans_reaped(bucket.root):
        cli = subprocess.Popen(
            [sys.executable, "-m", "app", "upload", str(tmp_path / "photos"), "--concurrency", "1"],
            cwd=REPO,
            env=app_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: bucket.indexed() >= 2, cli, "a few photos were uploaded")
        cli.send_signal(signal.SIGTERM)
        out, err = cli.communicate(timeout=60)
        assert cli.returncode == 130, err
        assert "Traceback" not in out + err
        summary = out.splitlines()[-1]
        assert " files to local test bucket (photos): " in summary and " uploaded" in summary
        assert err.strip().endswith("the same command picks them up where they stopped.")
        until(lambda: rclones_serving(bucket.root) == [], "no server was left")

        again = subprocess.run(
            [sys.executable, "-m", "app", "upload", str(tmp_path / "photos"), "--jsonl"],
            cwd=REPO,
            env=app_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr
        assert set(jsonl(again.stdout)) == {p.name for p in photos} | {"zz big.jpg"}


def test_the_cli_beside_an_open_window_shares_its_server_and_both_finish(
    tmp_path: Path,
) -> None:
    window_photos = make_photos(tmp_path / "for the window", 3)
    cli_photos = make_photos(tmp_path / "for the cli", 5)
    for n, photo in enumerate(cli_photos):  # content of their own
        photo.write_bytes(photo.read_bytes() + bytes([n]) * 10)
    data = tmp_path / "data"
    bucket = LocalBucket(data)
    with orphans_reaped(bucket.root):
        window, server = window_with_server(tmp_path, tmp_path / "for the window")
        try:
            result = subprocess.run(
                [sys.executable, "-m", "app", "upload", str(tmp_path / "for the cli"), "--jsonl"],
                cwd=REPO,
                env=app_env(tmp_path),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stderr
            assert {r["status"] for r in jsonl(result.stdout).values()} == {"uploaded"}
            record = server_record(data)
            assert record is not None and record["server_pid"] == server  # one server
            assert process_alive(server)  # the CLI did not stop the window's server
            wait_for(
                lambda: bucket.indexed() == len(window_photos) + len(cli_photos),
                window,
                "the window's photos were uploaded too",
            )
        finally:
            window.send_signal(signal.SIGTERM)
            output, _ = window.communicate(timeout=30)
        assert window.returncode == 0, output
        until(lambda: rclones_serving(bucket.root) == [], "no server was left")


def test_the_cli_carries_on_when_the_window_that_ran_the_server_quits(tmp_path: Path) -> None:
    cli_photos = make_photos(tmp_path / "for the cli", 60)
    data = tmp_path / "data"
    bucket = LocalBucket(data)
    with orphans_reaped(bucket.root):
        window, server = window_with_server(tmp_path)
        cli = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "upload",
                str(tmp_path / "for the cli"),
                "--jsonl",
                "--concurrency",
                "1",
            ],
            cwd=REPO,
            env=app_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: bucket.indexed() >= 2, cli, "the CLI was uploading")
        window.send_signal(signal.SIGTERM)  # the server's owner quits mid-batch
        window.communicate(timeout=30)
        assert not process_alive(server) or until(lambda: not process_alive(server), "gone")
        out, err = cli.communicate(timeout=120)
        assert cli.returncode == 0, err
        records = jsonl(out)
        assert {r["status"] for r in records.values()} == {"uploaded"}, err
        assert len(records) == len(cli_photos)
        until(lambda: rclones_serving(bucket.root) == [], "no server was left")


def test_a_second_launch_hands_its_paths_to_the_open_window(tmp_path: Path) -> None:
    photo = make_photos(tmp_path / "new", 1)[0]
    bucket = LocalBucket(tmp_path / "data")
    with orphans_reaped(bucket.root):
        window, _server = window_with_server(tmp_path)
        try:
            started = time.monotonic()
            second = subprocess.run(
                [sys.executable, "-m", "app", str(photo)],
                cwd=REPO,
                env=app_env(tmp_path),
                capture_output=True,
                text=True,
                timeout=30,
            )
            took = time.monotonic() - started
            assert second.returncode == 0, second.stdout + second.stderr
            assert took < 5, took  # 0.4 s here: it hands over before loading the rest
            wait_for(lambda: bucket.indexed() == 1, window, "the open window uploaded it")
            (stored,) = bucket.folder.glob("lot 00-*.jpg")
            assert stored.read_bytes() == photo.read_bytes()
        finally:
            window.send_signal(signal.SIGTERM)
            window.communicate(timeout=30)
