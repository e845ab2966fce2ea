"""Check a destination for photos that are not whole, and repair them.

What a check finds, each as one Problem with a sentence: a thumbnail, preview or
metadata file that went missing; index entries pointing nowhere or damaged; leftovers
(derivatives or metadata whose photo is gone); photos whose index entry was lost (their
metadata still names their hash); originals another tool put there (offered for
adoption); and, with a deep check, originals whose bytes no longer match their SHA-256.
Photos uploaded before metadata files existed are one grouped line, not one each.

Repair makes what is missing from the original (downloaded to a temporary file,
streamed) and removes leftovers only when the caller says removing is allowed (the CLI
asks, the window asks). Everything here blocks.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from app.core.collection import (
    Cancelled,
    Collection,
    Progress,
    ProgressCallback,
    ReadableStore,
    index_sha256,
    is_original_name,
)
from app.core.errors import StoreError
from app.core.formats import HEAD_SIZE, detect_format
from app.core.hashing import inspect_file
from app.core.keys import KeyTemplate, KeyTemplateError, render_keys
from app.core.models import FileOutcome, Item
from app.core.photofacts import PhotoFacts, read_photo_facts
from app.core.sidecar import CONTENT_TYPE as SIDECAR_TYPE
from app.core.sidecar import sidecar_json, sidecar_key
from app.core.store import INDEX_PREFIX, IndexEntry, index_key
from app.core.thumbnails import PreviewSpec, ThumbnailError, ThumbnailSpec, make_derivatives

DERIVATIVE_FOLDERS = ("thumbnails/", "previews/")


class RepairableStore(ReadableStore, Protocol):
    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None: ...
    def record_hash(self, sha256: str, entry: IndexEntry) -> None: ...
    def delete_object(self, key: str) -> None: ...
    def download_to(self, key: str, target: Path) -> bool: ...
    def object_sha256(self, key: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong, said once. `fix` says what repair does (None: nothing it can);
    `removes` lists what that fix deletes, which needs the collector's yes."""

    kind: str
    key: str
    message: str
    fix: str | None
    removes: tuple[str, ...] = ()
    covers: tuple[str, ...] = ()  # a grouped line: every photo it stands for
    sha256: str | None = None

    def to_json_dict(self) -> dict[str, object]:
        record: dict[str, object] = {
            "problem": self.kind,
            "key": self.key,
            "message": self.message,
            "fix": self.fix,
        }
        if self.removes:
            record["removes"] = list(self.removes)
        if self.covers:
            record["count"] = len(self.covers)
        return record


@dataclass(slots=True)
class Repaired:
    """What repair did with one problem: fixed, or why not (one sentence)."""

    problem: Problem
    fixed: bool
    detail: str


@dataclass(slots=True)
class _Owned:
    """Keys some live photo owns (so they are not leftovers)."""

    keys: set[str] = field(default_factory=set)

    def add(self, *keys: str | None) -> None:
        self.keys.update(k for k in keys if k)


