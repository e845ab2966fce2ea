"""A Bucket tab over a FakeStore: no server, faults and pauses injected."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.core.catalogue import Catalogue
from app.core.config import Destination
from app.ui.bucket.access import BucketAccess
from app.ui.bucket.page import BucketPage
from tests.helpers.fakes import FakeStore

DESTINATION = Destination(bucket="fake-bucket", endpoint_url="http://fake")


@pytest.fixture
def fake_page(qtbot: QtBot, tmp_path: Path) -> Iterator[Callable[[FakeStore], BucketPage]]:
    """fake_page(store) makes a shown Bucket tab reading `store` (not refreshed yet);
    every one made shares one catalogue file, as windows on one computer do."""
    made: list[BucketPage] = []

    def make(store: FakeStore) -> BucketPage:
        page = BucketPage(
            lambda: BucketAccess(DESTINATION, store, False),
            lambda: Catalogue(tmp_path / "catalogue.sqlite3"),
            confirm=lambda _title, _text: True,
        )
        qtbot.addWidget(page)
        page.resize(1024, 700)
        page.show()
        made.append(page)
        return page

    yield make
    for page in made:
        page.shutdown()
