"""Checking a destination for photos that are not whole, and repairing them."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from app.core.checkup import Repairer, find_problems, repair_all
from app.core.collection import Cancelled, Progress, read_collection
from app.core.sidecar import sidecar_key
from app.core.store import IndexEntry, index_key
from tests.helpers.buckets import jpeg_bytes, put_photo
from tests.helpers.fakes import FakeStore, StoredObject


def kinds(store: FakeStore, prefix: str = "", deep: bool = False) -> list[tuple[str, str]]:
    problems = find_problems(read_collection(store, prefix), store=store, deep=deep)
    return [(p.kind, p.key) for p in problems]


def repaired(store: FakeStore, *, may_remove: bool, prefix: str = "") -> list[bool]:
    collection = read_collection(store, prefix)
    problems = find_problems(collection, store=store)
    done = repair_all(store, collection, problems, may_remove=may_remove)
    return [r.fixed for r in done]


def test_a_whole_bucket_has_no_problems() -> None:
    store = FakeStore()
    put_photo(store, "coins/a.jpg", jpeg_bytes("red"), preview=True)
    put_photo(store, "coins/b.jpg", jpeg_bytes("blue"))
    store.objects["coins/notes.txt"] = StoredObject(b"mine", "text/plain")
    assert kinds(store) == []


def test_lost_derivatives_and_metadata_are_found_and_made_again() -> None:
    store = FakeStore()
    put_photo(store, "a.jpg", jpeg_bytes("red", (640, 480)), preview=True)
    put_photo(store, "b.jpg", jpeg_bytes("blue"))
    del store.objects["thumbnails/a.jpg"]
    del store.objects["previews/a.jpg"]
    del store.objects[sidecar_key("b.jpg")]

    assert kinds(store) == [
        ("thumbnail_missing", "a.jpg"),
        ("preview_missing", "a.jpg"),
        ("sidecar_missing", "b.jpg"),
    ]
    assert repaired(store, may_remove=False) == [True, True, True]

    assert kinds(store) == []
    with Image.open(io.BytesIO(store.objects["thumbnails/a.jpg"].data)) as thumbnail:
        assert thumbnail.size == (300, 225)
    with Image.open(io.BytesIO(store.objects["previews/a.jpg"].data)) as preview:
        assert preview.size == (640, 480)  # (never upscaled)
    sidecar = json.loads(store.objects[sidecar_key("b.jpg")].data)
    assert sidecar["key"] == "b.jpg" and sidecar["width"] == 80
    assert sidecar["derivatives"]["thumbnail"] == "thumbnails/b.jpg"


def test_leftovers_are_removed_only_when_allowed() -> None:
    store = FakeStore()
    gone = put_photo(store, "a.jpg", jpeg_bytes("red"))
    kept = put_photo(store, "b.jpg", jpeg_bytes("blue"))
    del store.objects["a.jpg"]
    store.objects["thumbnails/orphan.jpg"] = StoredObject(jpeg_bytes(), "image/jpeg")
    store.objects["c.jpg.json"] = StoredObject(b"{}", "application/json")
    before = set(store.objects)

    problems = find_problems(read_collection(store, ""))
    assert [(p.kind, p.key) for p in problems] == [
        ("entry_dangling", "a.jpg"),
        ("leftover", "c.jpg.json"),
        ("leftover", "thumbnails/orphan.jpg"),
    ]
    assert set(problems[0].removes) == {index_key(gone), "thumbnails/a.jpg", "a.jpg.json"}

    assert repaired(store, may_remove=False) == [False, False, False]
    assert set(store.objects) == before
    assert repaired(store, may_remove=True) == [True, True, True]
    assert set(store.objects) == {"b.jpg", "b.jpg.json", "thumbnails/b.jpg", index_key(kept)}
    assert kinds(store) == []


def test_an_original_another_tool_uploaded_is_adopted_unless_it_is_a_copy() -> None:
    store = FakeStore()
    put_photo(store, "a.jpg", jpeg_bytes("red"))
    store.objects["scans/new.jpg"] = StoredObject(jpeg_bytes("green", (400, 200)), "image/jpeg")
    store.objects["scans/copy.jpg"] = StoredObject(jpeg_bytes("red"), "image/jpeg")

    assert kinds(store) == [("not_indexed", "scans/copy.jpg"), ("not_indexed", "scans/new.jpg")]
    assert repaired(store, may_remove=True) == [False, True]

    assert kinds(store) == [("not_indexed", "scans/copy.jpg")]
    collection = read_collection(store, "")
    adopted = collection.photo("scans/new.jpg")
    assert adopted is not None and adopted.metadata_key == "scans/new.jpg.json"
    assert adopted.thumbnail_key is not None and adopted.thumbnail_key.startswith("thumbnails/new-")


def test_older_photos_without_sidecars_are_one_line() -> None:
    store = FakeStore()
    for colour in ("red", "green", "blue"):
        put_photo(
            store, f"{colour}.jpg", jpeg_bytes(colour), sidecar=False, entry_names_sidecar=False
        )

    problems = find_problems(read_collection(store, ""))

    assert [(p.kind, len(p.covers)) for p in problems] == [("older_without_sidecar", 3)]
    assert problems[0].message.startswith("Older photos without a metadata file (3)")
    assert repaired(store, may_remove=False) == [True]
    assert kinds(store) == []


def test_a_lost_or_damaged_index_entry() -> None:
    store = FakeStore()
    lost = put_photo(store, "a.jpg", jpeg_bytes("red"))
    damaged = put_photo(store, "b.jpg", jpeg_bytes("blue"))
    del store.objects[index_key(lost)]
    store.objects[index_key(damaged)] = StoredObject(b"{not json", "application/json")

    assert kinds(store) == [("entry_missing", "a.jpg"), ("entry_missing", "b.jpg")]
    assert repaired(store, may_remove=True) == [True, True]
    assert kinds(store) == []
    del store.objects["b.jpg.json"]  # now nothing names b.jpg's content
    store.objects[index_key(damaged)] = StoredObject(b"{not json", "application/json")
    assert kinds(store) == [
        ("entry_damaged", index_key(damaged)),
        ("not_indexed", "b.jpg"),
        ("leftover", "thumbnails/b.jpg"),
    ]
    assert repaired(store, may_remove=True) == [True, True, True]  # removed, adopted, removed
    assert kinds(store) == []
    entry = IndexEntry.from_json(store.objects[index_key(lost)].data)
    assert entry is not None and entry.key == "a.jpg" and entry.thumbnail_key == "thumbnails/a.jpg"


def test_a_deep_check_compares_every_original_with_its_hash() -> None:
    store = FakeStore()
    put_photo(store, "a.jpg", jpeg_bytes("red"))
    original = bytearray(store.objects["a.jpg"].data)
    original[-5] ^= 0xFF
    store.objects["a.jpg"] = StoredObject(bytes(original), "image/jpeg")
    seen: list[int] = []

    problems = find_problems(
        read_collection(store, ""),
        store=store,
        deep=True,
        on_progress=lambda p: seen.append(p.done),
    )

    assert [(p.kind, p.fix) for p in problems] == [("content_changed", None)]
    assert seen == [1]
    assert kinds(store) == []  # a quick check reads no originals


def test_a_repair_that_fails_says_why_and_changes_nothing_else() -> None:
    store = FakeStore()
    put_photo(store, "a.jpg", b"not an image at all, just bytes")
    del store.objects["thumbnails/a.jpg"]
    collection = read_collection(store, "")
    (problem,) = find_problems(collection)

    done = Repairer(store, collection).repair(problem, may_remove=True)

    assert (
        not done.fixed and done.detail == "This file is not a supported image (it looks like text)."
    )
    assert "thumbnails/a.jpg" not in store.objects


def test_repairing_says_how_far_it_is_and_stops_when_cancelled() -> None:
    store = FakeStore()
    for colour in ("red", "green", "blue"):
        put_photo(store, f"{colour}.jpg", jpeg_bytes(colour))
        del store.objects[f"thumbnails/{colour}.jpg"]
    collection = read_collection(store, "")
    problems = find_problems(collection)
    steps: list[Progress] = []

    done = repair_all(
        store,
        collection,
        problems,
        may_remove=False,
        on_progress=steps.append,
        cancelled=lambda: len(steps) == 2,
    )

    assert [r.fixed for r in done] == [True, True]  # the third was not started
    assert steps == [Progress("repairing", 1, 3), Progress("repairing", 2, 3)]
    assert sorted(k for k in store.objects if k.startswith("thumbnails/")) == [
        "thumbnails/blue.jpg",
        "thumbnails/green.jpg",
    ]


def test_reading_whole_says_how_far_it_is_and_a_cancel_stops_it() -> None:
    store = FakeStore(page_size=2)
    for n in range(5):
        put_photo(store, f"p{n}.jpg", jpeg_bytes(size=(10 + n, 10)))
    steps: list[Progress] = []

    read_collection(store, "", on_progress=steps.append)

    assert steps[0].step == "listing" and steps[-1] == Progress("reading", 10, 10)
    with pytest.raises(Cancelled):
        read_collection(store, "", cancelled=lambda: True)
    with pytest.raises(Cancelled):
        find_problems(read_collection(store, ""), store=store, deep=True, cancelled=lambda: True)
