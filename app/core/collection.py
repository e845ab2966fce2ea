"""What a destination holds, as photos: read from paged LISTs, our content-hash index and
the sidecars, not from file names.

A photo is an original with an index entry (or, when its entry was lost, with a sidecar
of ours that names its hash). Everything here blocks; the CLI calls it directly, the
window from its own executor. Small bodies (index entries, sidecars) are fetched in
parallel and kept in the catalogue by ETag, so the next read fetches only what changed.
"""

from __future__ import annotations

import concurrent.futures
import functools
import re
import sys
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from app.core.catalogue import Catalogue, read_through, store_id
from app.core.formats import ALL_FORMATS
from app.core.models import Item
from app.core.sidecar import sidecar_key, stored_record
from app.core.store import INDEX_PREFIX, IndexEntry, ListingPage, index_key

#: Index entries and sidecars are a few hundred bytes; anything bigger is not ours.
SMALL_BODY_LIMIT = 256 * 1024
READ_WORKERS = 16
_INDEX_NAME = re.compile(r"([0-9a-f]{64})\.json")
IMAGE_EXTENSIONS = frozenset(
    {fmt.extension for fmt in ALL_FORMATS} | {".jpeg", ".jpe", ".tif", ".heif", ".heic"}
)
_CONTENT_TYPES = {
    **{fmt.extension: fmt.content_type for fmt in ALL_FORMATS},
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".tif": "image/tiff",
}


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a long step is (reading a bucket whole, checking, repairing)."""

    step: str  # "listing", "reading", "re-reading originals", "repairing"
    done: int
    total: int = 0  # 0: not known (a listing's end is not known before it comes)


ProgressCallback = Callable[[Progress], None]


class ReadableStore(Protocol):
    bucket: str

    def list_page(self, prefix: str, token: str | None) -> ListingPage: ...
    def get_bytes(self, key: str, limit: int) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Listing:
    """Every key under some prefixes, with its size and (where given) its ETag."""

    sizes: dict[str, int]
    etags: dict[str, str]
    prefixes: tuple[str, ...]

    def __contains__(self, key: object) -> bool:
        return key in self.sizes

    def rows(self) -> Iterator[tuple[str, int, str]]:
        """(key, size, ETag) for the catalogue; ETags only where a body may be kept
        (index entries and sidecars, both .json), "" elsewhere."""
        etags = self.etags
        for key, size in self.sizes.items():
            yield key, size, etags.get(key, "") if key.endswith(".json") else ""


def list_everything(
    store: ReadableStore,
    prefixes: Iterable[str],
    *,
    on_page: Callable[[int], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Listing:
    """All keys under each prefix, page by page (a prefix inside another is listed once)."""
    wanted = sorted(set(prefixes))
    kept = tuple(p for p in wanted if not any(p != q and p.startswith(q) for q in wanted))
    sizes: dict[str, int] = {}
    etags: dict[str, str] = {}
    for prefix in kept:
        token: str | None = None
        while True:
            if cancelled():
                raise Cancelled()
            page = store.list_page(prefix, token)
            sizes.update(page.sizes)
            etags.update(page.etags)
            if on_page is not None:
                on_page(len(sizes))
            token = page.next_token
            if token is None:
                break
    return Listing(sizes, etags, kept)


class Cancelled(Exception):
    """A long read or check was cancelled before its end."""


def is_original_name(key: str) -> bool:
    """Whether a key names a photo's original by its extension (not a sidecar, not ours).
    (String operations, not PurePosixPath: this runs for every key of a big bucket.)"""
    dot = key.rfind(".")
    if dot <= key.rfind("/") + 1 or key.startswith(INDEX_PREFIX):
        return False  # no extension, or a name that is only one (".jpg")
    return key[dot:].lower() in IMAGE_EXTENSIONS


def index_sha256(key: str) -> str | None:
    """The SHA-256 an index entry's key stands for; None for any other key."""
    if not key.startswith(INDEX_PREFIX):
        return None
    found = _INDEX_NAME.fullmatch(key[len(INDEX_PREFIX) :])
    return found.group(1) if found and index_key(found.group(1)) == key else None


