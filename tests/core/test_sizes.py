"""Sizes in words."""

from __future__ import annotations

from app.core.sizes import human_size


def test_sizes_in_decimal_units() -> None:
    assert human_size(None) == "—"
    assert human_size(812) == "812 B"
    assert human_size(4_213_122) == "4.2 MB"
    assert human_size(950_000) == "950 kB"
    assert human_size(999_999) == "1.0 MB"
    assert human_size(18_400_000_000) == "18.4 GB"
