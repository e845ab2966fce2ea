"""One local test bucket per data folder, shared by every process of its user.

The window, CLI runs and (later) a folder watch may all use the local bucket at once.
They share one `rclone serve s3`:

- The first to need it starts it and owns it: the server dies with its owner, even on
  kill -9 (app.core.localserver.spawn), and its owner stops it when it quits.
- The others find it through `local-bucket.state.json` (server pid, port, owner pid and
  start time) and use it as it is, without owning it: one server, so every process sees
  the same listings at once.
- Nobody stops a server whose owner is alive. A server whose owner is gone (an older
  version's orphan, or a crash where the kernel cannot end children) is stopped.
- When the server goes away under a process that still uses it (its owner quit), that
  process starts another and carries on (`ensure_running`, called by the store's probe
  while an outage is waited out).
- The port is stable per data folder (`local-bucket.json`), so a copied URL keeps working
  across restarts; when something else holds it, another free port is used for that run.

Starting, joining and cleaning happen under an advisory lock (`local-bucket.lock`), so two
processes starting at once end up sharing one server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.core.config import Destination
from app.core.localserver.credentials import LocalServerError, load_or_create_credentials
from app.core.localserver.ownership import process_alive, process_start_time, stop_server
from app.core.localserver.process import (
    DEFAULT_HOST,
    LOCAL_BUCKET_NAME,
    LocalS3Server,
    create_bucket,
    free_loopback_port,
    local_destination,
    s3_client,
)

log = logging.getLogger(__name__)

STATE_FILE = "local-bucket.state.json"
CONFIG_FILE = "local-bucket.json"
LOCK_FILE = "local-bucket.lock"
LEGACY_PID_FILE = "local-bucket.pid"  # written by versions before the server was shared


@dataclass(frozen=True)
class ServerRecord:
    """Who runs the data folder's server now."""

    server_pid: int
    port: int
    owner_pid: int
    owner_started: int | None  # the owner's start time (Linux clock ticks): pid reuse

    def owner_alive(self) -> bool:
        if not process_alive(self.owner_pid):
            return False
        started = process_start_time(self.owner_pid)
        return self.owner_started is None or started is None or started == self.owner_started


