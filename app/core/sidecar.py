"""The metadata sidecar: a small JSON object beside each original (`KEY.json`), so what a
collector knows about a photo travels with it, readable by any tool that can read the
bucket. Beside it rather than under our reserved prefix: copying a folder of the bucket
elsewhere brings the metadata along.

No GPS position unless the collector asks for it (`keep_gps`); the folder is the one
relative to what was dropped, never the path above it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection

from app import __version__
from app.core.keys import SIDECAR_SUFFIX
from app.core.models import FileOutcome, Item
from app.core.photofacts import PhotoFacts

SCHEMA = "photo-uploader/metadata/1"
CONTENT_TYPE = "application/json"


def sidecar_key(key: str) -> str:
    """Where the sidecar of the original at `key` goes. Originals end in an image
    extension, so no original can sit at another's sidecar key."""
    return key + SIDECAR_SUFFIX


def default_item(folder: str | None) -> Item:
    """The top-level dropped folder's name is the item's id; a loose file has none."""
    top = (folder or "").split("/", 1)[0]
    return Item(id=top or None)


def _readable(name: str) -> str:
    """A file name as text that always encodes: bytes that are not UTF-8 (kept by Python
    as surrogates) are written as \\xNN, as the command line shows them."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def sidecar_json(
    outcome: FileOutcome,
    facts: PhotoFacts,
    *,
    item: Item,
    keep_gps: bool = False,
    now: float | None = None,
    landing: Collection[str] = (),
) -> bytes:
    """The sidecar for an original in the bucket (its key, hash and type are known). It
    names the derivatives in the bucket, and those in `landing` (keys on their way)."""
    assert outcome.key and outcome.sha256
    thumbnail, preview = outcome.thumbnail_key, outcome.preview_key
    uploaded = time.gmtime(time.time() if now is None else now)
    record: dict[str, object] = {
        "schema": SCHEMA,
        "key": outcome.key,
        "sha256": outcome.sha256,
        "original_name": _readable(outcome.path.name),
        "original_folder": _readable(outcome.folder or ""),
        "size": outcome.size,
        "content_type": outcome.content_type,
        "width": facts.width,
        "height": facts.height,
        "taken_at": facts.taken_at,
        "camera": facts.camera(),
        "orientation": facts.orientation,
        "item": item.to_json(),
        "derivatives": {
            "thumbnail": thumbnail if outcome.thumbnail_in_bucket or thumbnail in landing else None,
            "preview": preview if outcome.preview_in_bucket or preview in landing else None,
        },
        "uploaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", uploaded),
        "app": f"photo-uploader {__version__}",
    }
    if keep_gps and facts.gps is not None:
        record["gps"] = facts.gps
    return _encoded(record)


_UNCHANGED = object()


def sidecar_with(
    body: bytes,
    *,
    item: Item | None = None,
    thumbnail_key: object = _UNCHANGED,
    preview_key: object = _UNCHANGED,
) -> bytes | None:
    """A sidecar as stored, with its item and/or derivative keys replaced and everything
    else kept as it was (another computer may have written it). None when `body` is not
    one of ours."""
    record = _ours(body)
    if record is None:
        return None
    if item is not None:
        record["item"] = item.to_json()
    named = {
        name: key
        for name, key in (("thumbnail", thumbnail_key), ("preview", preview_key))
        if key is not _UNCHANGED
    }
    if named:
        derivatives = record.get("derivatives")
        record["derivatives"] = {**(derivatives if isinstance(derivatives, dict) else {}), **named}
    return _encoded(record)


def stored_item(body: bytes) -> Item | None:
    """The item a stored sidecar of ours names (an empty one if it names none)."""
    record = _ours(body)
    if record is None:
        return None
    named = record.get("item")
    return Item.from_fields(named if isinstance(named, dict) else {})


def stored_record(body: bytes | None) -> dict[str, object] | None:
    """A stored sidecar of ours as a dict; None when missing, damaged or someone else's."""
    return None if body is None else _ours(body)


def _ours(body: bytes) -> dict[str, object] | None:
    try:
        record = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or not str(record.get("schema", "")).startswith(
        SCHEMA.rsplit("/", 1)[0] + "/"
    ):
        return None
    return record


def _encoded(record: dict[str, object]) -> bytes:
    return json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
