"""Deleting photos whole: the original, its thumbnail and preview, its metadata file and
its index entry together, so nothing of it is left orphaned and nothing else is touched.

The original goes first and the index entry last: a delete cut short leaves at worst
leftovers and an entry pointing nowhere, which `check` finds and repair removes, never
a photo that looks whole but is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.core.collection import (
    SMALL_BODY_LIMIT,
    Collection,
    Listing,
    Photo,
    ReadableStore,
    is_original_name,
)
from app.core.errors import StoreError
from app.core.sidecar import sidecar_key
from app.core.store import IndexEntry, index_key


class DeletingStore(Protocol):
    def delete_object(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Removal:
    """One photo to delete: every key of it that exists, original first, entry last."""

    key: str
    parts: tuple[str, ...]


def plan_removals(collection: Collection, keys: Iterable[str]) -> tuple[list[Removal], list[str]]:
    """The removals for the photos at `keys`, and the keys that are not photos here."""
    removals: list[Removal] = []
    unknown: list[str] = []
    seen: set[str] = set()
    listing = collection.listing
    for key in keys:
        if key in seen:
            continue
        seen.add(key)
        photo = collection.photo(key)
        if photo is None:
            if key in listing and is_original_name(key) and key.startswith(collection.prefix):
                removals.append(Removal(key, (key,)))  # a photo another tool put there
            else:
                unknown.append(key)
            continue
        entry = collection.entries.get(photo.sha256)
        named = [photo.thumbnail_key, photo.preview_key, sidecar_key(key)]
        if entry is not None and entry.key == key:
            named += [entry.thumbnail_key, entry.preview_key]
        parts = [key, *sorted({k for k in named if k and k in listing and k != key})]
        if entry is not None and entry.key == key:
            parts.append(index_key(photo.sha256))
        removals.append(Removal(key, tuple(parts)))
    return removals, unknown


def plan_removals_of(
    store: ReadableStore, listing: Listing, prefix: str, photos: Sequence[Photo]
) -> tuple[list[Removal], list[str]]:
    """The removals for a few photos known from a Survey (not a whole read): their index
    entries are read now, so an entry that names another copy of the same content is
    left alone. A photo whose details are not read yet is refused (StoreError)."""
    waiting = [p.key for p in photos if not p.detailed]
    if waiting:
        raise StoreError(
            f"The details of {waiting[0]} are still being read; try again in a moment."
        )
    entries: dict[str, IndexEntry] = {}
    for photo in photos:
        if photo.sha256 and index_key(photo.sha256) in listing:
            body = store.get_bytes(index_key(photo.sha256), SMALL_BODY_LIMIT)
            entry = IndexEntry.from_json(body) if body is not None else None
            if entry is not None:
                entries[photo.sha256] = entry
    ours = [photo for photo in photos if photo.ours]
    collection = Collection(prefix, listing, entries, photos=ours)
    return plan_removals(collection, [photo.key for photo in photos])


def describe_removals(removals: Sequence[Removal]) -> str:
    """What a delete takes away, for the confirmation."""
    count = sum(len(r.parts) for r in removals)
    photos = "1 photo" if len(removals) == 1 else f"{len(removals)} photos"
    return (
        f"Delete {photos}: each original with its thumbnail, preview, metadata file and "
        f"index entry ({count} objects in all)."
    )


def remove(store: DeletingStore, removal: Removal) -> None:
    """Delete one photo's parts in order (StoreError when one cannot be deleted)."""
    for key in removal.parts:
        store.delete_object(key)


VERSIONING_CAUTION = (
    "This bucket keeps earlier versions of objects: what is deleted stays there as an "
    "older version (and is billed) until the bucket's lifecycle rules remove it."
)
