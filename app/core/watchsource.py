"""Where a watched folder's events come from: watchdog's observers (inotify on Linux),
or its polling observer for folders on network drives, whose changes made on other
computers send no events here. Handlers run on watchdog's threads and pass plain
`Heard`s on; app.core.watch does the rest on the loop."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

#: File systems whose changes made elsewhere send no events here: these are polled.
NETWORK_FILE_SYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs",
        "lustre", "gpfs", "davfs", "fuse.sshfs", "fuse.rclone", "fuse.davfs2", "fuse.s3fs",
        "fuse.gvfsd-fuse", "fuse.glusterfs", "fuse.cryfs", "fuse.gocryptfs",
    }
)  # fmt: skip
#: Set (to anything but "0") to poll every folder, as for a network drive.
FORCE_POLLING_ENV = "PHOTO_UPLOADER_WATCH_POLLING"
STOP_WITHIN = 0.2  # seconds watchdog's threads take to notice they are stopped


@dataclass(frozen=True, slots=True)
class Heard:
    """One thing the file system said, as plain data for the loop."""

    root: str  # the watched folder it is under
    path: str
    done: bool = False  # closed after writing, or renamed into place
    gone: bool = False
    folder: bool = False  # a folder appeared (or events were lost): look through it


class EventSource(Protocol):
    """Starts and stops the observing of folders (watchdog's, or a fake in tests)."""

    def watch(self, root: str, *, polled: bool, hear: Callable[[Heard], None]) -> None: ...
    def unwatch(self, root: str) -> None: ...
    def stop(self) -> None: ...


class WatchdogSource:
    """watchdog's observers: inotify where it works, polling where it cannot see changes
    (network drives). Its handlers run on watchdog's threads and only pass `Heard`s on."""

    def __init__(self, poll_interval: float) -> None:
        self._poll_interval = poll_interval
        self._observers: dict[bool, Any] = {}
        self._watches: dict[str, tuple[Any, Any]] = {}
        self._lock = threading.Lock()
        self._stopped = False

    def watch(self, root: str, *, polled: bool, hear: Callable[[Heard], None]) -> None:
        """Raises OSError when the folder cannot be watched this way (no such folder,
        permission denied, the system's limit of inotify watches reached), or the
        source was stopped meanwhile (a watch set up on an I/O thread while its owner
        closed it must not leave an observer running)."""
        observer = self._observer(polled)
        handler = _Handler(root, hear)
        with self._lock:
            if self._stopped:
                raise OSError("the watch was stopped")
            self._watches[root] = (observer, observer.schedule(handler, root, recursive=True))

    def unwatch(self, root: str) -> None:
        with self._lock:
            found = self._watches.pop(root, None)
        if found is not None:
            observer, watch = found
            with contextlib.suppress(Exception):  # (already gone with its folder)
                observer.unschedule(watch)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            observers, self._observers = list(self._observers.values()), {}
            self._watches.clear()
        for observer in observers:
            observer.stop()
        for observer in observers:
            observer.join(5)

    def _observer(self, polled: bool) -> Any:
        with self._lock:
            if self._stopped:
                raise OSError("the watch was stopped")
            observer = self._observers.get(polled)
            if observer is None:
                # Full events: a file moved in from outside the folder comes as a move
                # (whole, in place), not as a creation to wait on.
                observer = PollingObserver(timeout=self._poll_interval) if polled else _native()
                observer.daemon = True
                observer.start()
                self._observers[polled] = observer
            return observer


def _native() -> Any:
    """The platform's observer; on Linux (inotify) with full events, where a file moved
    in from outside the watched folder is a move, not a creation."""
    try:
        return Observer(timeout=STOP_WITHIN, generate_full_events=True)  # type: ignore[call-arg]
    except TypeError:  # (macOS and Windows observers know no full events)
        return Observer(timeout=STOP_WITHIN)


class _Handler(FileSystemEventHandler):
    def __init__(self, root: str, hear: Callable[[Heard], None]) -> None:
        super().__init__()
        self._root = root
        self._hear = hear

    def on_any_event(self, event: Any) -> None:
        kind, is_dir = event.event_type, event.is_directory
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if getattr(event, "dest_path", "") else ""
        root = self._root
        if kind == "moved":  # (src is "" for one moved in from outside, dest for one out)
            if src:
                self._hear(Heard(root, src, gone=True, folder=is_dir))
            if dest:
                self._hear(Heard(root, dest, done=True, folder=is_dir))
        elif kind == "deleted":
            self._hear(Heard(root, src, gone=True, folder=is_dir))
        elif is_dir:
            if kind == "created":  # files written into it before it was watched: walk it
                self._hear(Heard(root, src, folder=True))
        elif kind in ("created", "modified"):
            # (watchdog makes up "created" for what a folder moved in holds: it is whole)
            self._hear(Heard(root, src, done=getattr(event, "is_synthetic", False)))
        elif kind == "closed":
            self._hear(Heard(root, src, done=True))
        elif kind == "events_lost":  # (the kernel's queue overflowed) look at all of it
            self._hear(Heard(root, root, folder=True))


def network_file_system(folder: str, mountinfo: str | None = None) -> str | None:
    """The network file system `folder` is on (Linux: /proc/self/mountinfo), or None."""
    if mountinfo is None:
        try:
            with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
                mountinfo = handle.read()
        except OSError:
            return None
    real = os.path.realpath(folder)
    best, kind = "", None
    for line in mountinfo.splitlines():
        fields_, _, rest = line.partition(" - ")
        parts, after = fields_.split(), rest.split()
        if len(parts) < 5 or not after:
            continue
        mount = parts[4].replace("\\040", " ")
        inside = real == mount or real.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, kind = mount, after[0]
    return kind if kind in NETWORK_FILE_SYSTEMS else None


def polling_reason(folder: str) -> str | None:
    """Why `folder` is polled rather than watched for events, or None."""
    if os.environ.get(FORCE_POLLING_ENV, "0") not in ("", "0"):
        return f"{FORCE_POLLING_ENV} is set"
    kind = network_file_system(folder)
    return f"a network drive ({kind})" if kind else None
