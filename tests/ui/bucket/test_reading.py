"""Opening the Bucket tab: the grid from the listing at once, details afterwards; the
catalogue shows a bucket opened before before it is listed again."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pytestqt.qtbot import QtBot

from app.core.models import Item
from app.ui.bucket.page import BucketPage
from tests.helpers.buckets import jpeg_bytes, put_photo
from tests.helpers.fakes import FakeStore


def filled(count: int) -> FakeStore:
    store = FakeStore()
    for n in range(count):
        put_photo(
            store, f"coins/c{n:02d}.jpg", jpeg_bytes(size=(20 + n, 20)), item=Item(id="morgan")
        )
    return store


def test_the_grid_shows_the_listing_before_any_detail_is_read(
    qtbot: QtBot, fake_page: Callable[[FakeStore], BucketPage]
) -> None:
    store = filled(12)
    held = threading.Event()
    store.hooks["get"] = lambda _key: held.wait(10)  # no sidecar answers yet
    page = fake_page(store)

    page.refresh()

    qtbot.waitUntil(
        lambda: page.model.photos_shown == 12 and "reading the details" in page.status.text()
    )
    assert all(not page.model.photo_at(n).detailed for n in range(12))  # type: ignore[union-attr]
    page.search.setText("morgan")
    assert page.model.photos_shown == 0  # (the items are not known yet)
    held.set()
    qtbot.waitUntil(lambda: page.model.photos_shown == 12)  # found as the details come
    qtbot.waitUntil(lambda: not page.loading)
    assert page.status.text().startswith("12 photos in fake-bucket at http://fake")


def test_a_bucket_opened_before_shows_from_the_catalogue_before_it_is_listed(
    qtbot: QtBot, fake_page: Callable[[FakeStore], BucketPage]
) -> None:
    store = filled(5)
    first = fake_page(store)
    first.refresh()
    qtbot.waitUntil(lambda: first.model.photos_shown == 5 and not first.loading)
    first.shutdown()
    listing = threading.Event()
    store.hooks["list"] = lambda _prefix: listing.wait(10)  # the LIST has not answered
    asked: list[str] = []
    store.hooks["get"] = asked.append

    again = fake_page(store)
    again.refresh()

    qtbot.waitUntil(lambda: again.model.photos_shown == 5)
    photo = again.model.photo_at(0)
    assert photo is not None and photo.detailed and photo.item_id == "morgan"
    assert again.loading and not [k for k in asked if k.endswith(".json")]
    listing.set()
    qtbot.waitUntil(lambda: not again.loading)
    assert not [k for k in asked if k.endswith(".json")]  # unchanged: none read again


def test_a_bucket_that_cannot_be_listed_says_so_in_one_sentence(
    qtbot: QtBot, fake_page: Callable[[FakeStore], BucketPage]
) -> None:
    store = filled(2)
    store.fail_next["list"] = 1
    page = fake_page(store)

    page.refresh()

    qtbot.waitUntil(lambda: not page.loading)
    assert page.status.text() == (
        "The bucket could not be read: Cannot reach the storage server at http://fake."
    )
