"""Share links and what they mean, said once for the CLI and the window."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.core.errors import StoreError
from app.core.sharing import make_share_link, parse_expiry
from tests.helpers import corpus
from tests.helpers.buckets import jpeg_bytes


@dataclass
class SigningStore:
    objects: dict[str, bytes] = field(default_factory=dict)
    expires: float | None = None
    signed: list[tuple[str, int]] = field(default_factory=list)

    def object_size(self, key: str) -> int | None:
        return len(self.objects[key]) if key in self.objects else None

    def get_bytes(self, key: str, limit: int) -> bytes | None:
        return self.objects[key][:limit] if key in self.objects else None

    def share_url(self, key: str, seconds: int) -> str:
        self.signed.append((key, seconds))
        return f"http://example/{key}?sig"

    def credentials_expire_at(self) -> float | None:
        return self.expires


def test_a_link_says_who_can_open_it_and_until_when() -> None:
    store = SigningStore({"a.jpg": jpeg_bytes()})

    link = make_share_link(store, "a.jpg", parse_expiry("7d"), now=1_000_000.0)

    assert store.signed == [("a.jpg", 7 * 86_400)]
    assert link.url == "http://example/a.jpg?sig" and link.expires_at == 1_000_000 + 7 * 86_400
    assert len(link.cautions) == 1 and link.cautions[0].startswith("Anyone with this link")


def test_cautions_for_gps_temporary_credentials_and_the_local_bucket(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "gps.jpg", exif_gps=True)
    store = SigningStore({"gps.jpg": photo.read_bytes()}, expires=1_000_600.0)

    link = make_share_link(store, "gps.jpg", 3600, local_bucket=True, now=1_000_000.0)

    text = " ".join(link.cautions)
    assert "temporary credentials" in text and link.expires_at == 1_000_600.0
    assert "still holds the GPS position" in text
    assert "works only on this computer" in text
    unknown = SigningStore({"a.jpg": jpeg_bytes()}, expires=math.nan)
    assert "may be sooner" in " ".join(make_share_link(unknown, "a.jpg", 3600).cautions)


def test_no_link_to_a_photo_that_is_not_there_and_no_odd_expiry() -> None:
    with pytest.raises(StoreError, match=r"There is no photo at b\.jpg"):
        make_share_link(SigningStore(), "b.jpg", 3600)
    with pytest.raises(ValueError, match="A link can last 1h, 1d, 7d"):
        parse_expiry("2h")
