"""The Bucket tab's orders and groups, and what search looks in: plain Python, run on a
worker (sorting 100,000 photos takes a good part of a second).

Rows stay plain tuples throughout, read by field index, and every order is two stable
sorts on fields as they are (strings, numbers): no Photo objects and no key tuples are
made. 100,000 objects the cycle collector tracks, alive while a sort runs, made the GUI
thread's next young collection an 80 ms stall (bench/ui_lag.py, docs/NOTES.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from app.core.collection import Photo

Row = tuple[Any, ...]  # a Photo as a plain tuple (a Photo itself reads the same way)

_FIELD = {name: number for number, name in enumerate(Photo._fields)}
_KEY, _SIZE = _FIELD["key"], _FIELD["size"]
_TAKEN, _UPLOADED = _FIELD["taken_at"], _FIELD["uploaded_at"]
_ITEM, _TITLE, _VIEW, _NOTES = (
    _FIELD["item_id"],
    _FIELD["item_title"],
    _FIELD["item_view"],
    _FIELD["item_notes"],
)
_PRIMARY = _FIELD["item_primary"]


def _name(row: Row) -> str:
    key: str = row[_KEY]
    return key[key.rfind("/") + 1 :].lower()


#: What each order sorts by (after the key: ties keep the key's order).
SORTS: dict[str, Callable[[Row], Any]] = {
    "Date taken": lambda row: row[_TAKEN] or "",
    "Uploaded": lambda row: row[_UPLOADED] or "",
    "Name": _name,
    "Size": itemgetter(_SIZE),
    "Item": lambda row: row[_ITEM] or "",
}
#: Orders that need the sidecars' details (the others come from the listing alone).
NEEDS_DETAILS = frozenset({"Date taken", "Uploaded", "Item"})
NO_ITEM = ""  # the group of photos that name no item


@dataclass(frozen=True, slots=True)
class Ordered:
    """Photo keys in the order chosen; what search looks in and the group of each (same
    order); each group's heading; where each key is. Tuples of strings, which the cycle
    collector untracks (the model makes them lists only while news changes them)."""

    keys: Sequence[str]
    texts: Sequence[str]
    groups: Sequence[str]  # the item id of each photo (NO_ITEM when none)
    headings: dict[str, str]  # item id -> "Morgan 1921 — Morgan dollar"
    positions: dict[str, int]  # key -> its index in `keys`
    sort: str = ""
    grouped: bool = False


def search_text(row: Row) -> str:
    """What search looks in: the key, the item's fields and the dates, lower case."""
    fields = (row[_KEY], row[_TAKEN], row[_UPLOADED], row[_ITEM], row[_TITLE])
    return " ".join(f for f in (*fields, row[_VIEW], row[_NOTES]) if f).lower()


def ordered_by(rows: Iterable[Row], sort: str, *, grouped: bool = False) -> Ordered:
    """The photos in the order `sort` names; `grouped`: each item's photos together, its
    primary photo first, the groups in the order of their first photo (photos of no item
    last)."""
    ordered = list(rows)
    ordered.sort(key=itemgetter(_KEY))
    ordered.sort(key=SORTS[sort])
    headings: dict[str, str] = {}
    if grouped:
        rank: dict[str, int] = {}
        for position, row in enumerate(ordered):
            group = row[_ITEM] or NO_ITEM
            rank.setdefault(group, position)
            if row[_TITLE] and (group not in headings or row[_PRIMARY]):
                headings[group] = f"{row[_ITEM]} — {row[_TITLE]}"
        for group in rank:
            headings.setdefault(group, group or "No item")
        last = len(ordered)
        ordered.sort(key=lambda row: not row[_PRIMARY])  # (stable: the order within)
        ordered.sort(key=lambda row: rank[row[_ITEM]] if row[_ITEM] else last)
    keys = tuple(row[_KEY] for row in ordered)
    return Ordered(
        keys,
        tuple(search_text(row) for row in ordered),
        tuple(row[_ITEM] or NO_ITEM for row in ordered),
        headings,
        {key: number for number, key in enumerate(keys)},
        sort,
        grouped,
    )
