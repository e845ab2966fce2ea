"""Which local server belongs to whom: stopping one an earlier session left running."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)

_STOP_GRACE_SECONDS = 5.0


def stop_orphaned_server(pid_file: Path, root: Path) -> bool:
    """Stop a server left running by an app that was killed (kill -9, a crash).

    rclone runs in its own session so it outlives such a death; without this, every
    crash would leave one more server on the same folder. Only a process that is still
    an rclone serving `root` is stopped (Linux: checked through /proc); returns whether
    one was.
    """
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return False
    finally:
        with contextlib.suppress(OSError):
            pid_file.unlink()
    if not any(b"rclone" in part for part in cmdline) or os.fsencode(str(root)) not in b" ".join(
        cmdline
    ):
        return False  # the pid was reused by something else: leave it alone
    log.info("Stopping a local bucket server left running by an earlier session (pid %s)", pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for another process to exit: nothing to await
        if process_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    return True


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (Linux /proc); an exited process nobody has reaped yet does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]
