"""The local bucket shared between the processes of one user: one server, owned by the
process that started it, gone with it even on kill -9, never stopped by another while
its owner lives, restarted by whoever still needs it, on a port that stays the same."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.core.localserver import LOCAL_BUCKET_NAME, process_alive, start_local_bucket
from app.core.localserver.credentials import load_or_create_credentials
from app.core.localserver.process import LocalS3Server, find_rclone
from app.core.localserver.shared import CONFIG_FILE, LEGACY_PID_FILE, SharedLocalBucket

pytestmark = pytest.mark.integration

OWNER = """
import sys, pathlib
from app.core.localserver import start_local_bucket
server = start_local_bucket(pathlib.Path(sys.argv[1]))
print(server.port, server.pid, flush=True)
sys.stdin.read()  # up until its stdin closes (or it is killed)
server.stop()
"""


@contextmanager
def owner_process(data: Path) -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    """Another process of this user that starts the local bucket and owns it."""
    child = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port, pid = map(int, child.stdout.readline().split())
        yield child, port, pid
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)


def until_gone(pid: int, timeout: float = 10.0) -> bool:
    """Wait for a process to end (another process: nothing to await)."""
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_server_dies_with_its_owner_even_on_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with owner_process(data) as (child, _port, server_pid):
        assert process_alive(server_pid)
        child.send_signal(signal.SIGKILL)  # no chance to stop it
        child.wait(10)
        assert until_gone(server_pid), "rclone outlived the app that owned it"
    with start_local_bucket(data) as server:  # and the next start simply works
        server.client().put_object(Bucket=LOCAL_BUCKET_NAME, Key="after.txt", Body=b"ok")


def test_a_second_process_shares_the_server_and_never_stops_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with owner_process(data) as (child, port, server_pid):
        joined = start_local_bucket(data)
        assert (joined.port, joined.owned) == (port, False)
        joined.client().put_object(Bucket=LOCAL_BUCKET_NAME, Key="from-b.txt", Body=b"b")
        joined.release()  # not its server: it keeps running for its owner
        assert process_alive(server_pid)
        assert child.stdin is not None
        child.stdin.close()  # the owner quits: it stops its server
        child.wait(10)
        assert until_gone(server_pid)
    # Files written through one server are in the one folder.
    assert (data / "local-bucket" / LOCAL_BUCKET_NAME / "from-b.txt").read_bytes() == b"b"


def test_a_process_whose_server_vanished_starts_another_on_the_same_port(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with owner_process(data) as (child, port, server_pid):
        user = start_local_bucket(data)
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
        assert until_gone(server_pid)
        assert user.ensure_running()  # it had gone: this process starts one now
        try:
            assert user.owned and user.port == port and user.pid != server_pid
            user.client().list_buckets()
            assert not user.ensure_running()  # running: nothing to do
        finally:
            user.release()


def test_the_port_stays_the_same_across_restarts_and_moves_aside_when_busy(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with start_local_bucket(data) as first:
        port = first.port
    assert json.loads((data / CONFIG_FILE).read_text()) == {"port": port}
    with start_local_bucket(data) as again:
        assert again.port == port
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    try:
        with start_local_bucket(data) as elsewhere:
            assert elsewhere.port != port
            elsewhere.client().list_buckets()
    finally:
        squatter.close()
    assert json.loads((data / CONFIG_FILE).read_text()) == {"port": port}  # kept


def test_an_orphan_left_by_an_older_version_is_stopped_at_the_next_start(
    tmp_path: Path,
) -> None:
    """Older versions wrote only the server's pid, and their server outlived a crash."""
    data = tmp_path / "data"
    creds = load_or_create_credentials(data / "local-credentials.json")
    root = data / "local-bucket"
    # Start rclone from a helper that exits at once: the server is an orphan, as after a
    # crash of an older version (its parent gone, no death signal set).
    helper = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys\n"
            "env = dict(os.environ, RCLONE_AUTH_KEY=sys.argv[3])\n"
            "p = subprocess.Popen([sys.argv[1], 'serve', 's3', '--config', '', '--addr',\n"
            "    '127.0.0.1:0', ':local:' + sys.argv[2]], env=env, start_new_session=True,\n"
            "    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
            "print(p.pid)\n",
            find_rclone(),
            str(root),
            f'"{creds.access_key},{creds.secret_key}"',
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = int(helper.stdout)
    root.mkdir(parents=True, exist_ok=True)
    (data / LEGACY_PID_FILE).write_text(f"{orphan}\n")
    assert process_alive(orphan)
    with start_local_bucket(data) as server:
        assert until_gone(orphan)
        assert server.pid != orphan
    assert not (data / LEGACY_PID_FILE).exists()


def test_a_server_run_by_a_live_owner_is_never_stopped_even_if_unrecorded(
    tmp_path: Path,
) -> None:
    """A live older-version window's server (its parent alive) is left alone."""
    data = tmp_path / "data"
    creds = load_or_create_credentials(data / "local-credentials.json")
    other = LocalS3Server(data / "local-bucket", creds)
    other.start()
    try:
        (data / LEGACY_PID_FILE).write_text(f"{other.pid}\n")
        with start_local_bucket(data) as server:
            assert server.pid != other.pid
        assert other.running  # its owner (this test process) is alive
    finally:
        other.stop()


def test_acquiring_twice_in_one_process_is_harmless(tmp_path: Path) -> None:
    bucket = SharedLocalBucket(tmp_path / "data")
    bucket.acquire()
    try:
        pid = bucket.pid
        assert not bucket.ensure_running() and bucket.pid == pid
    finally:
        bucket.release()
    assert not bucket.running
    assert os.path.exists(tmp_path / "data" / "local-bucket.log")
