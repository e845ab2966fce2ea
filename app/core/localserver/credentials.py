"""The local bucket's access key and secret: one pair per install, in a file only its
owner can read."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_ERROR_PREFIX = "The local test bucket could not start"
_KEY_RE = re.compile(r"^[A-Za-z0-9]{16,128}$")


class LocalServerError(Exception):
    """The local bucket could not start or be used. The message is one plain sentence."""


@dataclass(frozen=True)
class S3Credentials:
    """An access key and its secret. ``repr`` and ``str`` never show the secret."""

    access_key: str
    secret_key: str

    def __repr__(self) -> str:
        return f"S3Credentials(access_key={self.access_key!r}, secret_key='***')"


def load_or_create_credentials(path: Path) -> S3Credentials:
    """Read the install's local-bucket credentials from ``path``, making them the first time.

    The file is JSON (``{"access_key": ..., "secret_key": ...}``) with mode 0o600. It is
    written to a temporary file created with ``O_CREAT | O_EXCL`` and mode 0o600 (never
    readable by anyone else, not even for a moment) and then linked into place, so a
    reader sees either no file or a whole one, and two processes starting at once end up
    with the same credentials.

    A file that cannot be parsed is replaced by new credentials (logged as a warning)
    rather than reported as an error: rclone serves a plain folder, so nothing on disk
    depends on the old keys, and the app reads the keys from here each time it starts
    the server. A person could not repair the file anyway.
    """
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    existing = _read_credentials(path)
    if existing is not None:
        return existing
    creds = _generate_credentials()
    tmp = _write_private_temp(path, creds)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            # Another process made it first, or the file there is corrupt.
            existing = _read_credentials(path)
            if existing is not None:
                return existing
            log.warning("Replacing unreadable local bucket credentials at %s", path)
            os.replace(tmp, path)
        except OSError:
            # A file system without hard links: fall back to a plain atomic rename.
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return creds


def _generate_credentials() -> S3Credentials:
    upper = string.ascii_uppercase + string.digits
    alphabet = string.ascii_letters + string.digits
    access = "PU" + "".join(secrets.choice(upper) for _ in range(18))
    secret = "".join(secrets.choice(alphabet) for _ in range(40))
    return S3Credentials(access_key=access, secret_key=secret)


def _read_credentials(path: Path) -> S3Credentials | None:
    """The credentials in ``path``; None if there is no file or it is not usable."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LocalServerError(
            f"{_ERROR_PREFIX}: its key file {path} could not be read ({exc.strerror})."
        ) from exc
    try:
        data = json.loads(raw.decode("utf-8"))
        access, secret = data["access_key"], data["secret_key"]
    except (ValueError, KeyError, TypeError):
        return None
    if not (isinstance(access, str) and isinstance(secret, str)):
        return None
    if not (_KEY_RE.match(access) and _KEY_RE.match(secret)):
        return None
    _tighten_mode(path)
    return S3Credentials(access_key=access, secret_key=secret)


def _tighten_mode(path: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            log.warning("Making %s readable by its owner only", path)
            os.chmod(path, 0o600)


def _write_private_temp(path: Path, creds: S3Credentials) -> Path:
    body = json.dumps(
        {"access_key": creds.access_key, "secret_key": creds.secret_key}, indent=2
    ).encode("utf-8")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(10):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise LocalServerError(
                f"{_ERROR_PREFIX}: its key file {path} could not be written ({exc.strerror})."
            ) from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return tmp
    raise LocalServerError(f"{_ERROR_PREFIX}: its key file {path} could not be written.")