class SharedLocalBucket:
    """The data folder's local bucket, as this process uses it.

    `acquire()` (blocking: call it off the GUI thread) starts the server or joins the one
    running; `release()` stops it if this process owns it. In between,
    `endpoint_url`, `destination()` and `ensure_running()` work.
    """

    def __init__(self, data_dir: Path, *, timeout: float = 15.0, host: str = DEFAULT_HOST):
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "local-bucket"
        self.credentials = load_or_create_credentials(self.data_dir / "local-credentials.json")
        self._timeout = timeout
        self._host = host
        self._server: LocalS3Server | None = None  # when this process owns it
        self._port: int | None = None

    # -- what it is ------------------------------------------------------------------

    @property
    def owned(self) -> bool:
        return self._server is not None and self._server.running

    @property
    def running(self) -> bool:
        """Whether the server this process uses answers."""
        return self._port is not None and _answers(self._host, self._port)

    @property
    def endpoint_url(self) -> str:
        if self._port is None:
            raise LocalServerError("The local test bucket is not running.")
        return f"http://{self._host}:{self._port}"

    @property
    def pid(self) -> int | None:
        """The server's pid when this process owns it."""
        return self._server.pid if self._server is not None else None

    @property
    def port(self) -> int:
        if self._port is None:
            raise LocalServerError("The local test bucket is not running.")
        return self._port

    def client(self, **config: Any) -> Any:
        """A new boto3 client for the server (extra ``botocore.config.Config`` options)."""
        return s3_client(self.endpoint_url, self.credentials, **config)

    def ensure_bucket(self, name: str = LOCAL_BUCKET_NAME) -> None:
        if self._server is not None:
            self._server.ensure_bucket(name)
            return
        client = self.client()
        try:
            create_bucket(client, name)
        finally:
            client.close()

    def __enter__(self) -> SharedLocalBucket:
        if self._port is None:
            self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def destination(
        self, *, prefix: str = "", checksum_mode: str = "when_supported"
    ) -> Destination:
        return local_destination(
            self.endpoint_url, self.credentials, prefix=prefix, checksum_mode=checksum_mode
        )

    # -- starting, joining, stopping -------------------------------------------------

    def acquire(self) -> None:
        """Use the running server, or start one (this process then owns it)."""
        with self._locked():
            record = self._read_state()
            if record is not None and self._joinable(record):
                self._port = record.port
                log.info(
                    "using the local bucket server at port %d (pid %d)",
                    record.port,
                    record.server_pid,
                )
                return
            if record is not None:
                self._clear(record)
            self._stop_legacy_orphan()
            self._start()

    def ensure_running(self) -> bool:
        """Start (or join) a server if the one this process used has gone; True when it
        did. For the store's probe while its files wait out an outage."""
        if self.running:
            return False
        log.info("the local bucket server went away; starting another")
        self.acquire()
        return True

    def release(self) -> None:
        """Stop the server if this process owns it (the others start their own)."""
        server, self._server = self._server, None
        self._port = None
        if server is None:
            return
        with self._locked():
            pid = server.pid
            server.stop()
            record = self._read_state()
            if record is not None and record.server_pid == pid:
                with contextlib.suppress(OSError):
                    (self.data_dir / STATE_FILE).unlink()

    def stop(self) -> None:
        """The same as release() (the name LocalS3Server's callers know)."""
        self.release()

    # -- internals -------------------------------------------------------------------

    def _start(self) -> None:
        port = self._stable_port()
        if _port_taken(self._host, port):
            log.info("the local bucket's port %d is in use; using another for this run", port)
            port = free_loopback_port(self._host)
        server = LocalS3Server(
            self.root,
            self.credentials,
            host=self._host,
            port=port,
            log_path=self.data_dir / "local-bucket.log",
        )
        server.start(timeout=self._timeout)
        try:
            server.ensure_bucket(LOCAL_BUCKET_NAME)
        except BaseException:
            server.stop()
            raise
        self._server, self._port = server, port
        self._write_state(
            ServerRecord(
                server_pid=server.pid or 0,
                port=port,
                owner_pid=os.getpid(),
                owner_started=process_start_time(os.getpid()),
            )
        )

    def _joinable(self, record: ServerRecord) -> bool:
        """The recorded server is alive, owned by a live process, and takes our keys."""
        if not record.owner_alive() or not process_alive(record.server_pid):
            return False
        if not _answers(self._host, record.port):
            return False
        client = s3_client(
            f"http://{self._host}:{record.port}",
            self.credentials,
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=1,
            read_timeout=2,
        )
        try:
            client.list_buckets()
        except Exception:
            return False
        finally:
            client.close()
        return True

    def _clear(self, record: ServerRecord) -> None:
        """A record that is no good: stop its server unless its owner is alive."""
        if record.owner_alive():
            return  # its owner runs it (it may be answering slowly): never stop it
        if process_alive(record.server_pid) and stop_server(record.server_pid, self.root):
            log.info("stopped a local bucket server whose owner is gone (%d)", record.server_pid)
        with contextlib.suppress(OSError):
            (self.data_dir / STATE_FILE).unlink()

    def _stop_legacy_orphan(self) -> None:
        """An older version kept the server's pid alone; stop that server if nobody owns it
        any more (its parent is gone, so it was reparented)."""
        path = self.data_dir / LEGACY_PID_FILE
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            return
        if stop_server(pid, self.root, only_orphan=True):
            log.info("stopped a local bucket server left by an earlier version (pid %d)", pid)
        with contextlib.suppress(OSError):
            path.unlink()

    def _stable_port(self) -> int:
        path = self.data_dir / CONFIG_FILE
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            port = int(json.loads(path.read_text())["port"])
            if 1024 <= port <= 65535:
                return port
        port = free_loopback_port(self._host)
        with contextlib.suppress(OSError):
            path.write_text(json.dumps({"port": port}) + "\n")
        return port

    def _read_state(self) -> ServerRecord | None:
        try:
            return ServerRecord(**json.loads((self.data_dir / STATE_FILE).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _write_state(self, record: ServerRecord) -> None:
        path = self.data_dir / STATE_FILE
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(asdict(record)) + "\n")
            os.replace(tmp, path)
        except OSError as exc:
            log.info("could not record the local bucket server: %s", exc)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


def _answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as rclone (Go) binds
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False
