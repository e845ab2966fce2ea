"""Originals downloaded to a folder: never over a file already there."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.downloads import download_new, local_name
from app.core.errors import StoreError
from tests.helpers.fakes import FakeStore, StoredObject


def test_a_taken_name_gets_a_number_and_nothing_is_overwritten(tmp_path: Path) -> None:
    store = FakeStore()
    store.objects["coins/obverse.jpg"] = StoredObject(b"coin", "image/jpeg")
    store.objects["stamps/obverse.jpg"] = StoredObject(b"stamp", "image/jpeg")
    (tmp_path / "obverse.jpg").write_bytes(b"mine")

    first = download_new(store, "coins/obverse.jpg", tmp_path)
    second = download_new(store, "stamps/obverse.jpg", tmp_path)

    assert (first.path.name, first.renamed) == ("obverse (2).jpg", True)
    assert second.path.name == "obverse (3).jpg"
    assert (tmp_path / "obverse.jpg").read_bytes() == b"mine"
    assert first.path.read_bytes() == b"coin" and second.path.read_bytes() == b"stamp"


def test_a_photo_gone_or_a_failed_download_leaves_no_file(tmp_path: Path) -> None:
    store = FakeStore()
    store.objects["a.jpg"] = StoredObject(b"a", "image/jpeg")

    with pytest.raises(StoreError, match="no longer in the bucket"):
        download_new(store, "gone.jpg", tmp_path)
    store.fail_next["get"] = 1
    with pytest.raises(StoreError):
        download_new(store, "a.jpg", tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_names_from_keys_are_safe_file_names() -> None:
    assert local_name("coins/1921/obverse.jpg") == "obverse.jpg"
    assert local_name("weird\\name.jpg") == "weird_name.jpg"
    assert local_name("coins/..") == "photo"
