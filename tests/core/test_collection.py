"""Reading a destination as photos: paged listings, index entries, sidecars, the
catalogue that spares the second read its GETs."""

from __future__ import annotations

from pathlib import Path

from app.core.catalogue import Catalogue
from app.core.collection import index_sha256, is_original_name, read_collection
from app.core.models import Item
from app.core.sidecar import sidecar_key
from app.core.store import index_key
from tests.helpers.buckets import jpeg_bytes, put_photo
from tests.helpers.fakes import FakeStore, StoredObject


def test_photos_come_from_index_and_sidecars_across_pages() -> None:
    store = FakeStore(page_size=2)  # every listing takes several pages
    colours = ["red", "green", "blue", "white", "black"]
    shas = {
        f"coins/c {i} + ü.jpg": put_photo(
            store, f"coins/c {i} + ü.jpg", jpeg_bytes(c), item=Item(id=f"coin-{i}", view="obverse")
        )
        for i, c in enumerate(colours)
    }
    store.objects["coins/notes.txt"] = StoredObject(b"mine", "text/plain")

    collection = read_collection(store, "coins/")

    assert [p.key for p in collection.photos] == sorted(shas)
    first = collection.photo("coins/c 0 + ü.jpg")
    assert first is not None
    assert first.sha256 == shas["coins/c 0 + ü.jpg"]
    assert first.thumbnail_key == "coins/thumbnails/c 0 + ü.jpg"
    assert first.metadata_key == "coins/c 0 + ü.jpg.json"
    assert first.item == Item(id="coin-0", view="obverse")
    assert first.uploaded_at and first.indexed
    assert store.calls["list"] > 5


def test_a_photo_whose_entry_was_lost_is_found_through_its_sidecar() -> None:
    store = FakeStore()
    sha = put_photo(store, "a.jpg", jpeg_bytes())
    del store.objects[index_key(sha)]

    (photo,) = read_collection(store, "").photos

    assert (photo.key, photo.sha256, photo.indexed) == ("a.jpg", sha, False)
    assert photo.thumbnail_key == "thumbnails/a.jpg"


def test_entries_elsewhere_in_the_bucket_or_pointing_nowhere_are_no_photos() -> None:
    store = FakeStore()
    put_photo(store, "coins/a.jpg", jpeg_bytes("red"))
    put_photo(store, "stamps/b.jpg", jpeg_bytes("blue"))
    gone = put_photo(store, "coins/c.jpg", jpeg_bytes("green"))
    del store.objects["coins/c.jpg"]

    collection = read_collection(store, "coins/")

    assert [p.key for p in collection.photos] == ["coins/a.jpg"]
    assert gone in collection.entries  # (check reports it)


def test_the_catalogue_spares_unchanged_bodies_and_rereads_changed_ones(tmp_path: Path) -> None:
    store = FakeStore()
    for colour in ("red", "green", "blue"):
        put_photo(store, f"{colour}.jpg", jpeg_bytes(colour), item=Item(id="old"))
    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    read_collection(store, "", catalogue=catalogue)
    first_gets = store.calls["get"]
    assert first_gets == 6  # three entries, three sidecars

    unchanged = read_collection(store, "", catalogue=catalogue)
    assert store.calls["get"] == first_gets
    assert {p.item.id for p in unchanged.photos if p.item} == {"old"}

    edited = store.objects[sidecar_key("red.jpg")].data.replace(b'"old"', b'"new coin"')
    store.objects[sidecar_key("red.jpg")] = StoredObject(edited, "application/json")
    catalogue.close()
    reopened = Catalogue(tmp_path / "catalogue.sqlite3")  # (it survives the process)
    again = read_collection(store, "", catalogue=reopened)

    assert store.calls["get"] == first_gets + 1
    red = again.photo("red.jpg")
    assert red is not None and red.item == Item(id="new coin")


def test_a_damaged_catalogue_file_is_started_afresh(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    store = FakeStore()
    put_photo(store, "a.jpg", jpeg_bytes())

    assert [p.key for p in read_collection(store, "", catalogue=Catalogue(path)).photos] == [
        "a.jpg"
    ]


def test_names_tell_index_entries_and_originals() -> None:
    sha = "ab" * 32
    assert index_sha256(index_key(sha)) == sha
    assert index_sha256(f".photo-uploader/sha256/{sha}") is None
    assert index_sha256(f"coins/{sha}.json") is None
    assert is_original_name("coins/IMG 1.JPG") and is_original_name("raw/a.cr3")
    assert not is_original_name("coins/a.jpg.json") and not is_original_name("notes.txt")
