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
from collections.abc import Iterable, Mapping
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

    def listing(self, store: str, prefixes: Iterable[str]) -> tuple[dict[str, int], dict[str, str]]:
        """What the last full listing of `prefixes` showed: (key -> size, key -> ETag);
        empty when they were never listed from here."""
        starts = tuple(prefixes)
        sizes: dict[str, int] = {}
        etags: dict[str, str] = {}
        with self._lock:
            rows = self._db.execute("SELECT key, size, etag FROM listed WHERE store = ?", (store,))
            for key, size, etag in rows:
                if key.startswith(starts):
                    sizes[key] = size
                    if etag:
                        etags[key] = etag
        return sizes, etags

    def keep_listing(
        self,
        store: str,
        prefixes: Iterable[str],
        sizes: Mapping[str, int],
        etags: Mapping[str, str],
    ) -> None:
        """After a full listing of `prefixes`: remember it (only the rows that changed
        are written)."""
        starts = tuple(prefixes)
        before, before_etags = self.listing(store, starts)
        # Generators, not lists: 400,000 row tuples alive at once would be that many
        # objects for the cycle collector to walk (a window's GUI thread pays for it).
        changed = (
            (store, key, size, etags.get(key, ""))
            for key, size in sizes.items()
            if before.get(key) != size or before_etags.get(key) != etags.get(key)
        )
        gone = ((store, key) for key in before if key not in sizes)
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO listed (store, key, size, etag) VALUES (?, ?, ?, ?)",
                changed,
            )
            self._db.executemany("DELETE FROM listed WHERE store = ? AND key = ?", gone)

    def keep(self, store: str, bodies: Iterable[tuple[str, str, bytes]]) -> None:
        """Remember (key, etag, body) for each object read."""
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO bodies (store, key, etag, body) VALUES (?, ?, ?, ?)",
                [(store, key, etag, body) for key, etag, body in bodies],
            )

    def forget_except(self, store: str, prefixes: Iterable[str], present: Iterable[str]) -> None:
        """After a full listing of `prefixes`: drop rows under them not in `present`."""
        keep = set(present)
        starts = tuple(prefixes)
        with self._lock:
            keys = [
                k for (k,) in self._db.execute("SELECT key FROM bodies WHERE store = ?", (store,))
            ]
            gone = [(store, k) for k in keys if k.startswith(starts) and k not in keep]
            with self._db:
                self._db.executemany("DELETE FROM bodies WHERE store = ? AND key = ?", gone)

    def close(self) -> None:
        with self._lock:
            self._db.close()
