"""What was read of a bucket, kept on this computer: index entries and sidecars by key
and ETag, so opening the same bucket again fetches only what changed since.

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
)
"""


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
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError:  # damaged or not ours: start empty, it is a cache
            if path is not None:
                path.unlink(missing_ok=True)
            self._db = sqlite3.connect(target, check_same_thread=False)
            self._db.execute(_SCHEMA)

    def bodies(self, store: str, wanted: Mapping[str, str]) -> dict[str, bytes]:
        """Of `wanted` (key -> ETag now listed), the bodies kept for that same ETag."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, etag, body FROM bodies WHERE store = ?", (store,)
            ).fetchall()
        return {key: bytes(body) for key, etag, body in rows if wanted.get(key) == etag}

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
