"""The Bucket tab on a real server: the grid, search, sort and groups, the selected
photo's pane, share, Save as, Open, Download selected, Edit item, Delete and Check, as
a collector uses them."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QUrl
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
        "--preview-size", "800", "--item", "Morgan 1921", "--set", "view=coin",
        env=credentials(rclone_s3),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    return rclone_s3, bucket, records


class Opened:
    """Stands in for the desktop's viewer: records the URLs it was asked to open."""

    def __init__(self) -> None:
        self.urls: list[QUrl] = []

    def __call__(self, url: QUrl) -> bool:
        self.urls.append(url)
        return True


class Asked:
    """Stands in for the confirmation dialogs: records each question, answers yes."""

    def __init__(self) -> None:
        self.questions: list[str] = []

    def __call__(self, title: str, text: str) -> bool:
        self.questions.append(text)
        return True


@pytest.fixture
def asked() -> Asked:
    return Asked()


@pytest.fixture
def page(
    qtbot: QtBot,
    filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]],
    tmp_path: Path,
    asked: Asked,
) -> Iterator[BucketPage]:
    endpoint, bucket, _records = filled
    destination = endpoint.destination(bucket)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    widget = BucketPage(
        lambda: BucketAccess(destination, S3Store(destination, concurrency=2), False),
        lambda: Catalogue(tmp_path / "catalogue.sqlite3"),
        confirm=asked,
        choose_save_path=lambda name: str(tmp_path / f"saved-{name}"),
        choose_folder=lambda: str(downloads),
        open_url=Opened(),
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
    assert page.pane.title.text() == Path(records["edge.jpg"]["key"]).name


def test_share_copies_a_link_that_opens_the_original_and_says_what_it_means(
    qtbot: QtBot, page: BucketPage, filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]]
) -> None:
    _endpoint, _bucket, records = filled
    record = records["obverse.jpg"]
    select(page, record["key"])

    page.share_button.click()

    qtbot.waitUntil(lambda: page.photo_actions.last_link is not None, timeout=10_000)
    link = page.photo_actions.last_link
    assert link is not None
    assert QGuiApplication.clipboard().text() == link.url
    with urllib.request.urlopen(link.url, timeout=10) as answer:
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
    qtbot: QtBot,
    page: BucketPage,
    filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]],
    asked: Asked,
) -> None:
    endpoint, bucket, records = filled
    gone = records["edge.jpg"]
    select(page, gone["key"])

    page.delete_button.click()

    qtbot.waitUntil(lambda: page.model.photos_shown == 2 and not page.loading, timeout=10_000)
    assert asked.questions[0].startswith("Delete 1 photo: each original with its thumbnail")
    listed = endpoint.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    keys = {item["Key"] for item in listed}
    assert not {k for k in keys if gone["sha256"][:8] in k or gone["sha256"] in k}
    assert records["obverse.jpg"]["key"] in keys and len(keys) == 10  # (2 photos x 5 parts)


def test_check_finds_a_lost_thumbnail_and_repairs_it_when_asked(
    qtbot: QtBot,
    page: BucketPage,
    filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]],
    asked: Asked,
) -> None:
    endpoint, bucket, records = filled
    lost = records["obverse.jpg"]["thumbnail_key"]
    client = endpoint.client()
    client.delete_object(Bucket=bucket, Key=lost)

    page.check_button.click()

    qtbot.waitUntil(lambda: page.check_bar.isVisible(), timeout=5_000)  # progress, Cancel
    qtbot.waitUntil(lambda: page.message.text().startswith("Repaired 1 of 1"), timeout=20_000)
    assert not page.check_bar.isVisible()
    assert "has lost its thumbnail" in asked.questions[0]
    assert client.head_object(Bucket=bucket, Key=lost)["ContentLength"] > 0


def test_the_pane_shows_the_photos_preview_and_every_field_of_its_metadata(
    qtbot: QtBot, page: BucketPage, filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]]
) -> None:
    record = filled[2]["obverse.jpg"]
    assert record["derivatives"]["preview"]  # (uploaded with a preview)

    select(page, record["key"])

    qtbot.waitUntil(lambda: page.pane.preview.pixmap().width() > 0, timeout=10_000)
    qtbot.waitUntil(lambda: "Dimensions" in page.pane.fields.text(), timeout=10_000)
    text = page.pane.fields.text()
    dimensions = "400 \N{MULTIPLICATION SIGN} 300"
    for shown in (dimensions, "Morgan 1921", "coin", "obverse.jpg", record["sha256"][:16]):
        assert shown in text
    assert page.pane.preview.pixmap().width() > 128  # the preview, larger than a thumbnail


