"""QueueModel, QueueFilterProxy and PreviewCache, offscreen with pytest-qt."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QImage
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.ui.badges import Badge, FilterCategory, category_of
from app.ui.preview_cache import PreviewCache
from app.ui.queue_model import Column, QueueModel, QueueRole
from app.ui.queue_proxy import QueueFilterProxy

pytestmark = pytest.mark.qt_log_level_fail("WARNING")

DISPLAY = Qt.ItemDataRole.DisplayRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole


def snap(file_id: int, state: FileState = FileState.QUEUED, **kw: object) -> FileSnapshot:
    kw.setdefault("path", Path(f"/photos/img_{file_id:05}.jpg"))
    return FileSnapshot(file_id=file_id, state=state, **kw)  # type: ignore[arg-type]


def jpeg(size: tuple[int, int] = (300, 200), colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


VARIED = [
    snap(1, FileState.UPLOADED, size=4_200_000, key="s/a.jpg",
         thumbnail_state=ThumbnailState.GENERATED),
    snap(2, FileState.UPLOADING, size=10_000, bytes_sent=4_500, bytes_total=10_000,
         notice="retrying (2/5)"),
    snap(3, FileState.DUPLICATE, size=300, key="s/old.jpg",
         thumbnail_state=ThumbnailState.SKIPPED),
    snap(4, FileState.FAILED, size=50, error="Not a photo.\nIt looks like text.",
         thumbnail_state=ThumbnailState.SKIPPED),
    snap(5, FileState.UPLOADED, size=7_000, key="s/b.jpg",
         thumbnail_state=ThumbnailState.FAILED, thumbnail_error="truncated"),
    snap(6, FileState.QUEUED),
    snap(7, FileState.CANCELLED, size=900, thumbnail_state=ThumbnailState.SKIPPED),
    snap(8, FileState.HASHING, size=123),
]  # fmt: skip


@pytest.fixture
def cache(qtbot: QtBot) -> Iterator[PreviewCache]:
    c = PreviewCache(remake=None)
    yield c
    c.close()


@pytest.fixture
def model(cache: PreviewCache) -> QueueModel:
    m = QueueModel(cache, dark=False)
    m.apply_snapshots(VARIED)
    return m


@pytest.fixture
def proxy(model: QueueModel) -> QueueFilterProxy:
    p = QueueFilterProxy()
    p.setSourceModel(model)
    return p


def proxy_ids(proxy: QueueFilterProxy) -> list[int]:
    return [proxy.file_id_at(row) or -1 for row in range(proxy.rowCount())]


# -- model ------------------------------------------------------------------------------


def test_modeltester_on_model_and_proxy(
    qtmodeltester: ModelTester, model: QueueModel, proxy: QueueFilterProxy
) -> None:
    qtmodeltester.check(model)
    proxy.sort(Column.SIZE, Qt.SortOrder.DescendingOrder)
    proxy.set_category(FilterCategory.FAILED)
    qtmodeltester.check(proxy)


def test_modeltester_while_rows_change(qtmodeltester: ModelTester, cache: PreviewCache) -> None:
    m = QueueModel(cache, dark=False)
    qtmodeltester.check(m, force_py=True)
    m.apply_snapshots(VARIED)
    m.apply_snapshots([snap(2, FileState.UPLOADED, size=10_000), snap(9, FileState.QUEUED)])
    m.remove_file_ids([1, 9])
    m.clear()


def test_display_and_roles(model: QueueModel) -> None:
    row = model.row_of(2)
    assert row == 1
    index = model.index(row, Column.NAME)
    assert index.data(DISPLAY) == "img_00002.jpg"
    assert model.index(row, Column.SIZE).data(DISPLAY) == "10.0 kB"
    assert model.index(row, Column.STATUS).data(DISPLAY) == "Uploading 45% · retrying (2/5)"
    assert model.index(row, Column.THUMBNAIL).data(DISPLAY) == "Pending"
    assert model.index(row, Column.MESSAGE).data(DISPLAY) == "retrying (2/5)"
    assert index.data(QueueRole.FILE_ID) == 2
    assert index.data(QueueRole.SNAPSHOT) is model.snapshot_at(row)
    assert index.data(QueueRole.PROGRESS) == pytest.approx(0.45)
    assert model.index(0, 0).data(QueueRole.PROGRESS) is None  # not uploading: no bar
    badge = index.data(QueueRole.STATE_BADGE)
    assert isinstance(badge, Badge) and badge.text.startswith("Uploading")
    assert isinstance(index.data(QueueRole.THUMBNAIL_BADGE), Badge)
    alignment = model.index(row, Column.SIZE).data(Qt.ItemDataRole.TextAlignmentRole)
    assert Qt.AlignmentFlag(alignment) & Qt.AlignmentFlag.AlignRight
    assert model.headerData(Column.STATUS, Qt.Orientation.Horizontal) == "Status"
    assert [c.title for c in Column] == [
        "Preview", "Name", "Size", "Status", "Thumbnail", "Bucket", "Message",
    ]  # fmt: skip
    accessible = model.index(row, Column.STATUS).data(Qt.ItemDataRole.AccessibleTextRole)
    assert accessible.startswith("Status: Uploading")


def test_messages_are_one_line_with_full_tooltip(model: QueueModel) -> None:
    row = model.row_of(4)
    assert row is not None
    cell = model.index(row, Column.MESSAGE)
    assert cell.data(DISPLAY) == "Not a photo. It looks like text."
    tip = cell.data(TOOLTIP)
    assert "/photos/img_00004.jpg" in tip and "Not a photo.\nIt looks like text." in tip
    failed_thumb = model.index(model.row_of(5) or 0, Column.MESSAGE)
    assert failed_thumb.data(DISPLAY) == "Thumbnail failed: truncated"
    assert model.index(model.row_of(5) or 0, Column.THUMBNAIL).data(TOOLTIP) == "truncated"
    assert (
        model.index(model.row_of(3) or 0, Column.MESSAGE).data(DISPLAY)
        == "Already in the bucket as s/old.jpg"
    )


def test_non_utf8_name_shows_escapes(cache: PreviewCache) -> None:
    m = QueueModel(cache, dark=False)
    name = b"caf\xe9.jpg".decode("utf-8", "surrogateescape")
    m.apply_snapshots([snap(1, path=Path("/p") / name)])
    assert m.index(0, Column.NAME).data(DISPLAY) == "caf\\xe9.jpg"
    assert "caf\\xe9.jpg" in m.index(0, Column.NAME).data(TOOLTIP)


def test_updates_change_rows_in_place_with_few_signals(qtbot: QtBot, cache: PreviewCache) -> None:
    m = QueueModel(cache, dark=False)
    m.apply_snapshots([snap(i) for i in range(1, 201)])
    signals: list[tuple[int, int, int, int, list[int]]] = []
    m.dataChanged.connect(
        lambda tl, br, roles: signals.append((tl.row(), br.row(), tl.column(), br.column(), roles))
    )
    inserted: list[tuple[int, int]] = []
    m.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))

    m.apply_snapshots(
        [snap(i, FileState.HASHING, size=i) for i in range(50, 150)]
        + [snap(i) for i in range(201, 211)]
    )

    assert m.rowCount() == 210
    assert m.snapshot_at(49).state is FileState.HASHING
    assert inserted == [(200, 209)]
    assert [(s[0], s[1], s[2], s[3]) for s in signals] == [(49, 148, 0, len(Column) - 1)]

    # scattered updates: one signal per run of nearby rows, not one spanning them all
    signals.clear()
    m.apply_snapshots([snap(i, FileState.UPLOADING) for i in (3, 5, 100, 101, 190)])
    assert [(s[0], s[1]) for s in signals] == [(2, 4), (99, 100), (189, 189)]


def test_thumbnail_bytes_are_not_kept_in_rows(model: QueueModel) -> None:
    model.apply_snapshots([snap(1, FileState.UPLOADED, thumbnail_jpeg=jpeg())])
    kept = model.snapshot_for(1)
    assert kept is not None and kept.thumbnail_jpeg is None


def test_remove_contiguous_and_scattered(model: QueueModel, proxy: QueueFilterProxy) -> None:
    model.remove_file_ids([2, 3, 99])
    assert model.rowCount() == 6
    assert [model.snapshot_at(r).file_id for r in range(6)] == [1, 4, 5, 6, 7, 8]
    assert model.row_of(4) == 1 and model.row_of(2) is None
    assert model.counts()[FileState.UPLOADING] == 0
    assert proxy.rowCount() == 6

    many = QueueModel(None, dark=False)
    many.apply_snapshots([snap(i) for i in range(1, 1001)])
    reset: list[bool] = []
    many.modelReset.connect(lambda: reset.append(True))
    many.remove_file_ids(range(1, 1001, 2))  # 500 runs: one reset
    assert reset == [True]
    assert many.rowCount() == 500
    assert all(many.snapshot_at(r).file_id == 2 * (r + 1) for r in range(500))
    assert all(many.row_of(2 * (r + 1)) == r for r in range(500))
    assert many.counts() == {FileState.QUEUED: 500}


def test_counts_and_bytes(model: QueueModel) -> None:
    counts = model.counts()
    assert counts[FileState.UPLOADED] == 2
    assert counts[FileState.QUEUED] == 1
    assert sum(counts.values()) == 8
    assert model.total_bytes == 4_200_000 + 10_000 + 300 + 50 + 7_000 + 900 + 123
    # on the wire: the two uploaded files and half of the uploading one; the duplicate none
    assert model.sent_bytes == 4_200_000 + 7_000 + 4_500
    # still to send: the rest of the uploading file and the file being hashed
    assert model.remaining_bytes == 5_500 + 123
    settled = 4_200_000 + 4_500 + 300 + 50 + 7_000 + 900
    assert model.overall_progress() == pytest.approx(settled / model.total_bytes)

    model.apply_snapshots([snap(2, FileState.UPLOADED, size=10_000, bytes_sent=10_000)])
    model.apply_snapshots([snap(6, FileState.CANCELLED), snap(8, FileState.FAILED, size=123)])
    assert model.overall_progress() == pytest.approx(1.0)
    assert model.remaining_bytes == 0
    assert model.sent_bytes == 4_200_000 + 7_000 + 10_000
    assert model.counts()[FileState.UPLOADING] == 0
    assert FileState.UPLOADING not in model.counts()
    assert model.file_ids_where(lambda s: s.state is FileState.UPLOADED) == [1, 2, 5]
    model.clear()
    assert (model.total_bytes, model.sent_bytes, model.remaining_bytes) == (0, 0, 0)
    assert model.counts() == {}


def test_totals_changed_is_signalled(qtbot: QtBot, model: QueueModel) -> None:
    with qtbot.waitSignal(model.totals_changed, timeout=1000):
        model.apply_snapshots([snap(6, FileState.HASHING)])


# -- proxy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "ids"),
    [
        (FilterCategory.ALL, [1, 2, 3, 4, 5, 6, 7, 8]),
        (FilterCategory.IN_PROGRESS, [2, 6, 8]),
        (FilterCategory.FAILED, [4, 5]),
        (FilterCategory.DONE, [1, 3, 5]),
        (FilterCategory.NOT_SENT, [3, 7]),
    ],
)
def test_filter_categories(
    proxy: QueueFilterProxy, category: FilterCategory, ids: list[int]
) -> None:
    proxy.set_category(category)
    assert proxy.category is category
    assert proxy_ids(proxy) == ids


def test_filter_follows_updates(model: QueueModel, proxy: QueueFilterProxy) -> None:
    proxy.set_category(FilterCategory.FAILED)
    model.apply_snapshots([snap(2, FileState.FAILED, error="Access denied")])
    assert proxy_ids(proxy) == [2, 4, 5]
    model.apply_snapshots([snap(4, FileState.QUEUED)])  # retried
    assert proxy_ids(proxy) == [2, 5]
    model.apply_snapshots([snap(20, FileState.FAILED), snap(21)])
    assert proxy_ids(proxy) == [2, 5, 20]


def test_sort_by_size_and_status(model: QueueModel, proxy: QueueFilterProxy) -> None:
    proxy.sort(Column.SIZE, Qt.SortOrder.AscendingOrder)
    assert proxy_ids(proxy) == [6, 4, 8, 3, 7, 5, 2, 1]  # unknown size first
    proxy.sort(Column.STATUS, Qt.SortOrder.AscendingOrder)
    # failures first, then active, queued, cancelled, duplicates, uploaded (queue order kept)
    assert proxy_ids(proxy) == [4, 2, 8, 6, 7, 3, 1, 5]
    model.apply_snapshots([snap(1, FileState.FAILED, size=4_200_000, error="x")])
    assert proxy_ids(proxy) == [1, 4, 2, 8, 6, 7, 3, 5]  # dynamic re-sort
    proxy.sort(Column.NAME, Qt.SortOrder.DescendingOrder)
    assert proxy_ids(proxy) == [8, 7, 6, 5, 4, 3, 2, 1]


def test_ten_thousand_rows(qtbot: QtBot) -> None:
    m = QueueModel(None, dark=False)
    proxy = QueueFilterProxy()
    proxy.setSourceModel(m)
    proxy.sort(Column.STATUS, Qt.SortOrder.AscendingOrder)
    proxy.set_category(FilterCategory.ALL)
    n = 10_000

    start = time.perf_counter()
    m.apply_snapshots([snap(i) for i in range(1, n + 1)])
    inserted = time.perf_counter() - start

    def updated(i: int) -> FileSnapshot:
        if i % 10 == 0:
            return snap(i, FileState.FAILED, size=i, error="no")
        return snap(i, FileState.UPLOADING, size=i, bytes_sent=i // 2, bytes_total=i)

    start = time.perf_counter()
    m.apply_snapshots([updated(i) for i in range(1, n + 1)])
    changed = time.perf_counter() - start

    start = time.perf_counter()
    m.apply_snapshots(
        [snap(i, FileState.UPLOADING, size=i, bytes_sent=i, bytes_total=i) for i in range(1, n + 1)
         if i % 10]
    )  # fmt: skip
    ticked = time.perf_counter() - start
    print(
        f"\n10,000 rows sorted by status: insert {inserted:.3f}s, "
        f"state change {changed:.3f}s, progress tick {ticked:.3f}s"
    )

    assert m.rowCount() == n and proxy.rowCount() == n
    assert m.counts() == {FileState.FAILED: n // 10, FileState.UPLOADING: n - n // 10}
    first = [proxy.file_id_at(r) for r in range(n // 10)]
    assert first == list(range(10, n + 1, 10))  # failures sort first, in queue order
    assert m.index(m.row_of(7) or 0, Column.STATUS).data(DISPLAY) == "Uploading 99%"
    proxy.set_category(FilterCategory.FAILED)
    assert proxy.rowCount() == n // 10
    m.remove_file_ids(range(1, n + 1, 3))
    assert m.rowCount() == n - len(range(1, n + 1, 3))
    assert proxy.rowCount() == len([i for i in range(10, n + 1, 10) if (i - 1) % 3])


# -- previews ---------------------------------------------------------------------------


def test_offered_bytes_become_a_small_preview(
    qtbot: QtBot, model: QueueModel, cache: PreviewCache
) -> None:
    row = model.row_of(1)
    assert row is not None
    placeholder = model.index(row, Column.PREVIEW).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(placeholder, QImage) and not placeholder.isNull()
    assert model.index(row, Column.PREVIEW).data(QueueRole.PREVIEW) is None

    threads: list[bool] = []
    cache.preview_ready.connect(
        lambda _i: threads.append(threading.current_thread() is threading.main_thread())
    )
    changes: list[tuple[int, int, list[int]]] = []
    model.dataChanged.connect(lambda tl, _br, roles: changes.append((tl.row(), tl.column(), roles)))
    with qtbot.waitSignal(cache.preview_ready, timeout=5000) as blocker:
        model.apply_snapshots(
            [snap(1, FileState.UPLOADED, thumbnail_state=ThumbnailState.GENERATED,
                  thumbnail_jpeg=jpeg((300, 200)))]
        )  # fmt: skip
    assert blocker.args == [1]
    assert threads == [True]  # delivered on the GUI thread
    image = cache.preview_for(1)
    assert image is not None and not image.isNull()
    assert max(image.width(), image.height()) <= 48
    assert (image.width(), image.height()) == (48, 32)
    assert image.format() == QImage.Format.Format_RGB32

    # the model tells views about the new preview (coalesced, shortly after)
    preview_change = (row, int(Column.PREVIEW))
    decoration = Qt.ItemDataRole.DecorationRole
    qtbot.waitUntil(
        lambda: any(c[:2] == preview_change and decoration in c[2] for c in changes),
        timeout=2000,
    )
    shown = model.index(row, Column.PREVIEW).data(Qt.ItemDataRole.DecorationRole)
    assert shown == image

    large = cache.large_preview(1)
    assert large is not None and (large.width(), large.height()) == (300, 200)
    # the same bytes again (the engine sends them until the thumbnail is uploaded): no redo
    with qtbot.assertNotEmitted(cache.preview_ready, wait=100):
        cache.offer(snap(1, thumbnail_jpeg=cache_bytes(cache, 1)))


def cache_bytes(cache: PreviewCache, file_id: int) -> bytes:
    return cache._jpegs[file_id]


def test_cache_is_bounded(qtbot: QtBot) -> None:
    cache = PreviewCache(remake=None, max_images=2, max_jpegs=1)
    try:
        for i in (1, 2, 3):
            with qtbot.waitSignal(cache.preview_ready, timeout=5000):
                cache.offer(snap(i, thumbnail_jpeg=jpeg((64, 64), (i * 60, 0, 0))))
        assert cache.preview_for(1) is None
        assert cache.preview_for(2) is not None and cache.preview_for(3) is not None
        assert cache.large_preview(2) is None and cache.large_preview(3) is not None
    finally:
        cache.close()


def test_evicted_previews_are_remade_from_the_original(qtbot: QtBot, tmp_path: Path) -> None:
    calls: list[tuple[Path, bool]] = []

    def remake(path: Path) -> bytes:
        calls.append((path, threading.current_thread() is threading.main_thread()))
        if path.name == "broken.jpg":
            raise OSError("unreadable")
        return jpeg((96, 64))

    cache = PreviewCache(remake=remake)
    try:
        m = QueueModel(cache, dark=False)
        m.apply_snapshots(
            [
                snap(1, FileState.UPLOADED, thumbnail_state=ThumbnailState.GENERATED,
                     path=tmp_path / "ok.jpg"),
                snap(2, FileState.UPLOADED, thumbnail_state=ThumbnailState.GENERATED,
                     path=tmp_path / "broken.jpg"),
                snap(3, FileState.FAILED, path=tmp_path / "notes.txt"),
            ]
        )  # fmt: skip
        with qtbot.waitSignal(cache.preview_ready, timeout=5000):
            for row in range(3):  # what a view does when painting the rows
                m.index(row, Column.PREVIEW).data(Qt.ItemDataRole.DecorationRole)
        image = cache.preview_for(1)
        assert image is not None and (image.width(), image.height()) == (48, 32)
        qtbot.waitUntil(lambda: len(calls) == 2, timeout=5000)
        assert sorted(p.name for p, _ in calls) == ["broken.jpg", "ok.jpg"]
        assert not any(on_main for _, on_main in calls)
        # a failed remake is not retried on every paint, and a failed file never asks
        qtbot.wait(50)
        for row in range(3):
            m.index(row, Column.PREVIEW).data(Qt.ItemDataRole.DecorationRole)
        qtbot.wait(50)
        assert len(calls) == 2
        assert cache.preview_for(2) is None
    finally:
        cache.close()


def test_close_is_idempotent_and_stops_work(qtbot: QtBot) -> None:
    cache = PreviewCache(remake=None)
    cache.close()
    cache.close()
    with qtbot.assertNotEmitted(cache.preview_ready, wait=100):
        cache.offer(snap(1, thumbnail_jpeg=jpeg()))
    assert cache.preview_for(1) is None


def test_placeholder_without_cache() -> None:
    m = QueueModel(None, dark=True)
    m.apply_snapshots([snap(1)])
    image = m.index(0, Column.PREVIEW).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(image, QImage) and image.width() == 48
    assert m.index(0, Column.NAME).data(Qt.ItemDataRole.DecorationRole) is None
    assert m.data(QModelIndex()) is None


def test_retryable_count_follows_inserts_changes_and_removals(qtbot: QtBot) -> None:
    m = QueueModel(None, dark=False)
    m.apply_snapshots([snap(i) for i in range(1, 6)])
    assert m.retryable_count == 0
    m.apply_snapshots(
        [
            snap(1, FileState.FAILED, error="x"),
            snap(2, FileState.UPLOADED, thumbnail_state=ThumbnailState.FAILED),
            snap(3, FileState.UPLOADED, thumbnail_state=ThumbnailState.GENERATED),
            snap(6, FileState.FAILED, error="y"),  # a new row
        ]
    )
    assert m.retryable_count == 3
    assert m.retryable_count == len(
        m.file_ids_where(lambda s: FilterCategory.FAILED in category_of(s))
    )
    m.apply_snapshots([snap(1, FileState.UPLOADED, thumbnail_state=ThumbnailState.GENERATED)])
    m.remove_file_ids([6])
    assert m.retryable_count == 1
    m.clear()
    assert m.retryable_count == 0


def test_the_queue_counts_exactly_what_retry_failed_redoes(
    qtbot: QtBot, cache: PreviewCache, tmp_path: Path
) -> None:
    """An index entry the server lost is retried by the engine, so the window counts it
    too (both ask app.core.policy)."""
    import asyncio

    from tests.helpers import corpus
    from tests.helpers.fakes import FakeStore
    from tests.helpers.pipelines import open_pipeline

    photos = [corpus.jpeg_photo(tmp_path / f"p{n}.jpg", (64, 48), seed=n) for n in range(3)]
    store = FakeStore()
    store.fail_next["record"] = 1  # one photo's index entry is not written
    model = QueueModel(cache, dark=False)

    async def go() -> tuple[int, int, list[int]]:
        async with open_pipeline(store, concurrency=1) as pipeline:
            pipeline.add_observer(model.apply_snapshots)
            pipeline.add_paths(photos)
            await asyncio.wait_for(pipeline.wait_idle(), 10)
            proxy = QueueFilterProxy()
            proxy.setSourceModel(model)
            proxy.set_category(FilterCategory.FAILED)
            return model.retryable_count, proxy.rowCount(), pipeline.retry_failed()

    counted, shown, retried = asyncio.run(go())
    assert len(retried) == 1 and counted == 1 and shown == 1
