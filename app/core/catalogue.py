"""What was read of a bucket, kept on this computer: its last full listing, and index
entries and sidecars by key and ETag, so opening the same bucket again shows it at once
and fetches only what changed since.

One SQLite file in the data folder. A body is reused only when the listing shows the
object with the same ETag it had when read: an object rewritten by anyone (an item
edited on another computer) is read again. Objects gone from a full listing are
forgotten. Losing the file loses nothing: it is only a cache.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

FILE_NAME = "catalogue.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS bodies (
    store TEXT NOT NULL,
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (store, key)
);
CREATE TABLE IF NOT EXISTS listed (
    store TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (store, key)
);
"""
#: Keys per SQLite statement when looking bodies up (well under its variable limit).
_CHUNK = 500


def store_id(endpoint_url: str | None, bucket: str) -> str:
    """Which bucket rows belong to: the same name on two servers is two buckets."""
    return f"{endpoint_url or 'aws'}|{bucket}"


class Catalogue:
    """Bodies of small objects by (bucket, key), each valid for one ETag. Thread-safe."""

    def __init__(self, path: Path | None) -> None:
        """`path` None keeps it in memory (nothing survives the process)."""
        self._lock = threading.Lock()
        target = ":memory:" if path is None else str(path)
        try:
            self._db = sqlite3.connect(target, check_same_thread=False)
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError:  # damaged or not ours: start empty, it is a cache
            if path is not None:
                path.unlink(missing_ok=True)
            self._db = sqlite3.connect(target, check_same_thread=False)
            self._db.executescript(_SCHEMA)

    def bodies(self, store: str, wanted: Mapping[str, str]) -> dict[str, bytes]:
        """Of `wanted` (key -> ETag now listed), the bodies kept for that same ETag.
        Looked up a chunk of keys at a time: never the whole bucket in memory at once
        beyond what is asked."""
        keys = list(wanted)
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    f"SELECT key, etag, body FROM bodies WHERE store = ? AND key IN ({marks})",
                    (store, *chunk),
                ).fetchall()
            found.update((key, bytes(body)) for key, etag, body in rows if wanted[key] == etag)
        return found

    def listed(
        self, store: str, prefixes: Iterable[str], *, chunk: int = 5_000
    ) -> Iterator[list[tuple[str, int, str]]]:
        """What the last full listing of `prefixes` showed, (key, size, ETag) in key
        order, a chunk at a time (never the whole bucket in memory at once); nothing
        when they were never listed from here."""
        starts = tuple(prefixes)
        after = ""
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT key, size, etag FROM listed WHERE store = ? AND key > ? "
                    "ORDER BY key LIMIT ?",
                    (store, after, chunk),
                ).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield [row for row in rows if row[0].startswith(starts)]

    def keep_listing(
        self, store: str, prefixes: Iterable[str], rows: Iterable[tuple[str, int, str]]
    ) -> None:
        """After a full listing of `prefixes` (`rows`: key, size, ETag): remember it, and
        forget the bodies of objects no longer there. The comparison runs in SQLite, so
        a listing of 400,000 keys is never held twice in Python: only the rows that
        changed are written."""
        starts = tuple(prefixes)
        with self._lock, self._db:
            db = self._db
            db.execute(
                "CREATE TEMP TABLE IF NOT EXISTS fresh "
                "(key TEXT PRIMARY KEY, size INTEGER NOT NULL, etag TEXT NOT NULL)"
            )
            db.execute("DELETE FROM fresh")
            db.executemany("INSERT OR REPLACE INTO fresh (key, size, etag) VALUES (?, ?, ?)", rows)
            for table in ("listed", "bodies"):
                for prefix in starts:
                    db.execute(
                        f"DELETE FROM {table} WHERE store = ? AND substr(key, 1, ?) = ? "
                        "AND key NOT IN (SELECT key FROM fresh)",
                        (store, len(prefix), prefix),
                    )
            db.execute(
                "INSERT OR REPLACE INTO listed (store, key, size, etag) "
                "SELECT ?, f.key, f.size, f.etag FROM fresh AS f "
                "LEFT JOIN listed AS l ON l.store = ? AND l.key = f.key "
                "WHERE l.key IS NULL OR l.size != f.size OR l.etag != f.etag",
                (store, store),
            )
            db.execute("DELETE FROM fresh")

    def keep(self, store: str, bodies: Iterable[tuple[str, str, bytes]]) -> None:
        """Remember (key, etag, body) for each object read."""
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO bodies (store, key, etag, body) VALUES (?, ?, ?, ?)",
                ((store, key, etag, body) for key, etag, body in bodies),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


Fetcher = Callable[[list[str]], Iterable[tuple[str, bytes | None]]]


def read_through(
    catalogue: Catalogue | None, store: str, etags: Mapping[str, str], fetch: Fetcher
) -> dict[str, bytes]:
    """The bodies at the keys of `etags` (key -> the ETag listed now, "" if none): those
    the catalogue kept for the same ETag, the rest as `fetch(missing)` reads them (None:
    not read), which the catalogue then keeps. How they are fetched (threads, progress,
    errors, a cancel) is the caller's."""
    known = {key: etag for key, etag in etags.items() if etag}
    found = catalogue.bodies(store, known) if catalogue is not None and known else {}
    missing = [key for key in etags if key not in found]
    fetched: list[tuple[str, str, bytes]] = []
    for key, body in fetch(missing) if missing else ():
        if body is not None:
            found[key] = body
            if etags[key]:
                fetched.append((key, etags[key], body))
    if catalogue is not None and fetched:
        catalogue.keep(store, fetched)
    return found
