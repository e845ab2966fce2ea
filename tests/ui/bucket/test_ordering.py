"""Orders and groups of the Bucket tab, made on a worker from plain tuples."""

from __future__ import annotations

import gc

from app.core.collection import Photo
from app.ui.bucket.ordering import ordered_by, search_text


def rows() -> list[tuple[object, ...]]:
    made = [
        Photo("b/Zeta.jpg", "1" * 64, 30, "image/jpeg", taken_at="2021", uploaded_at="2026-01"),
        Photo("a/alpha.jpg", "2" * 64, 10, "image/jpeg", taken_at=None, uploaded_at="2026-03"),
        Photo("c/Beta.jpg", "3" * 64, 20, "image/jpeg", taken_at="2019", uploaded_at="2026-02"),
    ]
    return [tuple(p) for p in made]


def keys(sort: str) -> list[str]:
    return list(ordered_by(rows(), sort).keys)


def test_each_order() -> None:
    assert keys("Date taken") == ["a/alpha.jpg", "c/Beta.jpg", "b/Zeta.jpg"]  # undated first
    assert keys("Uploaded") == ["b/Zeta.jpg", "c/Beta.jpg", "a/alpha.jpg"]
    assert keys("Name") == ["a/alpha.jpg", "c/Beta.jpg", "b/Zeta.jpg"]  # (case left aside)
    assert keys("Size") == ["a/alpha.jpg", "c/Beta.jpg", "b/Zeta.jpg"]


def test_the_order_is_kept_in_tuples_the_collector_untracks() -> None:
    ordered = ordered_by(rows(), "Name")
    gc.collect()
    assert not gc.is_tracked(ordered.keys) and not gc.is_tracked(ordered.texts)
    assert ordered.positions == {"a/alpha.jpg": 0, "c/Beta.jpg": 1, "b/Zeta.jpg": 2}
    assert search_text(rows()[0]) == "b/zeta.jpg 2021 2026-01"
