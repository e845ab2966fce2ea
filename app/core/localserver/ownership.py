"""Processes, as far as ownership of a local server needs them (Linux: /proc)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)

_STOP_GRACE_SECONDS = 5.0


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (Linux /proc); an exited process nobody has reaped yet does not."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def process_start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot): with the pid, names one process even
    after its number is reused. None where /proc does not say."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields is not None else None
    except (IndexError, ValueError):
        return None


def parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    try:
        return int(fields[1]) if fields is not None else None
    except (IndexError, ValueError):
        return None


def serves(pid: int, root: Path) -> bool:
    """Whether `pid` is an rclone serving `root` (not a reused pid of something else)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    joined = b" ".join(cmdline)
    return any(b"rclone" in part for part in cmdline) and os.fsencode(str(root)) in joined


def is_orphan(pid: int) -> bool:
    """Its parent is gone: it was handed to init (or a subreaper), which is not our app."""
    parent = parent_of(pid)
    if parent is None or parent <= 1 or not process_alive(parent):
        return True
    try:
        cmdline = Path(f"/proc/{parent}/cmdline").read_bytes()
    except OSError:
        return True
    return b"python" not in cmdline and b"photo-uploader" not in cmdline


def stop_server(pid: int, root: Path, *, only_orphan: bool = False) -> bool:
    """Stop the rclone serving `root` as `pid` (SIGTERM, then SIGKILL after 5 s); with
    `only_orphan`, only when nobody owns it any more. Returns whether it was stopped.

    A pid that is no longer an rclone serving `root` is left alone: it was reused.
    """
    if not serves(pid, root) or (only_orphan and not is_orphan(pid)):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for another process to exit: nothing to await
        if process_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    return True


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: state, ppid, ... (field 3 onwards)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()
