"""Reading a file once for its size, signature and SHA-256. Runs in a worker thread."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK_SIZE = 1 << 20  # hashlib releases the GIL for buffers this large


class Cancelled(Protocol):
    """Anything that says whether to stop (threading.Event, the pipeline's CancelFlag)."""

    def is_set(self) -> bool: ...


class FileCancelled(Exception):
    """The read was stopped because the file was cancelled."""


class FileChanged(Exception):
    """The file changed while it was being read."""


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What one pass over a file tells us. `head` holds its first bytes, for format detection."""

    size: int
    mtime_ns: int
    head: bytes
    sha256: str


def file_identity(path: Path) -> tuple[int, int]:
    """(size, mtime_ns) of a regular file, to notice changes between stages."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def inspect_file(path: Path, head_size: int, cancel: Cancelled | None = None) -> FileFacts:
    """Hash the whole file and keep its first `head_size` bytes.

    Raises OSError for unreadable files, FileCancelled when `cancel` is set, and
    FileChanged when size or mtime moved during the read (never hash a mix).
    """
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        before = os.fstat(f.fileno())
        if not stat.S_ISREG(before.st_mode):
            raise OSError(0, "not a regular file")
        head = b""
        while True:
            if cancel is not None and cancel.is_set():
                raise FileCancelled()
            chunk = f.read(CHUNK_SIZE)
            if not chunk:
                break
            if len(head) < head_size:
                head += chunk[: head_size - len(head)]
            digest.update(chunk)
        after = os.fstat(f.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        raise FileChanged()
    return FileFacts(
        size=after.st_size, mtime_ns=after.st_mtime_ns, head=head, sha256=digest.hexdigest()
    )
