"""Journal rows: one outcome, two views, columns from the dataclass fields."""

from __future__ import annotations

import sqlite3
from dataclasses import fields
from pathlib import Path

from app.core.journal import JOURNAL_FILE, ORIGIN_GUI, JournalRow, open_journal
from app.core.journal.rows import COLUMNS
from app.core.models import OUTCOME_FIELDS, FileOutcome, FileState, ThumbnailState


def test_every_field_of_a_row_is_a_column_of_the_table(tmp_path: Path) -> None:
    journal = open_journal(ORIGIN_GUI, tmp_path / JOURNAL_FILE)
    journal.close().result()
    db = sqlite3.connect(tmp_path / JOURNAL_FILE)
    try:
        table = {row[1] for row in db.execute("PRAGMA table_info(files)")}
    finally:
        db.close()
    assert set(COLUMNS) == table
    named = {"id" if f.name == "row_id" else f.name for f in fields(JournalRow)}
    assert set(COLUMNS) == named | {"finished_at"}


def test_a_row_is_an_outcome_plus_where_and_when() -> None:
    assert set(OUTCOME_FIELDS) < {f.name for f in fields(JournalRow)}
    assert issubclass(JournalRow, FileOutcome)


def test_the_snapshot_of_a_row_and_of_an_outcome_agree() -> None:
    values = {
        "path": Path("/photos/coin.jpg"),
        "state": FileState.FAILED,
        "thumbnail_state": ThumbnailState.SKIPPED,
        "size": 10,
        "sha256": "ab" * 32,
        "content_type": "image/jpeg",
        "key": "coin-abababab.jpg",
        "thumbnail_key": "thumbnails/coin-abababab.jpg",
        "error": "Cannot reach the storage server.",
    }
    row = JournalRow(**values, row_id=7, destination="d", bucket="b", queued_at=1.0, updated_at=2.0)
    snap = row.to_snapshot(3)
    assert snap == FileOutcome(**values).snapshot(3, bucket="b")
    # Nothing of a failed file is in the bucket: no keys to show.
    assert snap.key is None and snap.thumbnail_key is None
    assert snap.error == values["error"] and snap.bucket == "b"
