"""A destination read for a window that shows it at once: photos from the listing first,
their details (from the sidecars) filled in afterwards, what is on screen first.

`read_collection` reads everything before it answers, which suits a command that
prints everything; a bucket of 100,000 photos is 100,000 sidecar GETs, minutes on a
real server. A Survey instead:

1. shows what the catalogue kept from the last time (its listing, and the sidecars
   read then, by ETag): the grid of a bucket opened before appears at once;
2. lists the destination page by page: each page's photos appear as it arrives, a
   sidecar whose ETag the catalogue knows is read from it, the others are queued;
3. reads the queued sidecars on a few threads of its own (bounded), those the window
   asks for (`want`: the rows it paints) before the rest;
4. once every sidecar is in, reads the index entries no sidecar accounts for, but only
   when some photo has no sidecar (older photos); a photo nothing of ours names is
   another tool's.

Nothing here touches Qt. The window drains what changed with `take()` on its own timer
(results coalesced: a batch a tick, never a call per photo), from the GUI thread; the
rows are plain tuples of a Photo's fields, which the cycle collector untracks.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

from app.core.catalogue import Catalogue, read_through
from app.core.collection import (
    SMALL_BODY_LIMIT,
    Listing,
    Photo,
    ReadableStore,
    index_sha256,
    is_photo_candidate,
    photo_from_entry,
    photo_from_sidecar,
    photo_listed,
    photo_not_ours,
)
from app.core.errors import StoreError
from app.core.sidecar import SIDECAR_SUFFIX, sidecar_key, stored_record
from app.core.store import INDEX_PREFIX, IndexEntry, index_key
from app.core.threads import BackgroundThreadPool

Row = tuple[Any, ...]  # a Photo as a plain tuple: Photo._make(row) gives it back
DETAIL_WORKERS = 8
#: Bodies read are written to the catalogue this many at a time.
KEEP_BATCH = 200
#: Keys of the catalogue's listing handled per step before the first LIST.
CACHED_CHUNK = 5_000


@dataclass(slots=True)
class SurveyNews:
    """What changed since the last `take()`, and how far the reading is."""

    rows: list[Row] = field(default_factory=list)  # new or changed photos
    removed: list[str] = field(default_factory=list)  # keys no longer photos here
    listed: int = 0  # keys listed so far by this survey's LIST
    photos: int = 0  # photos known
    detailed: int = 0  # of which with their details read
    failed: int = 0  # details that could not be read (Refresh tries again)
    listing_done: bool = False
    done: bool = False
    error: str | None = None  # the listing failed: one sentence


class Survey:
    """One reading of one destination (a new Refresh makes a new Survey).

    `run()` blocks until everything is read (or `stop()`); call it on a worker. `want`,
    `take` and `stop` may be called from any thread.
    """

    def __init__(
        self,
        store: ReadableStore,
        prefix: str,
        *,
        catalogue: Catalogue | None = None,
        store_name: str = "",
        workers: int = DETAIL_WORKERS,
    ) -> None:
        self._store = store
        self._prefix = prefix
        self._catalogue = catalogue
        self._name = store_name
        self._workers = max(1, workers)
        self._prefixes = tuple(sorted({prefix, INDEX_PREFIX}))
        self._lock = threading.Condition()
        self._stopped = False
        # The listing as known (the catalogue's, then this LIST's), and the photos.
        self._sizes: dict[str, int] = {}
        self._etags: dict[str, str] = {}
        self._rows: dict[str, Row] = {}
        self._sidecar_etag: dict[str, str] = {}  # photo key -> ETag its details came from
        self._derivatives: set[str] = set()  # keys photos name as thumbnail or preview
        # Sidecars to GET: asked for first, then the rest in listing order.
        self._urgent: deque[str] = deque()
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._busy = 0
        self._entries: dict[str, IndexEntry] = {}  # read in the last step, by SHA-256
        self._fetched: list[tuple[str, str, bytes]] = []  # for the catalogue
        # News for take().
        self._changed: dict[str, None] = {}
        self._removed: dict[str, None] = {}
        self._listed = 0
        self._detailed = 0  # rows whose details are in
        self._failed = 0
        self._unread: set[str] = set()  # photos whose sidecar could not be fetched
        self._listing_done = False
        self._done = False
        self._error: str | None = None

    # -- any thread -----------------------------------------------------------------

    def want(self, keys: Iterable[str]) -> None:
        """Read these photos' details before the others (the rows on screen)."""
        with self._lock:
            added = False
            for key in keys:
                if key in self._queued:
                    self._urgent.append(key)
                    added = True
            if added:
                self._lock.notify_all()

    @overload
    def take(self, *, limit: int | None = None) -> SurveyNews: ...
    @overload
    def take(self, *, wait: bool, limit: int | None = None) -> SurveyNews | None: ...

    def take(self, *, wait: bool = True, limit: int | None = None) -> SurveyNews | None:
        """What changed since the last call (rows as plain tuples; at most `limit` of
        them, the rest kept for the next call), and the progress. None, without waiting,
        when `wait` is False and the survey holds its lock: a GUI thread asks again at
        its next tick rather than wait for a page."""
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            changed = self._changed
            if limit is None or len(changed) <= limit:
                keys = list(changed)
                changed.clear()
            else:
                keys = list(itertools.islice(changed, limit))
                for key in keys:
                    del changed[key]
            rows = [self._rows[k] for k in keys if k in self._rows]
            removed = [k for k in self._removed if k not in self._rows]
            self._removed.clear()
            settled = not changed  # (the flags below only once every row is taken)
            news = SurveyNews(
                rows,
                removed,
                self._listed,
                len(self._rows),
                self._detailed,
                self._failed,
                self._listing_done and settled,
                self._done and settled,
                self._error,
            )
            if news.done:
                self._release()
            return news
        finally:
            self._lock.release()

    def _release(self) -> None:
        """Everything is read and taken: the rows are the window's now; only the listing
        is kept (for `listing()`). Big sets and dicts cost every full collection."""
        self._rows = {}
        self._derivatives = set()
        self._sidecar_etag = {}
        self._queued = set()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def listing(self) -> Listing:
        """A copy of the listing as known now (for planning a delete, say)."""
        with self._lock:
            return Listing(dict(self._sizes), dict(self._etags), self._prefixes)

    # -- the reading (one worker) -----------------------------------------------------

    def run(self) -> None:
        """Read everything (see the module's docstring); returns when done or stopped."""
        pool = BackgroundThreadPool(self._workers, thread_name_prefix="survey")
        try:
            for _ in range(self._workers):
                pool.submit(self._fetch_loop)
            self._show_cached()
            fresh = self._list()
            if fresh is None:
                return
            self._settle_listing(fresh)
            if not self._wait_for_sidecars():
                return
            self._keep_fetched()
            self._read_entries()
            if self._catalogue is not None:
                # Last, not as soon as the listing is complete: writing 400,000 rows
                # while the window orders them and the sidecars come in is one more
                # thread wanting the GIL when the window wants it most.
                self._catalogue.keep_listing(self._name, self._prefixes, fresh.rows())
        except StoreError as exc:
            with self._lock:
                self._error = str(exc)
        finally:
            with self._lock:
                self._done = True  # the fetchers leave
                self._lock.notify_all()
            pool.shutdown(wait=False, cancel_futures=True)
            self._keep_fetched()

    def _show_cached(self) -> None:
        if self._catalogue is None:
            return
        for chunk in self._catalogue.listed(self._name, self._prefixes, chunk=CACHED_CHUNK):
            if self._stopped:
                return
            self._take_page({k: s for k, s, _ in chunk}, {k: e for k, _, e in chunk if e})

    def _list(self) -> Listing | None:
        """LIST every key under the prefixes, a page at a time into the photos; None when
        stopped meanwhile."""
        sizes: dict[str, int] = {}
        etags: dict[str, str] = {}
        outer = [
            p for p in self._prefixes if not any(p != q and p.startswith(q) for q in self._prefixes)
        ]
        for prefix in outer:
            token: str | None = None
            while True:
                if self._stopped:
                    return None
                page = self._store.list_page(prefix, token)
                sizes.update(page.sizes)
                # (only .json ETags matter: the bodies kept are index entries and sidecars)
                etags.update((k, e) for k, e in page.etags.items() if k.endswith(".json"))
                with self._lock:
                    self._listed = len(sizes)
                self._take_page(page.sizes, page.etags)
                token = page.next_token
                if token is None:
                    break
        return Listing(sizes, etags, self._prefixes)

    def _take_page(self, sizes: Mapping[str, int], etags: Mapping[str, str]) -> None:
        """Keys listed (in order): new photos appear, sidecars not read yet are read from
        the catalogue where their ETag matches, or queued."""
        wanted: dict[str, str] = {}  # sidecar key -> its ETag, to look up in the catalogue
        with self._lock:
            self._sizes.update(sizes)
            self._etags.update((k, e) for k, e in etags.items() if k.endswith(".json"))
            for key, size in sizes.items():
                if key in self._derivatives:
                    continue
                if is_photo_candidate(key, self._prefix):
                    row = self._rows.get(key)
                    if row is None:
                        self._set_row(photo_listed(key, size, has_sidecar=False))
                    elif row[_SIZE] != size:
                        self._set_row(Photo._make(row)._replace(size=size))
                elif key.endswith(SIDECAR_SUFFIX):
                    original = key[: -len(SIDECAR_SUFFIX)]
                    if original not in self._rows:
                        continue  # a leftover, or not under the prefix
                    etag = etags.get(key, "")
                    if not etag or self._sidecar_etag.get(original) != etag:
                        wanted[key] = etag
        if not wanted:
            return
        kept = (
            self._catalogue.bodies(self._name, {k: e for k, e in wanted.items() if e})
            if self._catalogue is not None
            else {}
        )
        with self._lock:
            for key, etag in wanted.items():
                original = key[: -len(SIDECAR_SUFFIX)]
                body = kept.get(key)
                if body is None or not self._from_sidecar(original, body, etag):
                    row = self._rows.get(original)
                    if row is not None and not row[_DETAILED] and row[_METADATA] != key:
                        self._set_row(Photo._make(row)._replace(metadata_key=key))
                    if original not in self._queued:
                        self._queued.add(original)
                        self._queue.append(original)
            self._lock.notify_all()

    def _from_sidecar(self, original: str, body: bytes, etag: str) -> bool:
        """Details from a sidecar's body (lock held); False when it is not one of ours."""
        record = stored_record(body)
        size = self._sizes.get(original)
        if record is None or size is None:
            return False
        sha = record.get("sha256")
        indexed = isinstance(sha, str) and index_key(sha) in self._sizes
        # Until the listing is complete a derivative may simply not be listed yet (the
        # thumbnails/ folder comes after the photos): named as the sidecar says, and
        # checked against the whole listing once it is in.
        present = self._sizes if self._listing_done else _EVERYTHING
        photo = photo_from_sidecar(original, size, record, present, indexed=indexed)
        if photo is None:
            return False
        self._detail(photo, etag)
        return True

    def _detail(self, photo: Photo, etag: str) -> None:
        """A photo's details are in (lock held): its row, and what it names."""
        self._set_row(photo)
        self._sidecar_etag[photo.key] = etag
        for named in (photo.thumbnail_key, photo.preview_key):
            if named and named != photo.key:
                self._derivatives.add(named)
                self._drop_row(named)

    def _set_row(self, photo: Photo) -> None:
        """Keep a photo's row, as a plain tuple, and say so at the next take (lock held)."""
        before = self._rows.get(photo.key)
        self._detailed += photo.detailed - (bool(before[_DETAILED]) if before else False)
        self._rows[photo.key] = tuple(photo)
        self._changed[photo.key] = None

    def _drop_row(self, key: str) -> None:
        before = self._rows.pop(key, None)
        if before is not None:
            self._detailed -= bool(before[_DETAILED])
            self._removed[key] = None

    def _settle_listing(self, fresh: Listing) -> None:
        """The LIST is complete: what it no longer shows goes, and it is kept."""
        with self._lock:
            self._listing_done = True
            for key in list(self._sizes):
                if key not in fresh.sizes:
                    del self._sizes[key]
                    self._etags.pop(key, None)
            for key in list(self._rows):
                if key not in fresh.sizes:
                    self._drop_row(key)
                elif sidecar_key(key) not in fresh.sizes and self._sidecar_etag.get(key):
                    # its sidecar went since the catalogue's listing: details from the index
                    del self._sidecar_etag[key]
                    photo = Photo._make(self._rows[key])
                    self._set_row(photo._replace(metadata_key=None, detailed=False))
            self._etags = dict(fresh.etags)
            rows = dict(self._rows)
        # Now that everything is listed: whether each is indexed, and which derivatives
        # are there (a photo detailed before their pages came was told as its sidecar
        # says).
        sizes = fresh.sizes
        wrong = [key for key, row in rows.items() if _settled(row, sizes) != row]
        with self._lock:
            for key in wrong:
                current = self._rows.get(key)
                if current is not None:
                    self._set_row(Photo._make(_settled(current, sizes)))
            self._lock.notify_all()

    def _wait_for_sidecars(self) -> bool:
        """Until every queued sidecar is read; False when stopped meanwhile."""
        with self._lock:
            while not self._stopped and (self._queue or self._urgent or self._busy):
                self._lock.wait(0.5)
            return not self._stopped

    def _fetch_loop(self) -> None:
        """One fetcher: sidecars asked for first, then the rest, until the survey ends."""
        while True:
            with self._lock:
                key = None
                while key is None:
                    if self._stopped or self._done:
                        return
                    key = self._next_key()
                    if key is None:
                        self._lock.wait(0.5)
                self._busy += 1
                etag = self._etags.get(sidecar_key(key), "")
            try:
                body = self._store.get_bytes(sidecar_key(key), SMALL_BODY_LIMIT)
            except StoreError:
                body, failed = None, True
            else:
                failed = False
            with self._lock:
                self._busy -= 1
                if failed:
                    self._failed += 1
                    self._unread.add(key)
                elif (
                    body is not None
                    and key in self._rows
                    and self._from_sidecar(key, body, etag)
                    and etag
                ):
                    self._fetched.append((sidecar_key(key), etag, body))
                self._lock.notify_all()
                flush = len(self._fetched) >= KEEP_BATCH
            if flush:
                self._keep_fetched()

    def _next_key(self) -> str | None:
        """The next photo whose sidecar to read (lock held)."""
        for waiting in (self._urgent, self._queue):
            while waiting:
                key = waiting.popleft()
                if key in self._queued:
                    self._queued.discard(key)
                    return key
        return None

    def _keep_fetched(self) -> None:
        with self._lock:
            fetched, self._fetched = self._fetched, []
        if fetched and self._catalogue is not None:
            self._catalogue.keep(self._name, fetched)

    def _read_entries(self) -> None:
        """Photos still without details: from the index entries no sidecar accounts for;
        what nothing of ours names is another tool's photo."""
        with self._lock:
            # (a photo whose sidecar could not be fetched waits for the next Refresh)
            waiting = {k for k, row in self._rows.items() if not row[_DETAILED]} - self._unread
            named = {row[_SHA256] for row in self._rows.values() if row[_SHA256]}
            unaccounted = {
                key: self._etags.get(key, "")
                for key in self._sizes
                if (sha := index_sha256(key)) is not None and sha not in named
            }
        if not waiting:
            return
        entries = self._entries_of(unaccounted)
        with self._lock:
            for sha, entry in entries.items():
                key = entry.key
                if key in waiting and self._sizes.get(key) == entry.size:
                    self._detail(photo_from_entry(sha, entry, None, self._sizes), "")
                    waiting.discard(key)
            for key in waiting:
                row = self._rows.get(key)
                if row is not None:
                    self._set_row(photo_not_ours(key, row[_SIZE]))

    def _entries_of(self, keys: Mapping[str, str]) -> dict[str, IndexEntry]:
        """The index entries at `keys` (key -> ETag), from the catalogue where it can."""

        def fetch(key: str) -> tuple[str, bytes | None]:
            if self._stopped:
                return key, None
            try:
                return key, self._store.get_bytes(key, SMALL_BODY_LIMIT)
            except StoreError:
                return key, None

        def fetch_all(missing: list[str]) -> list[tuple[str, bytes | None]]:
            with BackgroundThreadPool(self._workers, thread_name_prefix="survey-index") as pool:
                return list(pool.map(fetch, missing))

        kept = read_through(self._catalogue, self._name, keys, fetch_all)
        entries: dict[str, IndexEntry] = {}
        for key, body in kept.items():
            entry = IndexEntry.from_json(body)
            sha = index_sha256(key)
            if entry is not None and sha is not None:
                entries[sha] = entry
        return entries


