"""The Bucket tab's model: entries laid out in a grid of cells, searched, grouped."""

from __future__ import annotations

from pytestqt.modeltest import ModelTester

from app.core.collection import Photo
from app.ui.bucket.model import BucketModel, PhotoRole
from app.ui.bucket.ordering import ordered_by


def photo(n: int, item: str | None = None, primary: bool = False) -> tuple[object, ...]:
    row = Photo(f"coins/p{n:02d}.jpg", f"{n:064d}", 100 + n, "image/jpeg", taken_at=f"2020-{n:02d}")
    return tuple(
        row.with_item(None) if item is None else row._replace(item_id=item, item_primary=primary)
    )


def model_with(rows: list[tuple[object, ...]], *, grouped: bool = False) -> BucketModel:
    model = BucketModel()
    model.apply(rows)
    model.set_order(ordered_by(model.rows(), "Date taken", grouped=grouped))
    return model


def test_the_model_is_a_sound_table_in_every_layout(qtmodeltester: ModelTester) -> None:
    model = model_with([photo(n, item=f"coin-{n % 3}") for n in range(10)], grouped=True)
    for columns in (1, 4, 7):
        model.set_columns(columns)
        qtmodeltester.check(model)
    assert model.rowCount() == (13 + 6) // 7  # ten photos and three headings, 7 a row


def test_cells_hold_entries_in_flow_order_and_selections_map_back() -> None:
    model = model_with([photo(n) for n in range(10)])
    model.set_columns(4)

    assert model.photo_at(5) == Photo._make(photo(5))
    assert model.index_of(5).data(PhotoRole.PHOTO).key == "coins/p05.jpg"
    assert model.position(model.index(2, 1)) == 9
    assert model.position(model.index(2, 2)) is None  # an empty cell after the last
    for positions in ([0], [3, 4], [1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 2, 9]):
        assert model.positions_in(model.selection_of(positions)) == positions


def test_photos_arriving_go_at_the_end_and_fill_the_last_row() -> None:
    model = model_with([photo(n) for n in range(5)])
    model.set_columns(4)

    model.apply([photo(n) for n in range(5, 9)])

    assert model.entries == 9 and model.rowCount() == 3
    assert model.photo_at(8) == Photo._make(photo(8))


def test_a_search_finds_by_item_and_date_and_group_headings_count_what_is_shown() -> None:
    model = model_with(
        [photo(1, "Morgan 1921", primary=False), photo(2, "Morgan 1921", True), photo(3, "Penny")],
        grouped=True,
    )

    assert [
        model.index_of(p).data() for p in range(model.entries) if model.photo_at(p) is None
    ] == [
        "Morgan 1921\n2 photos",
        "Penny\n1 photo",
    ]
    assert model.photo_at(1).key == "coins/p02.jpg"  # type: ignore[union-attr]  # primary first
    model.set_search("morgan 2020-01")
    assert model.photos_shown == 1 and model.index_of(0).data() == "Morgan 1921\n1 photo"
    assert model.group_positions(0) == [1]
