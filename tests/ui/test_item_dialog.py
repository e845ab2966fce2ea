"""Edit item: the dialog on its own, and the window rewriting sidecars on a real server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.core.models import FileState, Item
from app.core.store import S3Store
from app.ui.detail_pane import item_text
from app.ui.item_dialog import SEVERAL, ItemDialog
from tests.helpers import corpus
from tests.helpers.servers import S3Endpoint
from tests.ui.test_window import App, drop, run, until


def test_one_photo_starts_from_its_item_and_sends_only_what_changed(qtbot: QtBot) -> None:
    dialog = ItemDialog([Item(id="coin-1907", view="obverse")], 1)
    qtbot.addWidget(dialog)
    assert dialog.field("id").text() == "coin-1907"
    assert dialog.field("view").text() == "obverse"
    dialog.field("title").setText("Indian head cent")
    dialog.primary_check.setChecked(True)
    with qtbot.waitSignal(dialog.edited) as edited:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert edited.args == [{"title": "Indian head cent", "primary": True}]


def test_several_photos_keep_the_fields_they_differ_in_unless_typed_into(qtbot: QtBot) -> None:
    items = [Item(id="book-12", view="cover", primary=True), Item(id="book-12", view="spine")]
    dialog = ItemDialog(items, 2)
    qtbot.addWidget(dialog)
    assert dialog.field("id").text() == "book-12"  # agreed: shown
    assert (dialog.field("view").text(), dialog.field("view").placeholderText()) == ("", SEVERAL)
    assert dialog.primary_check.checkState() == Qt.CheckState.PartiallyChecked
    dialog.field("notes").setText("first edition")
    assert dialog.changes() == {"notes": "first edition"}  # views and primary stay each's own
    dialog.field("id").setText("")
    assert dialog.changes() == {"notes": "first edition", "id": ""}  # cleared: no item


def test_cancel_sends_nothing(qtbot: QtBot) -> None:
    dialog = ItemDialog([None], 1)
    qtbot.addWidget(dialog)
    dialog.field("title").setText("ignored")
    with qtbot.assertNotEmitted(dialog.edited):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()


def test_the_detail_pane_names_the_item_in_words() -> None:
    item = Item(id="coin-1907", view="obverse", primary=True, title="Indian head cent")
    assert item_text(item) == "coin-1907 · obverse · primary\nIndian head cent"
    assert item_text(None) == "—"


@pytest.mark.integration
def test_editing_items_in_the_window_rewrites_sidecars_on_a_real_server_and_moves_no_key(
    loop: qasync.QEventLoop,
    tmp_path: Path,
    rclone_s3: S3Endpoint,
    fresh_bucket: Callable[[S3Endpoint], str],
) -> None:
    bucket = fresh_bucket(rclone_s3)
    folder = tmp_path / "Morgan dollar"
    folder.mkdir()
    corpus.jpeg_photo(folder / "obverse.jpg", seed=1)
    corpus.jpeg_photo(folder / "reverse.jpg", seed=2)
    store = S3Store(
        rclone_s3.destination(bucket),
        concurrency=2,
    )
    app = App(tmp_path / "settings.ini", store)  # type: ignore[arg-type]
    window = app.window
    client = rclone_s3.client()

    def keys() -> set[str]:
        return {o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}

    def sidecar(name: str) -> dict[str, object]:
        key = app.snap(name).metadata_key
        return json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())

    async def go() -> None:
        await app.start()
        drop(window, [folder])
        await until(lambda: app.model.rowCount() == 2 and app.idle())
        assert {app.snap(n).state for n in ("obverse.jpg", "reverse.jpg")} == {FileState.UPLOADED}
        before = keys()
        assert sidecar("obverse.jpg")["item"]["id"] == "Morgan dollar"  # type: ignore[index]

        window.table.selectAll()
        assert window.edit_item_action.isEnabled()
        window.edit_item_action.trigger()  # Ctrl+I
        dialog = window.item_dialog
        assert dialog is not None and dialog.isVisible()
        assert dialog.field("id").text() == "Morgan dollar"
        dialog.field("title").setText("Morgan dollar, 1921")
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        await until(
            lambda: all(
                "Item saved" in (app.snap(n).notice or "") for n in ("obverse.jpg", "reverse.jpg")
            )
        )

        window.table.selectRow(0)
        name = app.model.snapshot_at(0).path.stem
        window.edit_item_action.trigger()
        dialog = window.item_dialog
        assert dialog is not None
        dialog.field("view").setText(name)
        dialog.primary_check.setChecked(name == "obverse")
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        await until(lambda: (app.snap(f"{name}.jpg").item or Item()).view == name)
        await app.controller._engine.wait_idle()  # type: ignore[union-attr]

        assert keys() == before  # nothing new, nothing moved: the sidecars were rewritten
        for photo in ("obverse", "reverse"):
            item = sidecar(f"{photo}.jpg")["item"]
            assert item["id"] == "Morgan dollar"  # type: ignore[index]
            assert item["title"] == "Morgan dollar, 1921"  # type: ignore[index]
        edited = sidecar(f"{name}.jpg")["item"]
        assert (edited["view"], edited["primary"]) == (name, name == "obverse")  # type: ignore[index]
        window.table.selectRow(0)
        shown = window.detail._item.text()
        assert name in shown and "Morgan dollar, 1921" in shown

    try:
        run(loop, go())
    finally:
        run(loop, app.close())
