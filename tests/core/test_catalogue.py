"""The catalogue: the last listing of a bucket and the bodies read, kept by ETag."""

from __future__ import annotations

from pathlib import Path

from app.core.catalogue import Catalogue


def listed(catalogue: Catalogue, prefixes: tuple[str, ...]) -> list[tuple[str, int, str]]:
    return [row for chunk in catalogue.listed("s", prefixes, chunk=2) for row in chunk]


def test_a_listing_is_kept_and_what_went_is_forgotten_under_its_prefixes_only(
    tmp_path: Path,
) -> None:
    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    first = [("coins/a.jpg", 10, ""), ("coins/a.jpg.json", 5, '"e1"'), ("stamps/b.jpg", 7, "")]
    catalogue.keep_listing("s", ("coins/", "stamps/"), iter(first))
    catalogue.keep("s", [("coins/a.jpg.json", '"e1"', b"{}"), ("stamps/b.jpg.json", '"e2"', b"{}")])

    catalogue.keep_listing("s", ("coins/",), iter([("coins/c.jpg", 3, "")]))  # a went

    assert listed(catalogue, ("coins/", "stamps/")) == [
        ("coins/c.jpg", 3, ""),
        ("stamps/b.jpg", 7, ""),  # (not listed this time: not forgotten)
    ]
    assert catalogue.bodies("s", {"coins/a.jpg.json": '"e1"'}) == {}
    assert catalogue.bodies("s", {"stamps/b.jpg.json": '"e2"'}) == {"stamps/b.jpg.json": b"{}"}
    assert listed(catalogue, ("coins/",)) == [("coins/c.jpg", 3, "")]
    assert [row for chunk in catalogue.listed("other", ("",)) for row in chunk] == []


def test_a_body_is_given_back_only_for_the_etag_it_was_read_with(tmp_path: Path) -> None:
    catalogue = Catalogue(tmp_path / "catalogue.sqlite3")
    catalogue.keep("s", [(f"k{n}.json", '"e"', b"x%d" % n) for n in range(1200)])

    found = catalogue.bodies("s", {f"k{n}.json": '"e"' if n % 2 else '"new"' for n in range(1200)})

    assert len(found) == 600 and found["k1.json"] == b"x1"  # (over several lookups)
