"""The journal's schema: a journal written by the first release (schema 1) is migrated,
a new one takes the same path, and one from a newer app is left alone."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from app.core.journal import JOURNAL_FILE, ORIGIN_GUI, SCHEMA_VERSION, open_journal
from app.core.journal.rows import COLUMNS
from app.core.models import FileState

V1_JOURNAL = Path(__file__).resolve().parents[2] / "data" / "journal-v1.sqlite3"


def _tables(path: Path) -> tuple[int, set[str], set[str]]:
    db = sqlite3.connect(path)
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        columns = {row[1] for row in db.execute("PRAGMA table_info(files)")}
        indexes = {row[1] for row in db.execute("PRAGMA index_list(files)")}
    finally:
        db.close()
    return version, columns, indexes


def test_a_journal_from_the_first_release_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    shutil.copy(V1_JOURNAL, path)
    assert _tables(path)[0] == 1

    # (For reading: a normal open would also prune these rows, which are a year old.)
    journal = open_journal(ORIGIN_GUI, path, for_reading=True)
    try:
        assert journal.enabled and journal.problem is None
        history = journal.history(limit=None).result()
        queue = journal.queue().result()
    finally:
        journal.close().result()

    version, columns, indexes = _tables(path)
    assert version == SCHEMA_VERSION == 7
    assert columns == set(COLUMNS)
    assert "files_failed" not in indexes
    assert [(r.path.name, r.state) for r in history] == [
        ("notes.jpg", FileState.FAILED),
        ("1923 obverse.jpg", FileState.UPLOADED),
    ]
    assert history[0].unusable  # schema 7: its error says it is not an image
    uploaded = history[1]
    assert not uploaded.unusable
    assert uploaded.key == "lots/1923 obverse-3f9a0c1e.jpg" and uploaded.size == 4811922
    assert uploaded.destination_spec == ""  # written before schema 2 knew it
    assert (uploaded.preview_key, uploaded.preview_in_bucket) == (None, False)  # schema 5
    cut_off = [r for r in queue if not r.state.is_final]
    assert len(cut_off) == 1 and cut_off[0].state is FileState.UPLOADING
    assert cut_off[0].path.name.encode("utf-8", "surrogateescape") == b"M\xfcnze.jpg"


def test_run_numbers_never_repeat_across_the_migration(tmp_path: Path) -> None:
    """Row ids start with the run's number; a migrated journal must not hand one out
    again, even when the runs that had it were pruned."""
    path = tmp_path / JOURNAL_FILE
    shutil.copy(V1_JOURNAL, path)
    db = sqlite3.connect(path)
    (before,) = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'runs'").fetchone()
    db.close()
    journal = open_journal(ORIGIN_GUI, path)  # migrates, prunes the year-old run, starts one
    journal.close().result()
    assert journal.run_id == before + 1
    db = sqlite3.connect(path)
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    finally:
        db.close()
    assert columns == {"id", "origin", "started_at"}


def test_a_new_journal_goes_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    open_journal(ORIGIN_GUI, path).close().result()
    version, columns, _ = _tables(path)
    assert version == SCHEMA_VERSION and columns == set(COLUMNS)


def test_a_journal_from_a_newer_app_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_FILE
    shutil.copy(V1_JOURNAL, path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    journal = open_journal(ORIGIN_GUI, path)
    journal.close().result()
    assert not journal.enabled and journal.problem is not None
    assert "newer version" in journal.problem
    assert _tables(path)[0] == SCHEMA_VERSION + 1  # not touched, not set aside


class _SawItNew:
    """A connection to a journal another process is creating at the same moment: its
    first look finds a new file (version 0); by its next, the other has migrated it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._looked = False

    def execute(self, sql: str, *args: object) -> object:
        if sql.strip() == "PRAGMA user_version" and not self._looked:
            self._looked = True
            return self._db.execute("SELECT 0")
        return self._db.execute(sql, *args)

    def executescript(self, sql: str) -> object:
        return self._db.executescript(sql)


def test_two_processes_opening_a_new_journal_at_once_both_can_use_it(tmp_path: Path) -> None:
    first = open_journal(ORIGIN_GUI, tmp_path / JOURNAL_FILE)  # the window, say
    first.close().result()
    second = open_journal(ORIGIN_GUI, tmp_path / JOURNAL_FILE, for_reading=True)
    try:
        db = sqlite3.connect(tmp_path / JOURNAL_FILE, isolation_level=None)
        try:
            second._migrate(_SawItNew(db))  # type: ignore[arg-type]
            (version,) = db.execute("PRAGMA user_version").fetchone()
        finally:
            db.close()
    finally:
        second.close().result()
    assert version == SCHEMA_VERSION  # not set back to 1, and no "duplicate column name"
