"""Sizes in words, as file managers show them: for the window and the command line."""

from __future__ import annotations


def human_size(size: int | None) -> str:
    """Decimal units, as file managers show them: "4.2 MB", "950 kB"; "—" when unknown."""
    if size is None or size < 0:
        return "—"
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if round(value, 1) < 100:
            return f"{value:.1f} {unit}"
        if round(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}"
    raise AssertionError("unreachable")
