"""Turn dropped files and folders into the list of candidate files.

Files are not filtered by extension here: the engine checks magic bytes, and anything
that cannot be uploaded shows up as a failed file with a reason, so nothing is skipped
silently. The only silent skips are things that are never a collector's photos:

- dotfiles and dot-folders inside a walked folder (.DS_Store, ._IMG.jpg, .git, .thumbnails);
- well-known junk: Thumbs.db, desktop.ini, Synology's @eaDir thumbnails, __MACOSX, ...;
- a folder already walked, e.g. a symlink looping back to an ancestor: its files are
  listed once already;
- the same file reached twice (given twice, via a symlink or a hard link).

Paths given explicitly are always reported, even dotfiles. Special files (FIFOs, sockets,
devices) are reported with a problem and never opened: opening a FIFO blocks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import os
import re
import stat
import threading
import time
from collections.abc import AsyncGenerator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_JUNK_FILES = frozenset({"thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini", "icon\r"})
_JUNK_FOLDERS = frozenset({"@eadir", "__macosx", "$recycle.bin", "system volume information"})

NOT_FOUND = "This path does not exist."
BROKEN_LINK = "This link points to a file that no longer exists."
LINK_LOOP = "This link points to itself or forms a loop."
INVALID_PATH = "This path is not valid."
FOLDER_PERMISSION = "The folder could not be read: permission denied."
DEVICE = "This is a device file, not a photo."

# A partial batch is handed over after this long, so a slow drive still shows progress.
_BATCH_MAX_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class WalkEntry:
    """One candidate file, or a path that cannot be uploaded and why (plain language)."""

    path: Path
    problem: str | None = None
    # The file's folder relative to what was given, that folder's own name first
    # ("Coins/1921"); "" for a file given on its own. Never the path above it.
    folder: str = field(default="", compare=False)


def _natural_key(name: str) -> tuple[tuple[tuple[int, int, str], ...], str]:
    """Sort "IMG_2" before "IMG_10"; case-insensitive, with the raw name as tie-break."""
    parts: list[tuple[int, int, str]] = []
    for run in re.findall(r"[0-9]+|[^0-9]+", name):
        if run[0].isdigit():
            digits = run.lstrip("0")
            parts.append((0, len(digits), digits))  # no int(): avoids digit-count limits
        else:
            parts.append((1, 0, run.casefold()))
    return tuple(parts), name


def is_junk(name: str, is_dir: bool) -> bool:
    if name.startswith("."):
        return True
    return name.casefold() in (_JUNK_FOLDERS if is_dir else _JUNK_FILES)


def _reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    return (error.strerror or str(error)).rstrip(".").lower()


def _special_file_problem(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "This is not a regular file (a named pipe)."
    if stat.S_ISSOCK(mode):
        return "This is not a regular file (a socket)."
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return DEVICE
    return "This is not a regular file."


def _follow_problem(path: str, error: OSError) -> str:
    """Why stat() following links failed on `path`, in plain language."""
    if error.errno == errno.ELOOP:
        return LINK_LOOP
    if isinstance(error, (FileNotFoundError, NotADirectoryError)):
        return BROKEN_LINK if os.path.lexists(path) else NOT_FOUND
    return f"This path could not be read: {_reason(error)}."


class _Walk:
    """One walk's memory of what it has already listed."""

    def __init__(self, stop: threading.Event | None) -> None:
        self._stop = stop
        self._files: set[object] = set()
        self._folders: set[object] = set()
        self._problems: set[str] = set()

    def stopped(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _identity(self, path: str, st: os.stat_result) -> object:
        if st.st_ino == 0:  # Windows DirEntry.stat() leaves it zero; ask the file itself
            with contextlib.suppress(OSError):
                st = os.stat(path)
        if st.st_ino == 0:
            return os.path.normcase(os.path.realpath(path))
        return (st.st_dev, st.st_ino)

    def _problem(self, path: str, problem: str) -> Iterator[WalkEntry]:
        key = os.path.abspath(path)
        if key not in self._problems:
            self._problems.add(key)
            yield WalkEntry(Path(path), problem)

    def _file(self, path: str, st: os.stat_result, folder: str = "") -> Iterator[WalkEntry]:
        identity = self._identity(path, st)
        if identity not in self._files:
            self._files.add(identity)
            yield WalkEntry(Path(path), folder=folder)

    def root(self, raw: object) -> Iterator[WalkEntry]:
        """An explicitly given path: always reported, whatever its name."""
        try:
            path = os.fspath(raw)  # type: ignore[call-overload]
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            st = os.stat(path)
        except (TypeError, ValueError):
            yield WalkEntry(Path(str(raw)), INVALID_PATH)
            return
        except OSError as error:
            yield from self._problem(path, _follow_problem(path, error))
            return
        if stat.S_ISDIR(st.st_mode):
            yield from self._folder(path, st)
        elif stat.S_ISREG(st.st_mode):
            yield from self._file(path, st)
        else:
            yield from self._problem(path, _special_file_problem(st.st_mode))

    def _list(self, folder: str) -> tuple[list[os.DirEntry[str]], str | None]:
        """The folder's entries in natural order, and a problem if it could not be read."""
        entries: list[os.DirEntry[str]] = []
        problem = None
        try:
            with os.scandir(folder) as iterator:
                for entry in iterator:
                    if self.stopped():
                        break
                    entries.append(entry)
        except OSError as error:
            problem = (
                FOLDER_PERMISSION
                if isinstance(error, PermissionError)
                else f"The folder could not be read: {_reason(error)}."
            )
        entries.sort(key=lambda entry: _natural_key(entry.name))
        return entries, problem

    def _folder(self, root: str, root_stat: os.stat_result) -> Iterator[WalkEntry]:
        """Depth-first, pre-order, without recursion (deep trees are fine)."""
        identity = self._identity(root, root_stat)
        if identity in self._folders:
            return
        self._folders.add(identity)
        above = os.path.dirname(os.path.normpath(root))  # folders are named from root's own
        entries, problem = self._list(root)
        if problem:
            yield from self._problem(root, problem)
        stack = [iter(entries)]
        while stack and not self.stopped():
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            if entry.name.startswith("."):
                continue  # dotfiles and dot-folders: no need to even stat them
            try:
                if entry.is_symlink():
                    st = os.stat(entry.path)
                else:
                    st = entry.stat(follow_symlinks=False)
            except OSError as error:
                if not is_junk(entry.name, is_dir=False):
                    yield from self._problem(entry.path, _follow_problem(entry.path, error))
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            if is_junk(entry.name, is_dir):
                continue
            if not is_dir:
                if stat.S_ISREG(st.st_mode):
                    folder = os.path.relpath(os.path.dirname(entry.path), above)
                    yield from self._file(entry.path, st, folder.replace(os.sep, "/"))
                else:
                    yield from self._problem(entry.path, _special_file_problem(st.st_mode))
                continue
            identity = self._identity(entry.path, st)
            if identity in self._folders:
                continue  # a loop back to an ancestor, or a folder listed already
            self._folders.add(identity)
            entries, problem = self._list(entry.path)
            if problem:
                yield from self._problem(entry.path, problem)
            stack.append(iter(entries))


def _walk(paths: Iterable[object], stop: threading.Event | None) -> Iterator[WalkEntry]:
    walk = _Walk(stop)
    for path in paths:
        if walk.stopped():
            return
        yield from walk.root(path)


def _next_batch(
    entries: Iterator[WalkEntry], batch_size: int, stop: threading.Event
) -> list[WalkEntry]:
    batch: list[WalkEntry] = []
    deadline = time.monotonic() + _BATCH_MAX_SECONDS
    for entry in entries:
        batch.append(entry)
        if len(batch) >= batch_size or stop.is_set() or time.monotonic() >= deadline:
            break
    return batch


async def walk_paths_in_batches(
    paths: Sequence[Path],
    executor: concurrent.futures.Executor,
    batch_size: int = 256,
) -> AsyncGenerator[list[WalkEntry], None]:
    """Walk in `executor` (a thread pool) and yield non-empty batches as they come.

    The event loop thread never touches the file system. If the consumer is cancelled or
    stops early, the walk stops at its next entry; it holds no open folder handles
    between batches, so nothing leaks. Use `contextlib.aclosing` when breaking out early
    so that happens at once rather than at garbage collection.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    entries = _walk(list(paths), stop)
    try:
        while True:
            batch = await loop.run_in_executor(executor, _next_batch, entries, batch_size, stop)
            if not batch:
                return
            yield batch
    finally:
        # A batch still running in the executor sees this and returns at its next entry;
        # `entries` is then dropped with it (no thread ever runs it concurrently).
        stop.set()
