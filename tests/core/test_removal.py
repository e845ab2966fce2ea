"""Deleting a photo takes all of it and nothing else."""

from __future__ import annotations

from app.core.collection import read_collection
from app.core.removal import describe_removals, plan_removals, remove
from app.core.store import index_key
from tests.helpers.buckets import jpeg_bytes, put_photo
from tests.helpers.fakes import FakeStore, StoredObject


def test_a_removal_takes_original_first_and_index_entry_last() -> None:
    store = FakeStore()
    sha = put_photo(store, "a.jpg", jpeg_bytes("red"), preview=True)
    put_photo(store, "b.jpg", jpeg_bytes("blue"))
    store.objects["loose.jpg"] = StoredObject(jpeg_bytes("green"), "image/jpeg")

    removals, unknown = plan_removals(
        read_collection(store, ""), ["a.jpg", "a.jpg", "loose.jpg", "nope.jpg"]
    )

    assert unknown == ["nope.jpg"]
    first = removals[0]
    assert first.parts[0] == "a.jpg" and first.parts[-1] == index_key(sha)
    assert set(first.parts) == {
        "a.jpg", "thumbnails/a.jpg", "previews/a.jpg", "a.jpg.json", index_key(sha),
    }  # fmt: skip
    assert removals[1].parts == ("loose.jpg",)  # another tool's photo: only itself
    assert describe_removals(removals) == (
        "Delete 2 photos: each original with its thumbnail, preview, metadata file and "
        "index entry (6 objects in all)."
    )
    for removal in removals:
        remove(store, removal)
    assert sorted(k for k in store.objects if not k.startswith(".")) == [
        "b.jpg", "b.jpg.json", "thumbnails/b.jpg",
    ]  # fmt: skip
