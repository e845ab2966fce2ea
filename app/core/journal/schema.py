"""The journal's tables, and how a journal written by an older version is brought up to date.

Every journal starts as version 1 (`BASE_SCHEMA`, as the first release wrote it) and goes
through `MIGRATIONS` in order, each in a transaction that also records its number in
`PRAGMA user_version`: a new journal and one from an older version take the same path,
so the path is tested every time. A journal from a newer version is left as it is.

A change to the tables is a new entry here; a new column is also a new field of
JournalRow (app.core.journal.rows), and tests/core/journal/test_rows.py checks the two
agree.
"""

from __future__ import annotations

BASE_SCHEMA = """
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


#: version -> the statements that take a journal from the version before to it
MIGRATIONS: dict[int, tuple[str, ...]] = {
    # Where a file was going, beyond its identity (bucket, endpoint, prefix): region,
    # profile, access key id (never a secret), checksum mode and label, so an upload
    # left unfinished at an earlier destination can be aborted there (issue 7 i).
    # `history --failed` asks app.core.policy now, not an index on state = 'failed'.
    # runs.pid was written and never read: the table is rebuilt without it, keeping its
    # AUTOINCREMENT sequence, since run ids must never repeat (they are in every row id).
    2: (
        "ALTER TABLE files ADD COLUMN destination_spec TEXT NOT NULL DEFAULT ''",
        "DROP INDEX IF EXISTS files_failed",
        "CREATE TABLE runs_v2 (id INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, "
        "started_at REAL NOT NULL)",
        "INSERT INTO runs_v2 (id, origin, started_at) SELECT id, origin, started_at FROM runs",
        "DELETE FROM sqlite_sequence WHERE name = 'runs_v2'",
        "INSERT INTO sqlite_sequence (name, seq) "
        "SELECT 'runs_v2', seq FROM sqlite_sequence WHERE name = 'runs'",
        "DROP TABLE runs",
        "ALTER TABLE runs_v2 RENAME TO runs",
    ),
    # A multipart upload's UploadId and stored parts, so one cut off resumes from its
    # parts, and only uploads we started are ever aborted (issue 9).
    3: (
        "ALTER TABLE files ADD COLUMN upload_id TEXT",
        "ALTER TABLE files ADD COLUMN parts TEXT",
    ),
    # The file's folder relative to what was dropped, and its metadata sidecar (issue 10).
    4: (
        "ALTER TABLE files ADD COLUMN folder TEXT",
        "ALTER TABLE files ADD COLUMN metadata_key TEXT",
        "ALTER TABLE files ADD COLUMN metadata_in_bucket INTEGER NOT NULL DEFAULT 0",
    ),
    # Its display preview, when previews are made (issue 10, item 5).
    5: (
        "ALTER TABLE files ADD COLUMN preview_key TEXT",
        "ALTER TABLE files ADD COLUMN preview_in_bucket INTEGER NOT NULL DEFAULT 0",
    ),
    # The item the collector gave a file in the window, for a restart (issue 10, item 7).
    # Before this, a row named a sidecar only once it was written, yet a duplicate resumed
    # from the journal kept the name without the flag: set it, or such rows would count
    # as sidecars to retry (policy.needs_retry).
    6: (
        "ALTER TABLE files ADD COLUMN given_item TEXT",
        "UPDATE files SET metadata_in_bucket = 1 WHERE metadata_key IS NOT NULL",
    ),
    # Failed because of what the file holds (empty, not an image): Retry leaves such a
    # file alone until it changes (issue 12). Rows from before say so in their error.
    7: (
        "ALTER TABLE files ADD COLUMN unusable INTEGER NOT NULL DEFAULT 0",
        "UPDATE files SET unusable = 1 WHERE state = 'failed' AND original_in_bucket = 0 "
        "AND (error = 'This file is empty (0 bytes).' "
        "OR error LIKE 'This file is not a supported image%')",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)
