"""Watched folders: photos that appear in them are queued once they are complete.

A copy stand with a tethered camera writes each shot into a folder; so do scanners and
import tools. A photo is queued when it is whole: its writer closed it (or renamed it
into place) and it stayed the same for a moment, or, where no such event comes (network
drives, polled), its size and modification time stayed the same for a few seconds.
Temporary names (`*.part`, `*.tmp`, ...) wait until they are renamed; files without a
photo's extension (a capture program's settings, caches, `.xmp`) are left alone.

The watch survives restarts: when it starts, it looks through its folders and queues
what is not in the bucket yet, as the queue and the journal know it (a photo an earlier
run finished, unchanged since, is not queued again).

Events come from app.core.watchsource (watchdog: inotify, or polling on network drives)
as plain data; everything here runs on the loop, and every look at the disk on the I/O
threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import stat
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.core.formats import ALL_FORMATS, JPEG, PNG, extension_aliases
from app.core.journal import JournalRow
from app.core.models import FileState
from app.core.pipeline.intake import Enqueue
from app.core.policy import is_retryable
from app.core.walker import WalkEntry, is_junk, walk_paths_in_batches
from app.core.watchsource import EventSource, Heard, WatchdogSource, polling_reason

log = logging.getLogger(__name__)

#: Names a file has while it is being written or downloaded; it is taken once renamed.
TEMPORARY_SUFFIXES = (
    ".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".filepart", ".!ut",
    ".swp", ".lock",
)  # fmt: skip
PHOTO_EXTENSIONS = frozenset(
    ext for fmt in ALL_FORMATS for ext in (fmt.extension, *extension_aliases(fmt))
)
ENQUEUE_SLICE = 500  # files queued in one loop turn at most


@dataclass(frozen=True, slots=True)
class WatchTiming:
    """How long a file must stay the same before it is taken, and how often to look."""

    after_close: float = 0.5  # seconds unchanged after its writer closed or renamed it
    settle: float = 3.0  # seconds unchanged, in a polled folder (no close events there)
    unclosed: float = 30.0  # seconds unchanged, when written and never closed (held open)
    empty: float = 12.0  # an empty file is taken (and said to be empty) only after this
    tick: float = 0.25  # how often files waiting to settle are looked at
    poll_interval: float = 2.0  # how often a polled folder is compared with its last look
    recheck_missing: float = 5.0  # how often a folder that went away is looked for


def is_candidate(path: str, root: str) -> bool:
    """A file the watch takes: a photo's extension, no temporary or hidden name, not in
    a hidden or junk folder below the watched one (the walker's rules)."""
    folders = os.path.relpath(os.path.dirname(path), root).split(os.sep)
    if any(is_junk(part, True) for part in folders if part != "."):
        return False
    name = os.path.basename(path)
    lowered = name.lower()
    if name.startswith((".", "~")) or lowered.endswith(TEMPORARY_SUFFIXES):
        return False
    return os.path.splitext(lowered)[1] in PHOTO_EXTENSIONS


def folder_within(root: str, path: str) -> str:
    """The file's folder relative to the watched folder ("" for a file right in it): the
    first folder below the watched one names the item, as a dropped folder does."""
    rel = os.path.relpath(os.path.dirname(path), root)
    return "" if rel == "." else rel.replace(os.sep, "/")


# -- what to do with a file that has settled ------------------------------------------------


class Seen(Protocol):
    """What the queue or the journal knows of a path (FileOutcome and JournalRow)."""

    @property
    def state(self) -> FileState: ...
    @property
    def size(self) -> int | None: ...
    @property
    def mtime_ns(self) -> int | None: ...


class Decision(enum.Enum):
    QUEUE = "queue"
    SKIP = "skip"  # done already (or the collector's to retry): nothing to do
    LATER = "later"  # on its way in the queue: look again once it has finished


def decide(
    identity: tuple[int, int], in_queue: Seen | None, in_journal: JournalRow | None
) -> Decision:
    """Whether a settled file at a path goes into the queue.

    `identity` is its (size, mtime_ns) now; `in_queue` the newest file of the queue for
    that path, `in_journal` the journal's newest row for it at this
    destination when the queue has none. A file that changed since is always taken. An
    unchanged one is left alone when the queue shows it (its Retry is the collector's),
    and after a restart taken again only if its last run was cut off or failed in a way
    a retry may mend, and it was not removed from the list.
    """
    seen = in_queue if in_queue is not None else in_journal
    if seen is None:
        return Decision.QUEUE
    if in_queue is not None and not in_queue.state.is_final:
        return Decision.LATER
    if (seen.size, seen.mtime_ns) != identity:
        return Decision.QUEUE
    if in_queue is not None:
        return Decision.SKIP
    assert in_journal is not None
    if not in_journal.state.is_final:
        return Decision.QUEUE  # cut off: the queue carries on from where it stopped
    if in_journal.dismissed:
        return Decision.SKIP
    return Decision.QUEUE if is_retryable(in_journal) else Decision.SKIP


# -- status ---------------------------------------------------------------------------------


class WatchEvent(enum.Enum):
    WATCHING = "watching"  # events come (or, `polled`, it is compared every few seconds)
    MISSING = "missing"  # the folder is not there (an unplugged drive): looked for again
    FAILED = "failed"  # it cannot be watched at all (permission denied): `reason` says why


@dataclass(frozen=True, slots=True)
class WatchStatus:
    folder: Path
    event: WatchEvent
    polled: bool = False
    reason: str | None = None

    def describe(self) -> str:
        if self.event is WatchEvent.WATCHING:
            how = f" (looked at every few seconds: {self.reason})" if self.polled else ""
            return f"Watching {self.folder}{how}."
        if self.event is WatchEvent.MISSING:
            return (
                f"The watched folder {self.folder} is not there; it is watched again as "
                "soon as it is back."
            )
        return f"The folder {self.folder} cannot be watched: {self.reason}"


# -- the watch ------------------------------------------------------------------------------


class Lookup(Protocol):
    """What the queue and the journal know of paths (see UploadPipeline.fates_of)."""

    def __call__(
        self, paths: Sequence[Path]
    ) -> Awaitable[tuple[Mapping[Path, Seen], Mapping[Path, JournalRow]]]: ...


@dataclass(slots=True)
class _Settling:
    root: str
    quiet: float  # seconds it must stay the same
    heard_at: float
    identity: tuple[int, int] | None = None
    same_since: float = 0.0


@dataclass(slots=True)
class _Folder:
    path: Path
    root: str
    polled: bool = False
    polled_because: str | None = None
    watching: bool = False
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the folder watched
    checked_at: float = 0.0
    missing_since: float | None = None
    failed: str | None = None


def outermost(folders: Sequence[Path]) -> list[Path]:
    """The folders, without repeats and without any inside another (watched through
    it already: its photos would be heard twice, and named after either root)."""
    roots = list(dict.fromkeys(Path(os.path.abspath(f)) for f in folders))
    return [f for f in roots if not any(o != f and f.is_relative_to(o) for o in roots)]


class FolderWatch:
    """Watches folders and queues the photos that appear in them, once complete.

    `lookup` tells what the queue and the journal know of paths; `enqueue` queues walked
    entries with the journal rows for them (UploadPipeline.enqueue). `on_status` hears
    when a folder is watched, goes missing or cannot be watched. `source` is watchdog's
    observers unless a test gives its own; `clock` likewise.
    """

    def __init__(
        self,
        folders: Sequence[Path],
        *,
        io: Executor,
        lookup: Lookup,
        enqueue: Enqueue,
        timing: WatchTiming = WatchTiming(),
        on_status: Callable[[WatchStatus], None] = lambda _status: None,
        source: EventSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._folders = [_Folder(f, str(f)) for f in outermost(folders)]
        self._io = io
        self._lookup = lookup
        self._enqueue = enqueue
        self.timing = timing
        self._on_status = on_status
        self._source = source or WatchdogSource(timing.poll_interval)
        self._clock = clock
        self._settling: dict[str, _Settling] = {}
        self._walks: list[tuple[str, str]] = []  # (root, folder) to look through
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.looks = 0  # times the files waiting to settle were looked at (for tests)

    @property
    def folders(self) -> list[Path]:
        return [f.path for f in self._folders]

    @property
    def waiting(self) -> int:
        """Files seen and not yet complete (still being written, or settling)."""
        return len(self._settling)

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="watch-folders")
        return self._task

    async def aclose(self) -> None:
        """Stop watching; files already queued carry on in the queue. Never raises: a
        watch that broke off said so (and logged it) when it did."""
        task, self._task = self._task, None
        self._loop = None  # events still on their way are dropped
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        loop = asyncio.get_running_loop()
        with contextlib.suppress(TimeoutError):  # watchdog's threads end within a second
            await asyncio.wait_for(loop.run_in_executor(self._io, self._source.stop), 10)

    # -- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                await self._attend_folders()
                await self._look_through()
                await self._take_settled()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._next_wait())
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not end the watch in silence
            log.exception("watching folders broke off")
            for folder in self._folders:
                self._tell(WatchStatus(folder.path, WatchEvent.FAILED, reason=_BROKE_OFF))
            raise

    def _next_wait(self) -> float:
        if self._walks:
            return 0.0
        if self._settling:
            return self.timing.tick
        return self.timing.recheck_missing

    async def _attend_folders(self) -> None:
        """Start watching each folder that is there and not watched yet; say so when one
        is missing. A folder is looked through when its watch starts, after the watch
        is in place, so nothing written meanwhile is missed."""
        for folder in self._folders:
            if folder.watching:
                await self._check_still_there(folder)
            if folder.watching or folder.failed:
                continue
            now = self._clock()
            if folder.missing_since is not None and now - folder.missing_since < (
                self.timing.recheck_missing
            ):
                continue
            started = await self._run_io(self._start_watching, folder)
            if started is None:
                folder.watching, folder.missing_since = True, None
                folder.checked_at = now
                self._walks.append((folder.root, folder.root))
                status = WatchStatus(
                    folder.path, WatchEvent.WATCHING, folder.polled, folder.polled_because
                )
                self._tell(status)
            elif started == "missing":
                if folder.missing_since is None:
                    self._tell(WatchStatus(folder.path, WatchEvent.MISSING))
                folder.missing_since = now
            else:
                folder.failed = started
                self._tell(WatchStatus(folder.path, WatchEvent.FAILED, reason=started))

    async def _check_still_there(self, folder: _Folder) -> None:
        """Every few seconds: is the folder watched still the one there? An unplugged
        card, or a parent folder renamed, sends no event for the folder itself; its
        watch then hears nothing more. It is looked for again, and watched anew."""
        now = self._clock()
        if now - folder.checked_at < self.timing.recheck_missing:
            return
        folder.checked_at = now
        if await self._run_io(_folder_identity, folder.root) != folder.identity:
            self._lost(Heard(folder.root, folder.root, gone=True, folder=True))

    def _start_watching(self, folder: _Folder) -> str | None:
        """(I/O thread.) None once watched; "missing", or why it cannot be watched."""
        folder.identity = _folder_identity(folder.root)
        if folder.identity is None:
            return "missing"
        if not os.access(folder.root, os.R_OK | os.X_OK):
            return "permission denied."
        folder.polled_because = polling_reason(folder.root)
        folder.polled = folder.polled_because is not None
        try:
            self._source.watch(folder.root, polled=folder.polled, hear=self._hear_threadsafe)
        except OSError as exc:
            if folder.polled or not os.path.isdir(folder.root):
                return "missing" if not os.path.isdir(folder.root) else _describe(exc)
            log.warning("cannot watch %s with inotify (%s); polling it", folder.root, exc)
            folder.polled, folder.polled_because = True, _describe(exc).rstrip(".")
            try:
                self._source.watch(folder.root, polled=True, hear=self._hear_threadsafe)
            except OSError as again:
                return _describe(again)
        return None

    # -- what the file system says -------------------------------------------------------

    def _hear_threadsafe(self, heard: Heard) -> None:
        """(watchdog's thread.) Hand it to the loop."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the watch is over
                loop.call_soon_threadsafe(self._hear, heard)

    def _hear(self, heard: Heard) -> None:
        now = self._clock()
        if heard.folder and not heard.gone:
            self._walks.append((heard.root, heard.path))
        elif heard.gone:
            self._settling.pop(heard.path, None)
            if heard.path == heard.root or heard.folder:
                self._lost(heard)
        elif is_candidate(heard.path, heard.root):
            quiet = self._quiet(heard)
            settling = self._settling.get(heard.path)
            if settling is None:
                self._settling[heard.path] = _Settling(heard.root, quiet, now)
            else:
                settling.heard_at = now
                settling.quiet = quiet if heard.done else max(settling.quiet, quiet)
        self._wake.set()

    def _quiet(self, heard: Heard) -> float:
        """How long a file must stay the same before it is taken: a moment once its
        writer closed it; where close events come (not polled), a file written and not
        closed is still being written, so only a long pause takes it."""
        if heard.done:
            return self.timing.after_close
        polled = any(f.polled for f in self._folders if f.root == heard.root)
        return self.timing.settle if polled else self.timing.unclosed

    def _lost(self, heard: Heard) -> None:
        """A folder went away: files waiting in it go; the watched folder itself is
        looked for again until it is back."""
        prefix = heard.path.rstrip("/") + "/"
        for path in [p for p in self._settling if p.startswith(prefix)]:
            del self._settling[path]
        for folder in self._folders:
            if folder.root == heard.path and folder.watching:
                folder.watching = False
                folder.missing_since = self._clock()
                # (On an I/O thread: watchdog waits for the folder's thread to end.)
                asyncio.get_running_loop().run_in_executor(
                    self._io, self._source.unwatch, folder.root
                )
                self._tell(WatchStatus(folder.path, WatchEvent.MISSING))

    async def _look_through(self) -> None:
        """Walk the folders asked for (a watch's start, a folder that appeared): every
        photo in them settles as if just closed."""
        while self._walks:
            root, folder = self._walks.pop(0)
            now = self._clock()
            async with contextlib.aclosing(
                walk_paths_in_batches([Path(folder)], self._io)
            ) as batches:
                async for batch in batches:
                    for entry in batch:
                        path = str(entry.path)
                        if entry.problem or not is_candidate(path, root):
                            continue
                        if path not in self._settling:
                            quiet = self.timing.after_close
                            self._settling[path] = _Settling(root, quiet, now)

    async def _take_settled(self) -> None:
        """Queue the files that stayed the same long enough (see `decide`)."""
        self.looks += 1
        now = self._clock()
        heard = {p: s.heard_at for p, s in self._settling.items() if now - s.heard_at >= s.quiet}
        if not heard:
            return
        identities = await self._run_io(_identities, list(heard))
        now = self._clock()
        settled: dict[str, tuple[int, int]] = {}
        for path, heard_at in heard.items():
            settling = self._settling.get(path)
            if settling is None or settling.heard_at != heard_at:
                continue  # gone, or written to again, while it was looked at
            found = identities.get(path)
            if found is None:
                del self._settling[path]  # gone, or not a regular file
                continue
            size, mtime_ns, whole = found
            identity = (size, mtime_ns)
            if identity != settling.identity:
                # Unchanged since it was last heard of, as far as this look knows; a
                # second look that agrees takes it (the quiet time counts from then).
                settling.identity, settling.same_since = identity, heard_at
            elif now - settling.same_since >= settling.quiet and (
                size > 0 or now - settling.same_since >= self.timing.empty
            ):
                if not whole and settling.quiet < self.timing.unclosed:
                    settling.quiet = self.timing.unclosed  # (its writer may be back)
                    continue
                settled[path] = identity
        if settled:
            await self._queue(settled, {p: heard[p] for p in settled})

    async def _queue(self, settled: dict[str, tuple[int, int]], heard: dict[str, float]) -> None:
        paths = [Path(p) for p in settled]
        in_queue, in_journal = await self._lookup(paths)
        entries: list[WalkEntry] = []
        for path in paths:
            key = str(path)
            settling = self._settling.get(key)
            if settling is None or settling.heard_at != heard[key]:
                continue  # (changed or went while the queue and journal were asked)
            decision = decide(settled[key], in_queue.get(path), in_journal.get(path))
            if decision is Decision.LATER:
                settling.heard_at = self._clock()  # looked at again a moment later
                settling.identity = None
                continue
            del self._settling[key]
            if decision is Decision.QUEUE:
                entries.append(WalkEntry(path, folder=folder_within(settling.root, key)))
        for start in range(0, len(entries), ENQUEUE_SLICE):
            self._enqueue(entries[start : start + ENQUEUE_SLICE], in_journal)
            await asyncio.sleep(0)

    # -- helpers -------------------------------------------------------------------------

    async def _run_io(self, func: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._io, func, *args)

    def _tell(self, status: WatchStatus) -> None:
        try:
            self._on_status(status)
        except Exception:
            log.exception("an observer of the watch failed: %r", self._on_status)


_BROKE_OFF = "watching stopped on an unexpected error; see the log."


def _identities(paths: list[str]) -> dict[str, tuple[int, int, bool]]:
    """(I/O thread.) Size, modification time and `has_its_end` of each regular file
    among `paths`."""
    found = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        found[path] = (st.st_size, st.st_mtime_ns, has_its_end(path))
    return found


_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_EXTENSIONS = frozenset({JPEG.extension, *extension_aliases(JPEG)})
_PNG_EXTENSIONS = frozenset({PNG.extension, *extension_aliases(PNG)})


def has_its_end(path: str) -> bool:
    """False for a JPEG or PNG (by name) whose last bytes are not its end marker: most
    likely still being written (a writer that closes the file between bursts). Other
    formats have no end marker to look for: True."""
    extension = os.path.splitext(path)[1].lower()
    jpeg = extension in _JPEG_EXTENSIONS
    if not jpeg and extension not in _PNG_EXTENSIONS:
        return True
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64))
            tail = handle.read()
    except OSError:
        return True  # unreadable: the upload says why
    if jpeg:
        return tail.rstrip(b"\x00").endswith(b"\xff\xd9") or _has_a_trailer(path, tail)
    return tail.endswith(_PNG_END)


_TRAILER_MARKS = (b"MotionPhoto", b"MicroVideo")  # in the XMP of a JPEG + MP4 photo


def _has_a_trailer(path: str, tail: bytes) -> bool:
    """A phone's JPEG that carries more after its end: a Motion Photo's video (Pixel,
    Samsung; its XMP says so near the start) or Samsung's own trailer ("SEFT")."""
    if tail.endswith(b"SEFT"):
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(256 * 1024)
    except OSError:
        return True
    return any(mark in head for mark in _TRAILER_MARKS)


def _folder_identity(folder: str) -> tuple[int, int] | None:
    """(I/O thread.) (st_dev, st_ino) of a folder, or None when there is none."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def _describe(exc: OSError) -> str:
    if exc.errno == 28:  # ENOSPC from inotify_add_watch: the per-user limit of watches
        return (
            "the system's limit of watched folders is reached (raise fs.inotify.max_user_watches)."
        )
    if isinstance(exc, PermissionError):
        return "permission denied."
    return (exc.strerror or str(exc)).rstrip(".") + "."
