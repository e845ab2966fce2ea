"""The journal's SQLite database, on its own thread (see app.core.journal)."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from app.core.journal.rows import _SELECT, _UPSERT, JournalRow, _from_db, _to_params
from app.core.journal.schema import BASE_SCHEMA, MIGRATIONS, SCHEMA_VERSION
from app.core.paths import data_dir
from app.core.threads import SerialThread

log = logging.getLogger(__name__)
T = TypeVar("T")

JOURNAL_FILE = "journal.sqlite3"
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
        # A daemon thread: a write stuck on a hung disk must not keep the app from quitting.
        self._pool = SerialThread("journal")
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
        self,
        *,
        limit: int | None = 100,
        where: Callable[[JournalRow], bool] | None = None,
    ) -> Future[list[JournalRow]]:
        """Finished rows, newest first; with `where`, only those it accepts (such as
        app.core.policy.went_wrong for `history --failed`)."""
        return self._submit(self._history, limit, where)

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
        self._migrate(db)
        if for_reading:
            return
        with self._transaction(db):
            self._prune(db)
            cursor = db.execute(
                "INSERT INTO runs (origin, started_at) VALUES (?, ?)",
                (self.origin, self._clock()),
            )
            self.run_id = int(cursor.lastrowid or 0)

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Bring the tables to SCHEMA_VERSION (see app.core.journal.schema)."""
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise _NewerJournal(f"schema {version} is from a newer version of the app")
        if version == 0:
            # Under the write lock and asked again: another process opening a new journal
            # at the same moment may have taken it further already, and setting version
            # 1 then would send it through migrations it has had (seen: two processes,
            # "duplicate column name").
            with self._transaction(db):
                (current,) = db.execute("PRAGMA user_version").fetchone()
                if current == 0:
                    for statement in BASE_SCHEMA.split(";"):  # all IF NOT EXISTS
                        if statement.strip():
                            db.execute(statement)
                    db.execute("PRAGMA user_version = 1")
        for number in range(max(version, 1) + 1, SCHEMA_VERSION + 1):
            with self._transaction(db):
                (current,) = db.execute("PRAGMA user_version").fetchone()
                if current >= number:
                    continue  # another process migrated it meanwhile
                for statement in MIGRATIONS[number]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
                log.info("the journal %s is now at schema %d", self.path, number)

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
        return list(self._rows(sql, params))

    def _rows(self, sql: str, params: Sequence[Any]) -> Iterator[JournalRow]:
        """Rows as they are read (rows this version cannot understand are skipped)."""
        db = self._db
        if db is None:
            return
        try:
            for values in db.execute(sql, params):
                row = _from_db(values)
                if row is not None:
                    yield row
        except (sqlite3.Error, OSError) as exc:
            if not _is_busy(exc):
                self._disable(exc)

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

    def _history(
        self, limit: int | None, where: Callable[[JournalRow], bool] | None
    ) -> list[JournalRow]:
        sql = f"{_SELECT} WHERE finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC"
        if where is None:
            return self._read(f"{sql} LIMIT ?", (-1 if limit is None else limit,))
        found: list[JournalRow] = []
        for row in self._rows(sql, ()):
            if where(row):
                found.append(row)
                if limit is not None and len(found) >= limit:
                    break
        return found


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
