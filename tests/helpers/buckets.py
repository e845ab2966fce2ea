"""A bucket laid out as the uploader leaves it, in a FakeStore, without running uploads:
original, thumbnail, metadata file and index entry for each photo."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image

from app.core.models import FileOutcome, Item
from app.core.photofacts import PhotoFacts
from app.core.sidecar import sidecar_json, sidecar_key
from app.core.store import IndexEntry, index_key
from tests.helpers.fakes import FakeStore, StoredObject


def jpeg_bytes(colour: str = "red", size: tuple[int, int] = (80, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def put_photo(
    store: FakeStore,
    key: str,
    data: bytes,
    *,
    item: Item | None = None,
    sidecar: bool = True,
    entry_names_sidecar: bool = True,
    preview: bool = False,
) -> str:
    """Store one photo as an upload would; its SHA-256."""
    sha256 = hashlib.sha256(data).hexdigest()
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    thumbnail = f"{folder}thumbnails/{stem}.jpg"
    preview_key = f"{folder}previews/{stem}.jpg" if preview else None
    store.objects[key] = StoredObject(data, "image/jpeg")
    store.objects[thumbnail] = StoredObject(jpeg_bytes(size=(30, 20)), "image/jpeg")
    if preview_key:
        store.objects[preview_key] = StoredObject(jpeg_bytes(size=(60, 40)), "image/jpeg")
    outcome = FileOutcome(
        path=Path(key.rsplit("/", 1)[-1]), size=len(data), sha256=sha256,
        content_type="image/jpeg", key=key, thumbnail_key=thumbnail, thumbnail_in_bucket=True,
        preview_key=preview_key, preview_in_bucket=preview,
    )  # fmt: skip
    if sidecar:
        body = sidecar_json(outcome, PhotoFacts(width=80, height=60), item=item or Item())
        store.objects[sidecar_key(key)] = StoredObject(body, "application/json")
    entry = IndexEntry(
        key, thumbnail, len(data), "image/jpeg", preview_key,
        metadata_key=sidecar_key(key) if entry_names_sidecar else None,
    )  # fmt: skip
    store.objects[index_key(sha256)] = StoredObject(entry.to_json(), "application/json")
    return sha256
