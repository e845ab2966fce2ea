"""Check in the Bucket tab: progress while it runs, Cancel, a summary at the end."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pytestqt.qtbot import QtBot

from app.ui.bucket.page import BucketPage
from tests.helpers.buckets import jpeg_bytes, put_photo
from tests.helpers.fakes import FakeStore


def test_a_check_shows_how_far_it_is_and_cancel_stops_it_changing_nothing(
    qtbot: QtBot, fake_page: Callable[[FakeStore], BucketPage]
) -> None:
    store = FakeStore()
    for n in range(6):
        put_photo(store, f"p{n}.jpg", jpeg_bytes(size=(10 + n, 10)))
    del store.objects["thumbnails/p0.jpg"]  # a problem it would offer to repair
    page = fake_page(store)
    page.refresh()
    qtbot.waitUntil(lambda: page.model.photos_shown == 6 and not page.loading)
    page._catalogue = None  # (so the check reads every body from the store)
    held = threading.Event()
    store.hooks["get"] = lambda _key: held.wait(10)

    page.check(deep=True)

    qtbot.waitUntil(lambda: page.check_bar.isVisible())
    qtbot.waitUntil(
        lambda: "reading index entries and metadata files" in page.check_bar.label.text()
    )
    page.check_bar.cancel_button.click()
    assert page.check_bar.label.text() == "Deep check: cancelling…"
    held.set()
    qtbot.waitUntil(lambda: not page.check_bar.isVisible())
    assert page.status.text() == "Check cancelled: nothing was changed."
    assert "thumbnails/p0.jpg" not in store.objects


def test_a_whole_bucket_is_said_to_be_well(
    qtbot: QtBot, fake_page: Callable[[FakeStore], BucketPage]
) -> None:
    store = FakeStore()
    put_photo(store, "a.jpg", jpeg_bytes())
    page = fake_page(store)
    page.refresh()
    qtbot.waitUntil(lambda: not page.loading and page.model.photos_shown == 1)

    page.check_button.click()  # (the button itself checks; its arrow offers the deep one)

    qtbot.waitUntil(lambda: page.status.text() == "All is well: 1 photo checked, each whole.")