class Photo(NamedTuple):
    """One photo in the bucket: what `list` prints, the Bucket view shows, and `check`,
    `share` and `delete` work on.

    A tuple of atomics (strings, numbers, None), its item's fields flattened: the Bucket
    tab keeps one per photo as a plain tuple (`tuple(photo)`), which Python's cycle
    collector untracks, so 100,000 of them cost a full collection nothing
    (docs/NOTES.md, "The Bucket tab with 100,000 photos")."""

    key: str
    sha256: str  # "" while only its listing is known, or when no tool of ours named it
    size: int
    content_type: str
    thumbnail_key: str | None = None
    preview_key: str | None = None
    metadata_key: str | None = None  # its sidecar, when the bucket has it
    item_id: str | None = None
    item_title: str | None = None
    item_view: str | None = None
    item_notes: str | None = None
    item_primary: bool | None = None  # None: it names no item at all
    taken_at: str | None = None
    uploaded_at: str | None = None
    has_gps: bool = False  # the sidecar keeps a GPS position (the original may too)
    indexed: bool = True  # False: not in the duplicate index (lost, or never ours)
    detailed: bool = True  # False: seen in a listing; its details are still to be read

    @property
    def item(self) -> Item | None:
        if self.item_primary is None:
            return None
        return Item(
            self.item_id, self.item_title, self.item_view, self.item_notes, self.item_primary
        )

    def with_item(self, item: Item | None) -> Photo:
        return self._replace(
            item_id=item.id if item else None,
            item_title=item.title if item else None,
            item_view=item.view if item else None,
            item_notes=item.notes if item else None,
            item_primary=item.primary if item else None,
        )

    @property
    def ours(self) -> bool:
        """Whether Photo Uploader knows it (an index entry or a sidecar names its hash)."""
        return bool(self.sha256)

    def to_json_dict(self) -> dict[str, object]:
        item = self.item
        return {
            "key": self.key,
            "sha256": self.sha256,
            "size": self.size,
            "content_type": self.content_type,
            "thumbnail_key": self.thumbnail_key,
            "metadata_key": self.metadata_key,
            "item": item.to_json() if item is not None else None,
            "taken_at": self.taken_at,
            "uploaded_at": self.uploaded_at,
        }

    @property
    def parts(self) -> tuple[str, ...]:
        """Every key that belongs to this photo and exists (original first)."""
        keys = (self.key, self.thumbnail_key, self.preview_key, self.metadata_key)
        return tuple(k for k in keys if k)


@dataclass
class Collection:
    """A destination read once: its listing, every index entry and sidecar found, and
    the photos they make."""

    prefix: str
    listing: Listing
    entries: dict[str, IndexEntry]  # sha256 -> entry, bucket-wide
    damaged_entries: list[str] = field(default_factory=list)  # index keys that do not parse
    sidecars: dict[str, dict[str, object]] = field(default_factory=dict)  # by sidecar key
    photos: list[Photo] = field(default_factory=list)

    def photo(self, key: str) -> Photo | None:
        return self._photos_by_key.get(key)

    def entry_of(self, key: str) -> tuple[str, IndexEntry] | None:
        """The (sha256, entry) whose original is at `key`; None when none is."""
        return self._entries_by_key.get(key)

    # Lookups by key, made once: a delete or a repair of many photos asks for each, and
    # a scan per ask is quadratic in a bucket of 100,000 (photos are set once, by
    # read_collection, before anyone asks).
    @functools.cached_property
    def _photos_by_key(self) -> dict[str, Photo]:
        return {photo.key: photo for photo in self.photos}

    @functools.cached_property
    def _entries_by_key(self) -> dict[str, tuple[str, IndexEntry]]:
        return {entry.key: (sha256, entry) for sha256, entry in self.entries.items()}


def read_collection(
    store: ReadableStore,
    prefix: str,
    *,
    catalogue: Catalogue | None = None,
    endpoint_url: str | None = None,
    workers: int = READ_WORKERS,
    cancelled: Callable[[], bool] = lambda: False,
    on_progress: ProgressCallback | None = None,
) -> Collection:
    """List the destination and the index, read the entries and sidecars it needs (from
    the catalogue where the ETag still matches), and make its photos. Cancelled (the
    exception) when `cancelled()` says so before the end."""
    say = on_progress or (lambda _progress: None)
    listing = list_everything(
        store,
        [prefix, INDEX_PREFIX],
        on_page=lambda count: say(Progress("listing", count)),
        cancelled=cancelled,
    )
    index_keys = [k for k in listing.sizes if index_sha256(k) is not None]
    sidecar_keys = [
        sidecar_key(k)
        for k in listing.sizes
        if k.startswith(prefix) and is_original_name(k) and sidecar_key(k) in listing
    ]
    bodies = _bodies(
        store,
        listing,
        [*index_keys, *sidecar_keys],
        catalogue=catalogue,
        store_name=store_id(endpoint_url, store.bucket),
        workers=workers,
        cancelled=cancelled,
        say=say,
    )
    if cancelled():
        raise Cancelled()
    collection = Collection(prefix, listing, {})
    for key in index_keys:
        entry = IndexEntry.from_json(bodies[key]) if key in bodies else None
        if entry is None:
            collection.damaged_entries.append(key)
        else:
            collection.entries[index_sha256(key) or ""] = entry
    for key in sidecar_keys:
        record = stored_record(bodies.get(key))
        if record is not None:
            collection.sidecars[key] = record
    collection.photos = _photos(collection)
    return collection