def find_problems(
    collection: Collection,
    *,
    store: RepairableStore | None = None,
    deep: bool = False,
    on_progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[Problem]:
    """Everything not whole in `collection`; `deep` (needs `store`) re-reads every
    original and compares its SHA-256."""
    listing, prefix = collection.listing, collection.prefix
    problems: list[Problem] = []
    owned = _Owned()
    older: list[str] = []
    dead_parts: set[str] = set()
    for sha256, entry in sorted(collection.entries.items(), key=lambda kv: kv[1].key):
        if not entry.key.startswith(prefix):
            continue
        sidecar = sidecar_key(entry.key)
        if listing.sizes.get(entry.key) != entry.size:
            left = tuple(
                k for k in (entry.thumbnail_key, entry.preview_key, sidecar) if k and k in listing
            )
            dead_parts.update(left)
            problems.append(
                Problem(
                    "entry_dangling",
                    entry.key,
                    f"{entry.key} is in the duplicate index but no longer in the bucket"
                    + (" (its thumbnail or metadata are still there)." if left else "."),
                    "remove its index entry" + (" and what is left of it" if left else ""),
                    removes=(index_key(sha256), *left),
                    sha256=sha256,
                )
            )
            continue
        owned.add(entry.key, entry.thumbnail_key, entry.preview_key, sidecar)
        if entry.thumbnail_key and entry.thumbnail_key not in listing:
            problems.append(
                Problem(
                    "thumbnail_missing",
                    entry.key,
                    f"{entry.key} has lost its thumbnail ({entry.thumbnail_key}).",
                    "make the thumbnail again from the photo",
                    sha256=sha256,
                )
            )
        if entry.preview_key and entry.preview_key not in listing:
            problems.append(
                Problem(
                    "preview_missing",
                    entry.key,
                    f"{entry.key} has lost its preview ({entry.preview_key}).",
                    "make the preview again from the photo",
                    sha256=sha256,
                )
            )
        if sidecar not in listing:
            if entry.metadata_key is None:
                older.append(entry.key)
            else:
                problems.append(
                    Problem(
                        "sidecar_missing",
                        entry.key,
                        f"{entry.key} has lost its metadata file ({sidecar}).",
                        "write the metadata file again from the photo",
                        sha256=sha256,
                    )
                )
    if older:
        count = len(older)
        noun = "photo has" if count == 1 else "photos have"
        problems.append(
            Problem(
                "older_without_sidecar",
                "",
                f"Older photos without a metadata file ({count}): {count} {noun} none, "
                "as uploaded before metadata files were written.",
                "write their metadata files from the photos",
                covers=tuple(older),
            )
        )
    for photo in collection.photos:
        if not photo.indexed:
            owned.add(photo.key, photo.thumbnail_key, photo.preview_key, photo.metadata_key)
            problems.append(
                Problem(
                    "entry_missing",
                    photo.key,
                    f"{photo.key} is missing from the duplicate index (its metadata "
                    "still names its content).",
                    "write its index entry again",
                    sha256=photo.sha256,
                )
            )
    reindexed = {index_key(photo.sha256) for photo in collection.photos if not photo.indexed}
    for key in collection.damaged_entries:
        if key in reindexed:
            continue  # its photo's metadata names it: writing the entry again mends it
        problems.append(
            Problem(
                "entry_damaged",
                key,
                f"The index entry {key} cannot be read.",
                "remove it (the photo it stood for is found and indexed again)",
                removes=(key,),
            )
        )
    problems += _leftovers(collection, owned.keys, dead_parts)
    if deep and store is not None:
        problems += _deep_check(collection, store, on_progress, cancelled)
    return problems


def _leftovers(collection: Collection, owned: set[str], dead_parts: set[str]) -> list[Problem]:
    listing, prefix = collection.listing, collection.prefix
    derivative_folders = tuple(prefix + folder for folder in DERIVATIVE_FOLDERS)
    problems: list[Problem] = []
    for key in sorted(listing.sizes):
        if key in owned or key in dead_parts or not key.startswith(prefix):
            continue
        if key.startswith(INDEX_PREFIX) or index_sha256(key) is not None:
            continue
        original = key[: -len(".json")]
        if key.endswith(".json") and is_original_name(original) and original not in listing:
            problems.append(
                Problem(
                    "leftover",
                    key,
                    f"{key} is a metadata file whose photo is no longer in the bucket.",
                    "remove it",
                    removes=(key,),
                )
            )
        elif key.startswith(derivative_folders) and is_original_name(key):
            problems.append(
                Problem(
                    "leftover",
                    key,
                    f"{key} is a thumbnail or preview whose photo is no longer in the bucket.",
                    "remove it",
                    removes=(key,),
                )
            )
        elif is_original_name(key):
            problems.append(
                Problem(
                    "not_indexed",
                    key,
                    f"{key} was not uploaded by Photo Uploader: it has no index entry, "
                    "thumbnail or metadata.",
                    "adopt it: hash it, make its thumbnail and metadata, and index it",
                )
            )
    return problems


def _deep_check(
    collection: Collection,
    store: RepairableStore,
    on_progress: ProgressCallback | None,
    cancelled: Callable[[], bool],
) -> list[Problem]:
    problems: list[Problem] = []
    photos = collection.photos
    for done, photo in enumerate(photos, 1):
        if cancelled():
            raise Cancelled()
        actual = store.object_sha256(photo.key)
        if actual is not None and actual != photo.sha256:
            problems.append(
                Problem(
                    "content_changed",
                    photo.key,
                    f"{photo.key} no longer has the content it was uploaded with (its "
                    "SHA-256 differs): upload it again from your own copy.",
                    None,
                    sha256=photo.sha256,
                )
            )
        if on_progress is not None:
            on_progress(Progress("re-reading originals", done, len(photos)))
    return problems


# -- repair -------------------------------------------------------------------------


def repair_all(
    store: RepairableStore,
    collection: Collection,
    problems: Sequence[Problem],
    *,
    may_remove: bool,
    on_progress: ProgressCallback | None = None,
    on_repaired: Callable[[Repaired], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[Repaired]:
    """Repair each problem in turn (the command line's `check --repair` and the window's
    Check both do it here); what was done with each, in order. Stops before the next one
    when `cancelled()` says so: the list is then shorter than `problems`."""
    repairer = Repairer(store, collection)
    results: list[Repaired] = []
    for done, problem in enumerate(problems, 1):
        if cancelled():
            break
        result = repairer.repair(problem, may_remove=may_remove)
        results.append(result)
        if on_repaired is not None:
            on_repaired(result)
        if on_progress is not None:
            on_progress(Progress("repairing", done, len(problems)))
    return results


class Repairer:
    """Mends problems in one destination, one at a time (each independent of the rest)."""

    def __init__(
        self,
        store: RepairableStore,
        collection: Collection,
        *,
        thumbnail: ThumbnailSpec | None = None,
        work_dir: Path | None = None,
    ) -> None:
        self._store = store
        self._collection = collection
        self._thumbnail = thumbnail or ThumbnailSpec()
        self._work_dir = work_dir

    def repair(self, problem: Problem, *, may_remove: bool) -> Repaired:
        if problem.fix is None:
            return Repaired(problem, False, "nothing to repair here; see the message")
        if problem.removes and not may_remove:
            return Repaired(problem, False, "left as it is (removing was not allowed)")
        try:
            detail = self._mend(problem)
        except (StoreError, OSError, ThumbnailError) as exc:
            return Repaired(problem, False, str(exc))
        return Repaired(problem, True, detail)

    def _mend(self, problem: Problem) -> str:
        if problem.removes:
            for key in problem.removes:
                self._store.delete_object(key)
            count = len(problem.removes)
            return f"removed {count} object{'s' if count != 1 else ''}"
        if problem.kind == "older_without_sidecar":
            for key in problem.covers:
                self._remake(key, self._entry_of(key), sidecar=True)
            return f"wrote {len(problem.covers)} metadata files"
        if problem.kind == "entry_missing":
            return self._reindex(problem.key)
        if problem.kind == "not_indexed":
            return self._adopt(problem.key)
        entry = self._entry_of(problem.key)
        return self._remake(
            problem.key,
            entry,
            thumbnail=problem.kind == "thumbnail_missing",
            preview=problem.kind == "preview_missing",
            sidecar=problem.kind == "sidecar_missing",
        )

    def _entry_of(self, key: str) -> tuple[str, IndexEntry]:
        found = self._collection.entry_of(key)
        if found is None:
            raise StoreError(f"{key} is no longer in the duplicate index.")
        return found

    @contextmanager
    def _original(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="photo-uploader-", dir=self._work_dir) as tmp:
            path = Path(tmp) / (PurePosixPath(key).name or "photo")
            if not self._store.download_to(key, path):
                raise StoreError(f"{key} is no longer in the bucket.")
            yield path

    def _remake(
        self,
        key: str,
        found: tuple[str, IndexEntry],
        *,
        thumbnail: bool = False,
        preview: bool = False,
        sidecar: bool = False,
    ) -> str:
        sha256, entry = found
        made: list[str] = []
        with self._original(key) as path:
            if thumbnail or preview:
                spec = _preview_spec(entry.preview_key) if preview else None
                derivatives = make_derivatives(path, self._thumbnail, spec)
                if thumbnail and entry.thumbnail_key:
                    self._store.put_bytes(
                        entry.thumbnail_key, derivatives.thumbnail, content_type="image/jpeg"
                    )
                    made.append("thumbnail")
                if preview and entry.preview_key and spec and derivatives.preview:
                    self._store.put_bytes(
                        entry.preview_key, derivatives.preview, content_type=spec.content_type
                    )
                    made.append("preview")
            if sidecar:
                listing = self._collection.listing
                self._write_sidecar(
                    sha256,
                    entry,
                    _facts(path),
                    thumbnail=bool(entry.thumbnail_key) and entry.thumbnail_key in listing,
                    preview=bool(entry.preview_key) and entry.preview_key in listing,
                )
                made.append("metadata file")
        return "made its " + " and ".join(made)

    def _write_sidecar(
        self, sha256: str, entry: IndexEntry, facts: PhotoFacts, *, thumbnail: bool, preview: bool
    ) -> None:
        """The sidecar for a photo already in the bucket, with `thumbnail`/`preview`
        saying whether those derivatives are there."""
        key = entry.key
        outcome = FileOutcome(
            path=Path(PurePosixPath(key).name),
            size=entry.size,
            sha256=sha256,
            content_type=entry.content_type,
            key=key,
            thumbnail_key=entry.thumbnail_key,
            thumbnail_in_bucket=thumbnail,
            preview_key=entry.preview_key,
            preview_in_bucket=preview,
            folder=str(PurePosixPath(key[len(self._collection.prefix) :]).parent).strip("."),
        )
        body = sidecar_json(outcome, facts, item=Item())
        self._store.put_bytes(sidecar_key(key), body, content_type=SIDECAR_TYPE)

    def _reindex(self, key: str) -> str:
        photo = self._collection.photo(key)
        if photo is None:
            raise StoreError(f"{key} is no longer in the bucket.")
        entry = IndexEntry(
            key=key,
            thumbnail_key=photo.thumbnail_key,
            size=photo.size,
            content_type=photo.content_type,
            preview_key=photo.preview_key,
            metadata_key=photo.metadata_key,
        )
        self._store.record_hash(photo.sha256, entry)
        return "wrote its index entry from its metadata"

    def _adopt(self, key: str) -> str:
        with self._original(key) as path:
            read = inspect_file(path, HEAD_SIZE)  # (a temporary file of ours: it holds still)
            sha256, size = read.sha256, read.size
            known = self._collection.entries.get(sha256)
            if known is not None and known.key != key and known.key in self._collection.listing:
                raise StoreError(f"it is the same photo as {known.key}; left as it is")
            fmt = detect_format(read.head, path.name)
            name = PurePosixPath(key).name
            try:
                _, thumbnail_key = render_keys(
                    KeyTemplate(),
                    prefix=self._collection.prefix,
                    filename=name,
                    sha256=sha256,
                    ext=PurePosixPath(name).suffix.lower(),
                )
            except KeyTemplateError as exc:
                raise StoreError(str(exc)) from exc
            said = "hashed it"
            try:
                derivatives = make_derivatives(path, self._thumbnail)
            except ThumbnailError as exc:
                thumbnail: str | None = None
                said += f"; no thumbnail: {exc}"
            else:
                self._store.put_bytes(
                    thumbnail_key, derivatives.thumbnail, content_type="image/jpeg"
                )
                thumbnail = thumbnail_key
                said += ", made its thumbnail"
            entry = IndexEntry(
                key=key,
                thumbnail_key=thumbnail,
                size=size,
                content_type=fmt.content_type if fmt else "application/octet-stream",
                metadata_key=sidecar_key(key),
            )
            facts = read_photo_facts(path, fmt) if fmt is not None else PhotoFacts()
            self._write_sidecar(
                sha256, entry, facts, thumbnail=thumbnail is not None, preview=False
            )
            self._store.record_hash(sha256, entry)
        return said + ", wrote its metadata and index entry"


def _preview_spec(preview_key: str | None) -> PreviewSpec:
    webp = bool(preview_key and preview_key.lower().endswith(".webp"))
    return PreviewSpec(format="webp" if webp else "jpeg")


def _facts(path: Path) -> PhotoFacts:
    with path.open("rb") as handle:
        fmt = detect_format(handle.read(HEAD_SIZE), path.name)
    return read_photo_facts(path, fmt) if fmt is not None else PhotoFacts()
