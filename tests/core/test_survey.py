"""A destination read lazily: photos from the listing at once, details afterwards (what
is on screen first), the catalogue sparing the next open its requests."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.core.catalogue import Catalogue
from app.core.collection import Photo, read_collection
from app.core.errors import StoreError
from app.core.models import Item
from app.core.sidecar import sidecar_key
from app.core.store import IndexEntry, index_key
from app.core.survey import Survey, SurveyNews
from tests.helpers.buckets import jpeg_bytes, put_photo
from tests.helpers.fakes import FakeStore, StoredObject

TIMEOUT = 10


class Watcher:
    """Takes a survey's news as a window's timer would, keeping the rows it was told."""

    def __init__(self, survey: Survey) -> None:
        self.survey = survey
        self.rows: dict[str, Photo] = {}
        self.last = SurveyNews()
        self.thread = threading.Thread(target=survey.run, daemon=True)

    def start(self) -> Watcher:
        self.thread.start()
        return self

    def poll(self) -> SurveyNews:
        news = self.survey.take()
        for row in news.rows:
            assert type(row) is tuple  # plain, so the cycle collector untracks it
            self.rows[row[0]] = Photo._make(row)
        for key in news.removed:
            self.rows.pop(key, None)
        self.last = news
        return news

    def until(self, condition: object) -> None:
        deadline = threading.Event()
        timer = threading.Timer(TIMEOUT, deadline.set)
        timer.start()
        try:
            while not condition():  # type: ignore[operator]
                assert not deadline.is_set(), f"gave up; last news {self.last}"
                self.poll()
                deadline.wait(0.01)
        finally:
            timer.cancel()

    def finish(self) -> dict[str, Photo]:
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()
        self.poll()
        assert self.last.done
        return self.rows


def survey(store: FakeStore, prefix: str = "", catalogue: Catalogue | None = None) -> Survey:
    return Survey(store, prefix, catalogue=catalogue, store_name="fake|bucket", workers=2)


def test_photos_appear_from_the_listing_before_any_detail_is_read() -> None:
    store = FakeStore(page_size=3)
    for n, colour in enumerate(("red", "green", "blue")):
        put_photo(store, f"coins/c{n}.jpg", jpeg_bytes(colour), item=Item(id=f"coin-{n}"))
    held = threading.Event()
    store.hooks["get"] = lambda _key: held.wait(TIMEOUT)  # no detail arrives yet

    watcher = Watcher(survey(store, "coins/")).start()
    watcher.until(lambda: len(watcher.rows) == 3 and watcher.last.listing_done)

    assert all(not p.detailed and p.item is None for p in watcher.rows.values())
    assert {p.size for p in watcher.rows.values()} == {
        len(jpeg_bytes(c)) for c in ("red", "green", "blue")
    }
    held.set()
    rows = watcher.finish()

    whole = {p.key: p for p in read_collection(store, "coins/").photos}
    assert rows == whole  # the same photos the command line lists, field for field
    assert watcher.last.detailed == 3 and watcher.last.failed == 0


def test_the_rows_asked_for_are_read_before_the_rest() -> None:
    store = FakeStore()
    keys = [f"p{n:02d}.jpg" for n in range(30)]
    for n, key in enumerate(keys):
        put_photo(store, key, jpeg_bytes(size=(10 + n, 10)))
    order: list[str] = []
    first = threading.Event()
    release = threading.Event()

    def gate(key: str) -> None:
        order.append(key)
        first.set()
        release.wait(TIMEOUT)

    store.hooks["get"] = gate
    one = Survey(store, "", store_name="fake|bucket", workers=1)
    watcher = Watcher(one).start()
    assert first.wait(TIMEOUT)  # the only fetcher holds the first sidecar
    one.want(["p27.jpg", "p28.jpg"])
    release.set()
    watcher.finish()

    assert order[1:3] == [sidecar_key("p27.jpg"), sidecar_key("p28.jpg")]
    assert len(order) == 30


def test_a_second_open_shows_the_catalogue_at_once_and_reads_only_what_changed(
    tmp_path: Path,
) -> None:
    store = FakeStore()
    for colour in ("red", "green", "blue"):
        put_photo(store, f"{colour}.jpg", jpeg_bytes(colour), item=Item(id="old"))
    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    Watcher(survey(store, catalogue=catalogue)).start().finish()
    assert store.calls["get"] == 3  # the sidecars; no index entry needed reading

    edited = store.objects[sidecar_key("red.jpg")].data.replace(b'"old"', b'"new coin"')
    store.objects[sidecar_key("red.jpg")] = StoredObject(edited, "application/json")
    listing = threading.Event()
    store.hooks["list"] = lambda _prefix: listing.wait(TIMEOUT)  # the LIST has not answered
    catalogue.close()
    again = Watcher(survey(store, catalogue=Catalogue(tmp_path / "catalogue.sqlite3"))).start()

    again.until(lambda: len(again.rows) == 3 and all(p.detailed for p in again.rows.values()))
    assert {p.item_id for p in again.rows.values()} == {"old"}  # as last seen, at once
    assert store.calls["get"] == 3
    listing.set()
    rows = again.finish()

    assert store.calls["get"] == 4  # only the sidecar whose ETag changed
    assert rows["red.jpg"].item == Item(id="new coin")


def test_what_the_catalogue_showed_and_is_gone_now_goes(tmp_path: Path) -> None:
    store = FakeStore()
    put_photo(store, "a.jpg", jpeg_bytes("red"))
    put_photo(store, "b.jpg", jpeg_bytes("blue"))
    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    Watcher(survey(store, catalogue=catalogue)).start().finish()
    for key in ("b.jpg", sidecar_key("b.jpg"), "thumbnails/b.jpg"):
        del store.objects[key]  # deleted from another computer
    put_photo(store, "c.jpg", jpeg_bytes("green"))

    rows = Watcher(survey(store, catalogue=catalogue)).start().finish()

    assert sorted(rows) == ["a.jpg", "c.jpg"]


def test_older_photos_get_details_from_the_index_and_others_photos_are_shown_as_such() -> None:
    store = FakeStore()
    put_photo(store, "new.jpg", jpeg_bytes("red"), item=Item(id="coin"))
    older = put_photo(store, "old.jpg", jpeg_bytes("blue"), sidecar=False)
    store.objects["scan.jpg"] = StoredObject(jpeg_bytes("green"), "image/jpeg")  # another tool
    store.objects["notes.txt"] = StoredObject(b"mine", "text/plain")

    rows = Watcher(survey(store)).start().finish()

    assert sorted(rows) == ["new.jpg", "old.jpg", "scan.jpg"]
    assert (rows["old.jpg"].sha256, rows["old.jpg"].thumbnail_key) == (older, "thumbnails/old.jpg")
    assert rows["old.jpg"].indexed and rows["old.jpg"].detailed
    scan = rows["scan.jpg"]
    assert (scan.ours, scan.indexed, scan.detailed, scan.thumbnail_key) == (
        False, False, True, None,
    )  # fmt: skip
    assert scan.content_type == "image/jpeg"


def test_no_index_entry_is_read_when_every_photo_has_its_sidecar() -> None:
    store = FakeStore()
    for colour in ("red", "green"):
        put_photo(store, f"{colour}.jpg", jpeg_bytes(colour))
    asked: list[str] = []
    store.hooks["get"] = asked.append

    Watcher(survey(store)).start().finish()

    assert sorted(asked) == [sidecar_key("green.jpg"), sidecar_key("red.jpg")]


def test_derivatives_a_template_put_elsewhere_are_not_photos() -> None:
    store = FakeStore()
    sha = put_photo(store, "coins/a.jpg", jpeg_bytes("red"))
    # as a custom thumbnail template would: "thumbs/" is no folder the listing can tell
    store.objects["coins/thumbs/a.jpg"] = store.objects.pop("coins/thumbnails/a.jpg")
    body = store.objects[sidecar_key("coins/a.jpg")].data.replace(b"thumbnails/", b"thumbs/")
    store.objects[sidecar_key("coins/a.jpg")] = StoredObject(body, "application/json")
    entry = IndexEntry("coins/a.jpg", "coins/thumbs/a.jpg", len(jpeg_bytes("red")), "image/jpeg")
    store.objects[index_key(sha)] = StoredObject(entry.to_json(), "application/json")

    rows = Watcher(survey(store, "coins/")).start().finish()

    assert list(rows) == ["coins/a.jpg"]
    assert rows["coins/a.jpg"].thumbnail_key == "coins/thumbs/a.jpg"


def test_a_sidecar_that_cannot_be_read_leaves_its_photo_without_details() -> None:
    store = FakeStore()
    put_photo(store, "a.jpg", jpeg_bytes("red"))
    put_photo(store, "b.jpg", jpeg_bytes("blue"))
    store.fail_next["get"] = 1

    watcher = Watcher(survey(store)).start()
    rows = watcher.finish()

    assert watcher.last.failed == 1
    assert sorted(p.detailed for p in rows.values()) == [False, True]


def test_a_listing_that_fails_is_said_in_one_sentence() -> None:
    store = FakeStore()
    put_photo(store, "a.jpg", jpeg_bytes("red"))
    store.fail_next["list"] = 1

    watcher = Watcher(survey(store)).start()
    watcher.finish()

    assert watcher.last.error == "Cannot reach the storage server at http://fake."


def test_stop_ends_the_reading_early() -> None:
    store = FakeStore()
    for n in range(20):
        put_photo(store, f"p{n}.jpg", jpeg_bytes(size=(10 + n, 10)))
    one = survey(store)
    started = threading.Event()

    def first_get(_key: str) -> None:
        started.set()
        one.stop()

    store.hooks["get"] = first_get
    watcher = Watcher(one).start()
    assert started.wait(TIMEOUT)
    watcher.finish()

    assert one.stopped and store.calls["get"] <= 2


@pytest.mark.parametrize("prefix", ["", "coins/"])
def test_the_index_is_listed_once_whatever_the_prefix(prefix: str) -> None:
    store = FakeStore()
    put_photo(store, f"{prefix}a.jpg", jpeg_bytes("red"))
    listed: list[str] = []
    store.hooks["list"] = listed.append

    rows = Watcher(survey(store, prefix)).start().finish()

    assert list(rows) == [f"{prefix}a.jpg"] and rows[f"{prefix}a.jpg"].indexed
    expected = [""] if prefix == "" else [".photo-uploader/sha256/", "coins/"]
    assert sorted(listed) == expected


def test_an_error_reading_is_a_store_error_sentence_not_a_crash() -> None:
    store = FakeStore()
    put_photo(store, "a.jpg", jpeg_bytes("red"))
    store.fail_with = StoreError("Access denied.")
    store.fail_next["list"] = 1

    watcher = Watcher(survey(store)).start()
    watcher.finish()

    assert watcher.last.error == "Access denied." and watcher.rows == {}
