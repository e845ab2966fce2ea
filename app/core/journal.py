"""The journal: a small SQLite database of every queued file and what became of it.

A crash, a `kill -9` or a quit mid-batch must not lose the queue. The pipeline records
each file's stage results here (path, size, mtime, SHA-256, keys, states, errors, what is
in the bucket, where it was going); the next start reads them back to show the queue again
and to finish it without sending anything twice (see `UploadPipeline.restore`).

Threads. Every SQLite call runs on the journal's own single thread: the connection is made
there and never leaves it, and nothing here ever runs on the GUI thread. The pipeline never
waits for it either: `JournalRecorder`, on the asyncio loop, collects plain `JournalRow`s
(the latest per file) and hands them over as one transaction at most every
`FLUSH_INTERVAL` seconds.

Durability. WAL mode with `synchronous=NORMAL`: a commit is in the operating system's
hands once written, so it survives the app being killed; only a power cut may lose the
last few transactions. That costs at most a file checked again, never a wrong result: the
bucket's content-hash index stays the source of truth for what is uploaded. A kill lands
at most `FLUSH_INTERVAL` after the last write, so the journal may lag a file by a stage;
the one thing that must not lag is a multipart upload's key (its parts stay on the server
until aborted), so the pipeline writes that ahead and waits for it.

Failure. Any error from SQLite or the file system (disk full, unwritable folder, damaged
file) switches the journal off for the rest of the run; `problem` holds one sentence to
show once. Uploads never depend on the journal. A damaged file found at start is moved
aside (``journal.sqlite3.damaged-<time>``) and a new journal is started.

Size. At start, finished rows older than `MAX_AGE_DAYS` or beyond the newest
`MAX_FINISHED_ROWS` are deleted; every query has an index, so months of use never slow
the app down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from app.core.config import Destination
from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.core.paths import data_dir
from app.core.threads import BackgroundThreadPool

log = logging.getLogger(__name__)
T = TypeVar("T")

JOURNAL_FILE = "journal.sqlite3"
SCHEMA_VERSION = 1
FLUSH_INTERVAL = 0.1  # seconds: at most one write transaction this often
MAX_FINISHED_ROWS = 50_000
MAX_AGE_DAYS = 180
# The window shows at most this many finished files from earlier sessions (newest first);
# unfinished ones always come back.
RESTORE_FINISHED_LIMIT = 2_000
_LOOKUP_CHUNK = 500  # SQLite's default limit on bound parameters is 999 (older builds)
_BUSY_TIMEOUT_S = 5.0
_WAL_SIZE_LIMIT = 4 * 1024 * 1024

ORIGIN_GUI = "gui"
ORIGIN_CLI = "cli"

PROBLEM_SUFFIX = "Uploads carry on, but this queue will not come back after a restart."


def destination_identity(destination: Destination) -> str:
    """Where files go, as the journal compares it: bucket, endpoint and prefix.

    A labelled destination (the local test bucket) is named by its label, since its
    endpoint is a new loopback port on every start.
    """
    endpoint = f"label:{destination.label}" if destination.label else destination.endpoint_url
    return json.dumps([destination.bucket, endpoint or "", destination.prefix])


@dataclass(slots=True)
class JournalRow:
    """One file as the journal holds it: plain data, passed between threads.

    `path` is absolute. `row_id` is unique across runs and processes (see
    `Journal.row_id`). `finished_at` is set when `state` is final.

    Never changed once made (use `dataclasses.replace`). Not frozen only because the
    pipeline makes one per state change on the loop, and a frozen one costs 3x as much.
    """

    row_id: int
    path: Path
    state: FileState
    destination: str
    bucket: str
    queued_at: float
    updated_at: float
    thumbnail_state: ThumbnailState = ThumbnailState.PENDING
    size: int | None = None
    mtime_ns: int | None = None
    sha256: str | None = None
    content_type: str | None = None
    key: str | None = None
    thumbnail_key: str | None = None
    error: str | None = None
    thumbnail_error: str | None = None
    original_in_bucket: bool = False
    thumbnail_in_bucket: bool = False
    index_in_bucket: bool = False
    dismissed: bool = False
    origin: str = field(default="", compare=False)

    @property
    def finished_at(self) -> float | None:
        return self.updated_at if self.state.is_final else None

    def to_snapshot(self, file_id: int = 0) -> FileSnapshot:
        """The row as the CLI and the window show a file (keys only where they apply)."""
        return FileSnapshot(
            file_id=file_id,
            path=self.path,
            state=self.state,
            size=self.size,
            bytes_total=self.size or 0,
            bytes_sent=(self.size or 0) if self.original_in_bucket else 0,
            key=self.key if self.state is not FileState.FAILED or self.original_in_bucket else None,
            thumbnail_key=self.thumbnail_key
            if self.thumbnail_in_bucket or self.state is FileState.DUPLICATE
            else None,
            thumbnail_state=self.thumbnail_state,
            thumbnail_error=self.thumbnail_error,
            error=self.error,
            sha256=self.sha256,
            content_type=self.content_type,
            bucket=self.bucket,
        )

    def to_json_dict(self) -> dict[str, Any]:
        """The upload command's JSON record for this file, plus `timestamp` (ISO 8601)."""
        record = self.to_snapshot().to_json_dict()
        record["path"] = os.fsencode(self.path).decode("utf-8", "backslashreplace")
        stamp = datetime.fromtimestamp(self.updated_at).astimezone()
        record["timestamp"] = stamp.isoformat(timespec="seconds")
        return record