class _Everything:
    def __contains__(self, _key: object) -> bool:
        return True


_EVERYTHING = _Everything()


def _settled(row: Row, sizes: Mapping[str, int]) -> Row:
    """A row as the complete listing has it: indexed or not, derivatives there or not."""
    if not row[_SHA256]:
        return row
    indexed = index_key(row[_SHA256]) in sizes
    thumbnail = row[_THUMBNAIL] if row[_THUMBNAIL] in sizes else None
    preview = row[_PREVIEW] if row[_PREVIEW] in sizes else None
    if (indexed, thumbnail, preview) == (row[_INDEXED], row[_THUMBNAIL], row[_PREVIEW]):
        return row
    return tuple(
        Photo._make(row)._replace(indexed=indexed, thumbnail_key=thumbnail, preview_key=preview)
    )


def run_in_steps(survey: Survey, on_news: Callable[[SurveyNews], None]) -> None:
    """Run a survey to its end, handing on its news after each step (for a caller that
    has no timer of its own: tests, the bench)."""
    thread = threading.Thread(target=survey.run, name="survey", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.05)
        on_news(survey.take())
    on_news(survey.take())


_SHA256 = Photo._fields.index("sha256")
_SIZE = Photo._fields.index("size")
_DETAILED = Photo._fields.index("detailed")
_INDEXED = Photo._fields.index("indexed")
_METADATA = Photo._fields.index("metadata_key")
_THUMBNAIL = Photo._fields.index("thumbnail_key")
_PREVIEW = Photo._fields.index("preview_key")
