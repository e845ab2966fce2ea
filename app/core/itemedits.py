"""Editing the item of photos already in the bucket (the Bucket tab's Edit item): each
photo's sidecar is rewritten with only the fields the collector changed, everything
else in it kept as the bucket holds it now (another computer may have written it).
The photo's keys never move.

The queue does the same for files it uploaded (app.core.pipeline.stages,
rewrite_item_stage); both go through app.core.sidecar's readers and writers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from app.core.collection import SMALL_BODY_LIMIT, Photo
from app.core.errors import StoreError
from app.core.sidecar import CONTENT_TYPE, sidecar_key, sidecar_with, stored_item


class EditingStore(Protocol):
    def get_bytes(self, key: str, limit: int) -> bytes | None: ...
    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None: ...


def set_item(store: EditingStore, photo: Photo, changes: Mapping[str, object]) -> Photo:
    """Rewrite `photo`'s sidecar with `changes` (item fields by name) applied to the item
    it names now; the photo as it is then. StoreError (one sentence) when it has no
    sidecar of ours to rewrite."""
    key = sidecar_key(photo.key)
    body = store.get_bytes(key, SMALL_BODY_LIMIT)
    current = stored_item(body) if body is not None else None
    if body is None or current is None:
        raise StoreError(
            f"{photo.key} has no metadata file of Photo Uploader's to keep its item in; "
            "Check… writes one (or adopts the photo), then its item can be set."
        )
    item = current.changed(changes)
    rewritten = sidecar_with(body, item=item)
    assert rewritten is not None  # (stored_item read it as ours)
    store.put_bytes(key, rewritten, content_type=CONTENT_TYPE)
    return photo.with_item(item)._replace(metadata_key=key)