_COLUMNS = (
    "id",
    "origin",
    "path",
    "state",
    "thumbnail_state",
    "destination",
    "bucket",
    "queued_at",
    "updated_at",
    "finished_at",
    "size",
    "mtime_ns",
    "sha256",
    "content_type",
    "key",
    "thumbnail_key",
    "error",
    "thumbnail_error",
    "original_in_bucket",
    "thumbnail_in_bucket",
    "index_in_bucket",
    "dismissed",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM files"
_UPSERT = (
    f"INSERT INTO files ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)}) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("id", "origin", "queued_at"))
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    path BLOB NOT NULL,
    state TEXT NOT NULL,
    thumbnail_state TEXT NOT NULL,
    destination TEXT NOT NULL,
    bucket TEXT NOT NULL,
    queued_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL,
    size INTEGER,
    mtime_ns INTEGER,
    sha256 TEXT,
    content_type TEXT,
    key TEXT,
    thumbnail_key TEXT,
    error TEXT,
    thumbnail_error TEXT,
    original_in_bucket INTEGER NOT NULL DEFAULT 0,
    thumbnail_in_bucket INTEGER NOT NULL DEFAULT 0,
    index_in_bucket INTEGER NOT NULL DEFAULT 0,
    dismissed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS files_open ON files (origin, queued_at) WHERE finished_at IS NULL;
CREATE INDEX IF NOT EXISTS files_finished ON files (finished_at);
CREATE INDEX IF NOT EXISTS files_failed ON files (finished_at) WHERE state = 'failed';
CREATE INDEX IF NOT EXISTS files_path ON files (path, destination);
"""


def _to_params(row: JournalRow, origin: str) -> tuple[Any, ...]:
    return (
        row.row_id,
        origin,
        os.fsencode(row.path),
        row.state.value,
        row.thumbnail_state.value,
        row.destination,
        row.bucket,
        row.queued_at,
        row.updated_at,
        row.finished_at,
        row.size,
        row.mtime_ns,
        row.sha256,
        row.content_type,
        row.key,
        row.thumbnail_key,
        row.error,
        row.thumbnail_error,
        int(row.original_in_bucket),
        int(row.thumbnail_in_bucket),
        int(row.index_in_bucket),
        int(row.dismissed),
    )


def _from_db(values: Sequence[Any]) -> JournalRow | None:
    """A row read back; None for one this version cannot understand (skipped, not fatal)."""
    (
        row_id,
        origin,
        path,
        state,
        thumbnail_state,
        destination,
        bucket,
        queued_at,
        updated_at,
        _finished_at,
        size,
        mtime_ns,
        sha256,
        content_type,
        key,
        thumbnail_key,
        error,
        thumbnail_error,
        original,
        thumbnail,
        index,
        dismissed,
    ) = values
    try:
        return JournalRow(
            row_id=int(row_id),
            origin=str(origin),
            path=Path(os.fsdecode(bytes(path))),
            state=FileState(state),
            thumbnail_state=ThumbnailState(thumbnail_state),
            destination=str(destination),
            bucket=str(bucket),
            queued_at=float(queued_at),
            updated_at=float(updated_at),
            size=size,
            mtime_ns=mtime_ns,
            sha256=sha256,
            content_type=content_type,
            key=key,
            thumbnail_key=thumbnail_key,
            error=error,
            thumbnail_error=thumbnail_error,
            original_in_bucket=bool(original),
            thumbnail_in_bucket=bool(thumbnail),
            index_in_bucket=bool(index),
            dismissed=bool(dismissed),
        )
    except (TypeError, ValueError):
        return None


class _NewerJournal(sqlite3.DatabaseError):
    """Left alone (not set aside as damaged): the newer app still wants it."""


def _error_name(exc: BaseException) -> str:
    return str(getattr(exc, "sqlite_errorname", ""))


def _is_damage(exc: BaseException) -> bool:
    return _error_name(exc) in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or (
        type(exc) is sqlite3.DatabaseError
    )


def _is_busy(exc: BaseException) -> bool:
    return _error_name(exc).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def describe_problem(exc: BaseException, path: Path) -> str:
    """One sentence for the user about a journal that cannot be used."""
    name = _error_name(exc)
    if name.startswith("SQLITE_FULL") or getattr(exc, "errno", None) == 28:  # ENOSPC
        reason = "the disk is full"
    elif name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or isinstance(
        exc, PermissionError
    ):
        reason = "it cannot be written"
    elif _is_damage(exc):
        reason = "it is damaged"
    elif isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror.lower()
    else:
        reason = str(exc).rstrip(".") or type(exc).__name__
    return f"The upload journal at {path} cannot be used ({reason}). {PROBLEM_SUFFIX}"


class Journal:
    """The SQLite journal, used from any thread; every call runs on its own single thread.

    Make one with `open_journal`, which never raises: a journal that cannot be opened
    comes back disabled, with `problem` set. Public methods return futures (or, with
    a `_sync` suffix, block): reads on a disabled journal return nothing.

    Attributes:
        path: the database file.
        origin: who writes ("gui" or "cli"); the window restores only its own queue.
        run_id: this run's number (0 when disabled); see `row_id`.
        problem: one sentence once the journal is off, else None.
        notice: one sentence when a damaged journal was set aside at start, else None.
    """

    def __init__(
        self,
        path: Path,
        *,
        origin: str,
        max_finished_rows: int = MAX_FINISHED_ROWS,
        max_age_days: float = MAX_AGE_DAYS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.origin = origin
        self.run_id = 0
        self.problem: str | None = None
        self.notice: str | None = None
        self._max_finished_rows = max_finished_rows
        self._max_age_days = max_age_days
        self._clock = clock
        self._db: sqlite3.Connection | None = None
        self._pool = BackgroundThreadPool(max_workers=1, thread_name_prefix="journal")
        self._closed = False

    # -- opening and closing -----------------------------------------------------------

    def open_sync(self, *, for_reading: bool = False) -> Journal:
        """Open (creating if needed), prune and start this run; on failure the journal is
        disabled. `for_reading`: just open (no pruning, no repair, no run recorded)."""
        self._submit(self._open, for_reading).result()
        return self

    def close(self) -> Future[None]:
        """Close the database once everything submitted before has run."""
        if self._closed:
            done: Future[None] = Future()
            done.set_result(None)
            return done
        self._closed = True
        future = self._pool.submit(self._close)
        self._pool.shutdown(wait=False)
        return future

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def row_id(self, file_id: int) -> int:
        """A row id no other run or process uses: this run's number, then the file's."""
        return (self.run_id << 32) | file_id

    # -- reading and writing (each returns a Future) ----------------------------------

    def write(self, rows: Sequence[JournalRow]) -> Future[bool]:
        """Insert or update rows in one transaction. False: the database was busy (another
        process held it for seconds); the caller may try again later. A failure of any
        other kind disables the journal and sets `problem`."""
        return self._submit(self._write, list(rows))

    def queue(
        self, origin: str | None = None, *, finished_limit: int = RESTORE_FINISHED_LIMIT
    ) -> Future[list[JournalRow]]:
        """The queue to show again, oldest first: every unfinished row of `origin` (default:
        this journal's), and its newest `finished_limit` finished rows, none dismissed."""
        return self._submit(self._queue, origin or self.origin, finished_limit)

    def latest(self, paths: Iterable[Path], destination: str) -> Future[dict[Path, JournalRow]]:
        """The newest row for each absolute path sent to `destination`, where there is one."""
        return self._submit(self._latest, list(paths), destination)

    def history(
        self, *, limit: int | None = 100, failed_only: bool = False
    ) -> Future[list[JournalRow]]:
        """Finished rows, newest first."""
        return self._submit(self._history, limit, failed_only)

    # -- on the journal thread --------------------------------------------------------

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        if self._closed:
            raise RuntimeError("the journal is closed")
        return self._pool.submit(fn, *args)

    def _open(self, for_reading: bool) -> None:
        try:
            self._connect_and_prepare(for_reading)
            return
        except (sqlite3.Error, OSError) as exc:
            self._drop_connection()
            if for_reading or not _is_damage(exc):
                self._disable(exc)
                return
            log.info("the journal %s is damaged (%s); starting a new one", self.path, exc)
        try:
            aside = self._set_aside()
            self.notice = (
                f"The upload journal was damaged, so it was moved to {aside} and a new one "
                "started; files queued before may not come back."
            )
            self._connect_and_prepare(for_reading)
        except (sqlite3.Error, OSError) as exc:
            self._drop_connection()
            self._disable(exc)

    def _connect_and_prepare(self, for_reading: bool) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        self._db = db
        with contextlib.suppress(OSError):
            os.chmod(self.path, 0o600)  # paths and keys are the owner's business
        db.execute("PRAGMA journal_mode = WAL")  # a file system without WAL keeps its default
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute(f"PRAGMA journal_size_limit = {_WAL_SIZE_LIMIT}")
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version not in (0, SCHEMA_VERSION):
            raise _NewerJournal(f"schema {version} is from a newer version of the app")
        db.executescript(_SCHEMA)  # each statement on its own; all are IF NOT EXISTS
        if version == 0:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if for_reading:
            return
        with self._transaction(db):
            self._prune(db)
            cursor = db.execute(
                "INSERT INTO runs (origin, pid, started_at) VALUES (?, ?, ?)",
                (self.origin, os.getpid(), self._clock()),
            )
            self.run_id = int(cursor.lastrowid or 0)

    @contextlib.contextmanager
    def _transaction(self, db: sqlite3.Connection) -> Iterator[None]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _prune(self, db: sqlite3.Connection) -> None:
        """Forget rows older than the age limit (finished or abandoned) and finished rows
        beyond the newest `max_finished_rows`."""
        cutoff = self._clock() - self._max_age_days * 86400
        db.execute("DELETE FROM files WHERE updated_at < ?", (cutoff,))
        db.execute("DELETE FROM runs WHERE started_at < ?", (cutoff,))
        (finished,) = db.execute(
            "SELECT count(*) FROM files WHERE finished_at IS NOT NULL"
        ).fetchone()
        excess = finished - self._max_finished_rows
        if excess > 0:
            db.execute(
                "DELETE FROM files WHERE id IN (SELECT id FROM files "
                "WHERE finished_at IS NOT NULL ORDER BY finished_at, id LIMIT ?)",
                (excess,),
            )

    def _set_aside(self) -> Path:
        aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            source = self.path.with_name(self.path.name + suffix)
            if source.exists():
                os.replace(source, aside.with_name(aside.name + suffix))
        return aside

    def _disable(self, exc: BaseException) -> None:
        if self.problem is None:
            self.problem = describe_problem(exc, self.path)
            # INFO: the user hears of it once, through `problem`; on the command line a
            # WARNING would reach stderr as well (logging's last-resort handler).
            log.info("the journal is off for this run: %s", exc, exc_info=exc)
        self._drop_connection()

    def _drop_connection(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    def _close(self) -> None:
        db = self._db
        if db is None:
            return
        with contextlib.suppress(sqlite3.Error):
            db.execute("PRAGMA optimize")
        self._drop_connection()

    def _write(self, rows: list[JournalRow]) -> bool:
        db = self._db
        if db is None or not rows:
            return True
        try:
            with self._transaction(db):
                db.executemany(_UPSERT, [_to_params(row, self.origin) for row in rows])
        except (sqlite3.Error, OSError) as exc:
            if _is_busy(exc):
                log.info("the journal was busy; %d updates wait for the next write", len(rows))
                return False
            self._disable(exc)
        return True

    def _read(self, sql: str, params: Sequence[Any]) -> list[JournalRow]:
        db = self._db
        if db is None:
            return []
        try:
            found = db.execute(sql, params).fetchall()
        except (sqlite3.Error, OSError) as exc:
            if not _is_busy(exc):
                self._disable(exc)
            return []
        return [row for row in map(_from_db, found) if row is not None]

    def _queue(self, origin: str, finished_limit: int) -> list[JournalRow]:
        unfinished = self._read(
            f"{_SELECT} WHERE origin = ? AND finished_at IS NULL AND dismissed = 0",
            (origin,),
        )
        finished = self._read(
            f"{_SELECT} WHERE finished_at IS NOT NULL AND origin = ? AND dismissed = 0 "
            "ORDER BY finished_at DESC LIMIT ?",
            (origin, finished_limit),
        )
        return sorted(unfinished + finished, key=lambda row: (row.queued_at, row.row_id))

    def _latest(self, paths: list[Path], destination: str) -> dict[Path, JournalRow]:
        newest: dict[Path, JournalRow] = {}
        for start in range(0, len(paths), _LOOKUP_CHUNK):
            chunk = [os.fsencode(p) for p in paths[start : start + _LOOKUP_CHUNK]]
            marks = ", ".join("?" for _ in chunk)
            for row in self._read(
                f"{_SELECT} WHERE path IN ({marks}) AND destination = ?", (*chunk, destination)
            ):
                best = newest.get(row.path)
                if best is None or (row.updated_at, row.row_id) > (best.updated_at, best.row_id):
                    newest[row.path] = row
        return newest

    def _history(self, limit: int | None, failed_only: bool) -> list[JournalRow]:
        where = "state = 'failed'" if failed_only else "finished_at IS NOT NULL"
        return self._read(
            f"{_SELECT} WHERE {where} ORDER BY finished_at DESC, id DESC LIMIT ?",
            (-1 if limit is None else limit,),
        )


def default_journal_path() -> Path:
    return data_dir() / JOURNAL_FILE


def open_journal(
    origin: str,
    path: Path | None = None,
    *,
    for_reading: bool = False,
    **limits: Any,
) -> Journal:
    """Open the journal (default: in the data folder). Blocks briefly: call it off the GUI
    thread. Never raises: check `problem` (and `enabled`) on what comes back."""
    try:
        path = path or default_journal_path()
    except OSError as exc:  # the data folder itself cannot be made
        journal = Journal(Path(exc.filename or ".") / JOURNAL_FILE, origin=origin, **limits)
        journal.problem = describe_problem(exc, journal.path)
        return journal
    return Journal(path, origin=origin, **limits).open_sync(for_reading=for_reading)


class JournalRecorder:
    """The pipeline's side of the journal, on the asyncio loop: keeps the latest row per
    file and writes what is pending at most once per `interval`, one batch in flight.

    `on_problem` is called on the loop with the journal's one sentence when it is (or
    becomes) unusable, once; and once with its notice if a damaged file was set aside.
    """

    def __init__(
        self,
        journal: Journal,
        *,
        interval: float = FLUSH_INTERVAL,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.journal = journal
        self._loop = asyncio.get_running_loop()
        self._interval = interval
        self._on_problem = on_problem
        self._pending: dict[int, JournalRow] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: asyncio.Future[bool] | None = None
        self._last_write = float("-inf")
        self._reported = False
        self._noticed = False
        self._closed = False
        self._check_problem()

    @property
    def enabled(self) -> bool:
        return self.journal.enabled and not self._closed

    def row_id(self, file_id: int) -> int:
        return self.journal.row_id(file_id)

    def post(self, row: JournalRow) -> None:
        """Note a file's current state (loop thread); written within about `interval`."""
        if not self.enabled:
            return
        self._pending[row.row_id] = row
        self._arm()

    async def latest(self, paths: Iterable[Path], destination: str) -> dict[Path, JournalRow]:
        if not self.enabled:
            return {}
        return await asyncio.wrap_future(self.journal.latest(paths, destination))

    async def queue(self) -> list[JournalRow]:
        if not self.enabled:
            return []
        return await asyncio.wrap_future(self.journal.queue())

    async def flush(self) -> None:
        """Write everything posted so far and wait for it."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._inflight is not None or (self._pending and self.journal.enabled):
            if self._inflight is None:
                self._write_now()
            if self._inflight is not None:
                await asyncio.shield(self._inflight)

    async def aclose(self) -> None:
        """Flush, then close the journal. Posting afterwards does nothing."""
        if self._closed:
            return
        try:
            await self.flush()
        finally:
            self._closed = True
            self._pending.clear()
            await asyncio.wrap_future(self.journal.close())

    def _arm(self) -> None:
        if self._timer is not None or self._inflight is not None:
            return
        delay = max(0.0, self._last_write + self._interval - self._loop.time())
        self._timer = self._loop.call_later(delay, self._write_now)

    def _write_now(self) -> None:
        self._timer = None
        if not self._pending or self._inflight is not None:
            return
        rows = list(self._pending.values())
        self._pending.clear()
        self._last_write = self._loop.time()
        inflight = asyncio.wrap_future(self.journal.write(rows), loop=self._loop)
        self._inflight = inflight
        inflight.add_done_callback(lambda done: self._written(done, rows))

    def _written(self, done: asyncio.Future[bool], rows: list[JournalRow]) -> None:
        self._inflight = None
        if not done.cancelled() and done.exception() is None and done.result() is False:
            for row in rows:  # busy: try again, unless a newer state came meanwhile
                self._pending.setdefault(row.row_id, row)
        self._check_problem()
        if self._pending and self.journal.enabled and not self._closed:
            self._arm()

    def _check_problem(self) -> None:
        messages: list[str] = []
        if self.journal.notice is not None and not self._noticed:
            self._noticed = True
            messages.append(self.journal.notice)
        if self.journal.problem is not None and not self._reported:
            self._reported = True
            self._pending.clear()
            messages.append(self.journal.problem)
        if self._on_problem is not None:
            for message in messages:
                self._loop.call_soon(self._on_problem, message)


class QueueLock:
    """Only one window restores the journal's queue: a second window started meanwhile
    shows its own files only. An advisory lock file (POSIX `flock`), released on exit
    (even on a crash). Where `flock` is missing, every window may restore."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return True  # cannot lock: better to restore than to lose the queue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
