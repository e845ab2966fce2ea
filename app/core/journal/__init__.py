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

from app.core.journal.database import (
    JOURNAL_FILE,
    MAX_AGE_DAYS,
    MAX_FINISHED_ROWS,
    ORIGIN_CLI,
    ORIGIN_GUI,
    PROBLEM_SUFFIX,
    RESTORE_FINISHED_LIMIT,
    Journal,
    default_journal_path,
    describe_problem,
    open_journal,
)
from app.core.journal.locks import QueueLock
from app.core.journal.recorder import FLUSH_INTERVAL, JournalRecorder
from app.core.journal.rows import JournalRow, destination_identity
from app.core.journal.schema import SCHEMA_VERSION

__all__ = [
    "FLUSH_INTERVAL",
    "JOURNAL_FILE",
    "MAX_AGE_DAYS",
    "MAX_FINISHED_ROWS",
    "ORIGIN_CLI",
    "ORIGIN_GUI",
    "PROBLEM_SUFFIX",
    "RESTORE_FINISHED_LIMIT",
    "SCHEMA_VERSION",
    "Journal",
    "JournalRecorder",
    "JournalRow",
    "QueueLock",
    "default_journal_path",
    "describe_problem",
    "destination_identity",
    "open_journal",
]
