"""The Bucket tab on a real server: the grid, search and sort, share, Save as, Delete
and Check, as a collector uses them."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from app.core.catalogue import Catalogue
from app.core.store import S3Store
from app.ui.bucket.access import BucketAccess
from app.ui.bucket.page import BucketPage
from tests.helpers import corpus
from tests.helpers.cli import credentials, run_upload
from tests.helpers.servers import S3Endpoint

pytestmark = pytest.mark.integration


@pytest.fixture
def filled(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> tuple[S3Endpoint, str, dict[str, dict[str, Any]]]:
    folder = tmp_path / "Morgan 1921"
    folder.mkdir()
    for seed, name in enumerate(("obverse.jpg", "reverse.jpg", "edge.jpg"), 1):
        corpus.jpeg_photo(folder / name, seed=seed, size=(400, 300))
    bucket = fresh_bucket(rclone_s3)
    result = run_upload(
        folder, "--bucket", bucket, "--endpoint-url", rclone_s3.url, "--jsonl",
        env=credentials(rclone_s3),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    return rclone_s3, bucket, records


class Asked:
    """Stands in for the confirmation dialogs: records each question, answers yes."""

    def __init__(self) -> None:
        self.questions: list[str] = []

    def __call__(self, title: str, text: str) -> bool:
        self.questions.append(text)
        return True


@pytest.fixture
def page(
    qtbot: QtBot, filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]], tmp_path: Path
) -> Iterator[BucketPage]:
    endpoint, bucket, _records = filled
    destination = endpoint.destination(bucket)
    widget = BucketPage(
        lambda: BucketAccess(destination, S3Store(destination, concurrency=2), False),
        lambda: Catalogue(tmp_path / "catalogue.sqlite3"),
        confirm=Asked(),
        choose_save_path=lambda name: str(tmp_path / f"saved-{name}"),
    )
    qtbot.addWidget(widget)
    widget.resize(1024, 700)
    widget.show()
    widget.refresh()
    qtbot.waitUntil(lambda: widget.model.photos_shown == 3 and not widget.loading, timeout=20_000)
    yield widget
    widget.shutdown()


def select(page: BucketPage, key: str) -> None:
    page.select_key(key)
    assert [p.key for p in page.selected_photos()] == [key]


def test_the_grid_shows_every_photo_with_its_thumbnail_and_finds_by_search(
    qtbot: QtBot, page: BucketPage, filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]]
) -> None:
    _endpoint, bucket, records = filled
    assert page.status.text().startswith(f"3 photos in {bucket}")
    shown = {page.model.photo_at(r).key for r in range(3)}
    assert shown == {r["key"] for r in records.values()}
    thumbnails = [record["thumbnail_key"] for record in records.values()]
    # painted rows fetch their thumbnails
    qtbot.waitUntil(lambda: all(page.model.has_thumbnail(key) for key in thumbnails))
    page.search.setText("reverse")
    assert page.model.photos_shown == 1
    page.search.setText("morgan 1921")  # the item, from the sidecar
    assert page.model.photos_shown == 3
    page.search.clear()
    page.sort_box.setCurrentText("Name")
    qtbot.waitUntil(lambda: page.sorted_by == "Name")
    names = [page.model.index_of(r).data(Qt.ItemDataRole.DisplayRole) for r in range(3)]
    assert names == sorted(names, key=str.lower)
    page.sort_box.setCurrentText("Size")
    qtbot.waitUntil(lambda: page.sorted_by == "Size")
    sizes = [page.model.photo_at(r).size for r in range(3)]
    assert sizes == sorted(sizes)
    select(page, records["edge.jpg"]["key"])
    assert "Item: Morgan 1921" in page.info.text()


def test_share_copies_a_link_that_opens_the_original_and_says_what_it_means(
    qtbot: QtBot, page: BucketPage, filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]]
) -> None:
    _endpoint, _bucket, records = filled
    record = records["obverse.jpg"]
    select(page, record["key"])

    page.share_button.click()

    qtbot.waitUntil(lambda: page.last_link is not None, timeout=10_000)
    assert page.last_link is not None
    assert QGuiApplication.clipboard().text() == page.last_link.url
    with urllib.request.urlopen(page.last_link.url, timeout=10) as answer:
        assert answer.read() == Path(record["path"]).read_bytes()
    assert "Anyone with this link can open the original" in page.message.text()


def test_save_as_downloads_the_original_byte_for_byte(
    qtbot: QtBot,
    page: BucketPage,
    filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    record = filled[2]["reverse.jpg"]
    select(page, record["key"])
    page.save_button.click()
    target = tmp_path / f"saved-{record['key']}"
    qtbot.waitUntil(lambda: page.message.text().startswith("Saved to"), timeout=10_000)
    assert target.read_bytes() == Path(record["path"]).read_bytes()


def test_delete_asks_naming_what_goes_then_leaves_nothing_of_the_photo(
    qtbot: QtBot, page: BucketPage, filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]]
) -> None:
    endpoint, bucket, records = filled
    gone = records["edge.jpg"]
    select(page, gone["key"])

    page.delete_button.click()

    qtbot.waitUntil(lambda: page.model.photos_shown == 2 and not page.loading, timeout=10_000)
    asked = page._confirm  # (the Asked stand-in)
    assert isinstance(asked, Asked)
    assert asked.questions[0].startswith("Delete 1 photo: each original with its thumbnail")
    listed = endpoint.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    keys = {item["Key"] for item in listed}
    assert not {k for k in keys if gone["sha256"][:8] in k or gone["sha256"] in k}
    assert records["obverse.jpg"]["key"] in keys and len(keys) == 8


def test_check_finds_a_lost_thumbnail_and_repairs_it_when_asked(
    qtbot: QtBot, page: BucketPage, filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]]
) -> None:
    endpoint, bucket, records = filled
    lost = records["obverse.jpg"]["thumbnail_key"]
    client = endpoint.client()
    client.delete_object(Bucket=bucket, Key=lost)

    page.check_button.click()

    qtbot.waitUntil(lambda: page.message.text().startswith("Repaired 1 of 1"), timeout=20_000)
    asked = page._confirm
    assert isinstance(asked, Asked)
    assert "has lost its thumbnail" in asked.questions[0]
    assert client.head_object(Bucket=bucket, Key=lost)["ContentLength"] > 0