def test_group_by_item_puts_each_items_photos_under_its_heading(
    qtbot: QtBot, page: BucketPage, filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]]
) -> None:
    page.group_box.setChecked(True)

    qtbot.waitUntil(lambda: page.sorted_by.endswith("grouped"))
    heading = page.model.index_of(0)
    assert heading.data(Qt.ItemDataRole.DisplayRole) == "Morgan 1921\n3 photos"
    assert page.model.entries == 4  # the heading and its three photos
    page.view.clicked.emit(heading)  # a heading clicked selects its photos
    assert {p.key for p in page.selected_photos()} == {r["key"] for r in filled[2].values()}


def test_open_downloads_the_original_and_hands_it_to_the_desktop(
    qtbot: QtBot, page: BucketPage, filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]]
) -> None:
    record = filled[2]["reverse.jpg"]
    select(page, record["key"])

    page.pane.open_button.click()

    opened = page.photo_actions._open_url
    assert isinstance(opened, Opened)
    qtbot.waitUntil(lambda: bool(opened.urls), timeout=10_000)
    path = Path(opened.urls[0].toLocalFile())
    assert path.read_bytes() == Path(record["path"]).read_bytes()
    assert page.message.text().startswith("Opened reverse-")


def test_download_selected_saves_each_original_and_never_overwrites(
    qtbot: QtBot,
    page: BucketPage,
    filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    records = filled[2]
    taken = Path(records["edge.jpg"]["key"]).name
    (tmp_path / "downloads" / taken).write_bytes(b"mine")  # already there
    page.view.selectAll()
    assert len(page.selected_photos()) == 3

    page.pane.download_button.click()

    qtbot.waitUntil(lambda: page.message.text().startswith("Downloaded 3 photos"), timeout=20_000)
    assert (tmp_path / "downloads" / taken).read_bytes() == b"mine"
    renamed = taken.replace(".jpg", " (2).jpg")
    assert f"saved {taken} as {renamed}" in page.message.text()
    for name, record in records.items():
        saved = renamed if name == "edge.jpg" else Path(record["key"]).name
        assert (tmp_path / "downloads" / saved).read_bytes() == Path(record["path"]).read_bytes()


def test_edit_item_rewrites_the_sidecar_and_keeps_everything_else(
    qtbot: QtBot, page: BucketPage, filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]]
) -> None:
    endpoint, bucket, records = filled
    record = records["edge.jpg"]
    client = endpoint.client()
    sidecar_key = record["key"] + ".json"
    before = json.loads(client.get_object(Bucket=bucket, Key=sidecar_key)["Body"].read())
    select(page, record["key"])

    page.pane.edit_button.click()
    dialog = page.photo_actions.item_dialog
    assert dialog is not None and dialog.field("id").text() == "Morgan 1921"
    dialog.field("title").setText("Morgan dollar")
    dialog.field("view").setText("edge")
    dialog.accept()

    qtbot.waitUntil(lambda: page.message.text().startswith("Item saved for 1 photo"))
    after = json.loads(client.get_object(Bucket=bucket, Key=sidecar_key)["Body"].read())
    assert after["item"] == {**before["item"], "title": "Morgan dollar", "view": "edge"}
    assert {k: v for k, v in after.items() if k != "item"} == {
        k: v for k, v in before.items() if k != "item"
    }
    photo = page.model.photo(record["key"])
    assert photo is not None and (photo.item_title, photo.item_view) == ("Morgan dollar", "edge")
    page.search.setText("morgan dollar")  # found by what was just set
    assert page.model.photos_shown == 1


def test_a_deep_check_re_reads_the_originals_and_finds_changed_bytes(
    qtbot: QtBot, page: BucketPage, filled: tuple[S3Endpoint, str, dict[str, dict[str, Any]]]
) -> None:
    endpoint, bucket, records = filled
    key = records["reverse.jpg"]["key"]
    client = endpoint.client()
    body = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[-10] ^= 0xFF
    client.put_object(Bucket=bucket, Key=key, Body=bytes(body))

    page.check()
    qtbot.waitUntil(lambda: page.status.text().startswith("All is well"), timeout=20_000)
    page.deep_check_action.trigger()

    qtbot.waitUntil(lambda: "1 problem found" in page.status.text(), timeout=20_000)
    assert f"{key} no longer has the content it was uploaded with" in page.message.text()