def _bodies(
    store: ReadableStore,
    listing: Listing,
    keys: list[str],
    *,
    catalogue: Catalogue | None,
    store_name: str,
    workers: int,
    cancelled: Callable[[], bool],
    say: ProgressCallback,
) -> dict[str, bytes]:
    def fetch(key: str) -> tuple[str, bytes | None]:
        return key, None if cancelled() else store.get_bytes(key, SMALL_BODY_LIMIT)

    def fetch_all(missing: list[str]) -> list[tuple[str, bytes | None]]:
        say(Progress("reading", 0, len(missing)))
        read: list[tuple[str, bytes | None]] = []
        pool = concurrent.futures.ThreadPoolExecutor(max(1, min(workers, len(missing))))
        try:
            for done, pair in enumerate(pool.map(fetch, missing), 1):
                if done % 100 == 0 or done == len(missing):
                    say(Progress("reading", done, len(missing)))
                read.append(pair)
        finally:
            # Not waiting on an exception (a signal, a cancel): a request stuck on a
            # server that stopped answering would hold the command until it times out.
            pool.shutdown(wait=sys.exc_info()[0] is None, cancel_futures=True)
        return read

    etags = {key: listing.etags.get(key, "") for key in keys}
    found = read_through(catalogue, store_name, etags, fetch_all)
    if catalogue is not None:
        catalogue.keep_listing(store_name, listing.prefixes, listing.rows())
    return found


def _photos(collection: Collection) -> list[Photo]:
    listing, prefix = collection.listing, collection.prefix
    photos: dict[str, Photo] = {}
    for sha256, entry in collection.entries.items():
        if not entry.key.startswith(prefix) or listing.sizes.get(entry.key) != entry.size:
            continue  # elsewhere in the bucket, or pointing nowhere (check says so)
        sidecar = collection.sidecars.get(sidecar_key(entry.key))
        photos[entry.key] = photo_from_entry(sha256, entry, sidecar, listing)
    for key, record in collection.sidecars.items():
        original = key[: -len(".json")]
        if original in photos or original not in listing:
            continue
        photo = photo_from_sidecar(
            original, listing.sizes[original], record, listing, indexed=False
        )
        if photo is not None:
            photos[original] = photo
    return sorted(photos.values(), key=lambda p: p.key)


def is_photo_candidate(key: str, prefix: str) -> bool:
    """Whether a listed key may be a photo under `prefix`: an original by its name, not
    in a thumbnails/ or previews/ folder (where derivatives go)."""
    if not key.startswith(prefix) or not is_original_name(key):
        return False
    folders = "/" + key[len(prefix) : key.rfind("/") + 1]
    return "/thumbnails/" not in folders and "/previews/" not in folders


def photo_from_entry(
    sha256: str,
    entry: IndexEntry,
    sidecar: Mapping[str, object] | None,
    present: Container[str],
) -> Photo:
    """The photo an index entry points at (with its sidecar's fields when it has one);
    `present` holds the keys listed, so derivatives that are gone are not named."""
    return _photo(
        entry.key,
        sha256,
        entry.size,
        entry.content_type,
        entry.thumbnail_key,
        entry.preview_key,
        sidecar,
        present,
    )


def photo_from_sidecar(
    key: str,
    size: int,
    record: Mapping[str, object],
    present: Container[str],
    *,
    indexed: bool,
) -> Photo | None:
    """The photo at `key` as its sidecar (a stored record of ours) describes it; None
    when the sidecar names no content."""
    named = record.get("sha256")
    if not isinstance(named, str) or not named:
        return None
    derivatives = record.get("derivatives")
    made = derivatives if isinstance(derivatives, dict) else {}
    return _photo(
        key,
        named,
        size,
        str(record.get("content_type") or "application/octet-stream"),
        _text(made.get("thumbnail")),
        _text(made.get("preview")),
        record,
        present,
        indexed=indexed,
    )


def photo_not_ours(key: str, size: int) -> Photo:
    """A photo no index entry or sidecar of ours names (another tool put it there)."""
    dot = key.rfind(".")
    content_type = _CONTENT_TYPES.get(key[dot:].lower(), "application/octet-stream")
    return Photo(key, "", size, content_type, indexed=False)


def photo_listed(key: str, size: int, *, has_sidecar: bool) -> Photo:
    """A photo as a listing alone shows it: its details are still to be read."""
    dot = key.rfind(".")
    content_type = _CONTENT_TYPES.get(key[dot:].lower(), "application/octet-stream")
    metadata = sidecar_key(key) if has_sidecar else None
    return Photo(key, "", size, content_type, metadata_key=metadata, indexed=False, detailed=False)


def _photo(
    key: str,
    sha256: str,
    size: int,
    content_type: str,
    thumbnail_key: str | None,
    preview_key: str | None,
    sidecar: Mapping[str, object] | None,
    present: Container[str],
    *,
    indexed: bool = True,
) -> Photo:
    record = sidecar or {}
    named = record.get("item")
    item = Item.from_fields(named) if isinstance(named, dict) else None
    return Photo(
        key=key,
        sha256=sha256,
        size=size,
        content_type=content_type,
        thumbnail_key=thumbnail_key if thumbnail_key in present else None,
        preview_key=preview_key if preview_key in present else None,
        metadata_key=sidecar_key(key) if sidecar is not None else None,
        taken_at=_text(record.get("taken_at")),
        uploaded_at=_text(record.get("uploaded_at")),
        has_gps=bool(record.get("gps")),
        indexed=indexed,
    ).with_item(item)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
