"""Editing the item of a photo in the bucket: its sidecar rewritten, all else kept."""

from __future__ import annotations

import json

import pytest

from app.core.collection import read_collection
from app.core.errors import StoreError
from app.core.itemedits import set_item
from app.core.models import Item
from app.core.sidecar import sidecar_key
from tests.helpers.buckets import jpeg_bytes, put_photo
from tests.helpers.fakes import FakeStore, StoredObject


def test_only_the_fields_changed_are_written_and_the_rest_of_the_sidecar_is_kept() -> None:
    store = FakeStore()
    put_photo(store, "coins/a.jpg", jpeg_bytes(), item=Item(id="Morgan 1921", view="obverse"))
    record = json.loads(store.objects[sidecar_key("coins/a.jpg")].data)
    record["camera"] = {"make": "Canon", "model": "EOS R5"}  # as another computer wrote it
    store.objects[sidecar_key("coins/a.jpg")] = StoredObject(
        json.dumps(record).encode(), "application/json"
    )
    (photo,) = read_collection(store, "coins/").photos

    edited = set_item(store, photo, {"title": "Morgan dollar", "primary": True})

    assert edited.item == Item(
        id="Morgan 1921", title="Morgan dollar", view="obverse", primary=True
    )
    after = json.loads(store.objects[sidecar_key("coins/a.jpg")].data)
    assert after["item"]["title"] == "Morgan dollar" and after["item"]["view"] == "obverse"
    assert {k: v for k, v in after.items() if k != "item"} == {
        k: v for k, v in record.items() if k != "item"
    }
    (again,) = read_collection(store, "coins/").photos
    assert again == edited


def test_a_photo_without_a_sidecar_of_ours_is_refused_in_one_sentence() -> None:
    store = FakeStore()
    put_photo(store, "a.jpg", jpeg_bytes(), sidecar=False)
    (photo,) = read_collection(store, "").photos

    with pytest.raises(StoreError, match="has no metadata file of Photo Uploader's"):
        set_item(store, photo, {"id": "coin"})
    assert sidecar_key("a.jpg") not in store.objects
