"""The journal: round trips, coalesced writes, a bounded history, clear degradation, and
the engine finishing what an earlier run left (against an in-memory store)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from app.cli import main as cli_main
from app.core.config import Destination, EngineSettings
from app.core.engine import Engine
from app.core.journal import (
    JOURNAL_FILE,
    ORIGIN_CLI,
    ORIGIN_GUI,
    Journal,
    JournalRecorder,
    JournalRow,
    destination_identity,
    open_journal,
)
from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.core.paths import data_dir
from app.core.pipeline.multipart import part_count, read_part
from app.core.policy import needs_retry
from app.core.store import (
    MULTIPART_CHUNK_SIZE,
    MULTIPART_THRESHOLD,
    S3Store,
    index_key,
    parts_to_text,
)
from tests.helpers import corpus
from tests.helpers.fakes import FakeStore, StoredObject

DESTINATION = Destination(bucket="fake-bucket", prefix="coins")
DEST_ID = destination_identity(DESTINATION)


def run(coro_fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(coro_fn())


def row(
    row_id: int, path: Path | str, state: FileState = FileState.QUEUED, **kw: Any
) -> JournalRow:
    now = kw.pop("updated_at", time.time())
    return JournalRow(
        row_id=row_id,
        path=Path(path),
        state=state,
        destination=kw.pop("destination", DEST_ID),
        bucket="fake-bucket",
        queued_at=kw.pop("queued_at", now),
        updated_at=now,
        **kw,
    )


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / JOURNAL_FILE


@pytest.fixture
def journal(journal_path: Path) -> Iterator[Journal]:
    j = open_journal(ORIGIN_GUI, journal_path)
    yield j
    j.close().result()


# -- the journal itself -------------------------------------------------------------


def test_rows_round_trip_with_any_file_name(journal: Journal, tmp_path: Path) -> None:
    odd = Path(os.fsdecode(str(tmp_path).encode() + b"/M\xfcnze \xff\n1923.jpg"))  # not UTF-8
    written = row(
        journal.row_id(1),
        odd,
        FileState.UPLOADED,
        thumbnail_state=ThumbnailState.GENERATED,
        size=123,
        mtime_ns=456,
        sha256="ab" * 32,
        content_type="image/jpeg",
        key="coins/Münze-abababab.jpg",
        thumbnail_key="coins/thumbnails/Münze-abababab.jpg",
        original_in_bucket=True,
        thumbnail_in_bucket=True,
        index_in_bucket=True,
    )
    assert journal.enabled and journal.problem is None
    assert journal.write([written]).result() is True

    (back,) = journal.history().result()
    assert back == written and back.origin == ORIGIN_GUI
    assert os.fsencode(back.path) == os.fsencode(odd)
    assert journal.latest([odd], DEST_ID).result() == {odd: written}
    assert journal.latest([odd], "elsewhere").result() == {}
    record = back.to_json_dict()
    assert set(record) == set(FileSnapshot(0, odd, FileState.UPLOADED).to_json_dict()) | {
        "timestamp"
    }
    assert record["status"] == "uploaded" and record["key"] == written.key
    assert record["path"].endswith("M\\xfcnze \\xff\n1923.jpg")


def test_updates_replace_a_row_and_the_queue_is_unfinished_plus_recent_finished(
    journal: Journal,
) -> None:
    first, second, third = (journal.row_id(n) for n in (1, 2, 3))
    journal.write([row(first, "/p/a.jpg"), row(second, "/p/b.jpg"), row(third, "/p/c.jpg")])
    journal.write(
        [
            row(first, "/p/a.jpg", FileState.UPLOADED, key="k"),
            row(second, "/p/b.jpg", FileState.FAILED, error="bad", dismissed=True),
        ]
    ).result()

    queue = journal.queue().result()
    assert [(r.path.name, r.state) for r in queue] == [
        ("a.jpg", FileState.UPLOADED),
        ("c.jpg", FileState.QUEUED),
    ]
    assert journal.queue(ORIGIN_CLI).result() == []  # the window's queue is its own
    assert [r.path.name for r in journal.history(where=needs_retry).result()] == ["b.jpg"]
    assert [r.path.name for r in journal.history().result()] == ["b.jpg", "a.jpg"]


def test_row_ids_differ_between_runs(journal_path: Path) -> None:
    one = open_journal(ORIGIN_GUI, journal_path)
    two = open_journal(ORIGIN_CLI, journal_path)
    try:
        assert one.run_id != two.run_id
        assert one.row_id(1) != two.row_id(1)
    finally:
        one.close().result()
        two.close().result()


def test_history_is_pruned_to_its_bounds_at_start(journal_path: Path) -> None:
    now = 1_000_000_000.0
    j = open_journal(ORIGIN_GUI, journal_path, clock=lambda: now)
    rows = [
        row(n, f"/p/{n}.jpg", FileState.UPLOADED, updated_at=now - 1000 + n) for n in range(1, 151)
    ]
    rows.append(row(500, "/p/old.jpg", FileState.UPLOADED, updated_at=now - 40 * 86400))
    rows.append(row(501, "/p/abandoned.jpg", FileState.UPLOADING, updated_at=now - 40 * 86400))
    rows.append(row(502, "/p/waiting.jpg", FileState.QUEUED, updated_at=now - 5))
    j.write(rows).result()
    j.close().result()

    pruned = open_journal(
        ORIGIN_GUI, journal_path, clock=lambda: now, max_finished_rows=100, max_age_days=30
    )
    try:
        kept = pruned.history(limit=None).result()
        assert len(kept) == 100
        assert {r.row_id for r in kept} == set(range(51, 151))  # the newest hundred
        assert [r.path.name for r in pruned.queue(finished_limit=0).result()] == ["waiting.jpg"]
    finally:
        pruned.close().result()
    with sqlite3.connect(journal_path) as db:  # every query the app makes has an index
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM files WHERE path IN (?) AND destination = ?",
            (b"/p/1.jpg", DEST_ID),
        ).fetchall()
        assert "files_path" in str(plan)
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
        assert mode == "wal"


class CountingJournal(Journal):
    def __init__(self, path: Path) -> None:
        super().__init__(path, origin=ORIGIN_GUI)
        self.batches: list[list[JournalRow]] = []
        self.write_started: list[float] = []

    def write(self, rows: Sequence[JournalRow]) -> Future[bool]:
        self.batches.append(list(rows))
        self.write_started.append(time.monotonic())
        return super().write(rows)


def test_recorder_coalesces_bursts_into_few_transactions(journal_path: Path) -> None:
    journal = CountingJournal(journal_path).open_sync()

    async def go() -> None:
        recorder = JournalRecorder(journal, interval=0.1)
        states = [FileState.QUEUED, FileState.HASHING, FileState.CHECKING, FileState.UPLOADING]
        for state in states * 50:  # 200 posts for each of 20 files, in one burst
            for n in range(20):
                recorder.post(row(journal.row_id(n + 1), f"/p/{n}.jpg", state))
        await asyncio.sleep(0.25)
        for n in range(20):
            recorder.post(row(journal.row_id(n + 1), f"/p/{n}.jpg", FileState.UPLOADED))
        await recorder.flush()
        assert [r.state for r in journal.history(limit=None).result()] == [FileState.UPLOADED] * 20
        await recorder.aclose(5.0)

    run(go)
    assert 2 <= len(journal.batches) <= 3  # not 4,020
    assert all(len({r.row_id for r in b}) == len(b) for b in journal.batches)  # latest only
    gaps = [b - a for a, b in zip(journal.write_started, journal.write_started[1:], strict=False)]
    assert all(gap >= 0.09 for gap in gaps)


def test_a_damaged_journal_is_set_aside_and_a_new_one_started(journal_path: Path) -> None:
    journal_path.parent.mkdir(parents=True)
    journal_path.write_bytes(b"this is not a database" * 100)
    j = open_journal(ORIGIN_GUI, journal_path)
    try:
        assert j.enabled and j.problem is None
        assert j.notice and "damaged" in j.notice
        assert j.write([row(j.row_id(1), "/p/a.jpg")]).result()
        assert len(j.queue().result()) == 1
    finally:
        j.close().result()
    (aside,) = journal_path.parent.glob(JOURNAL_FILE + ".damaged-*")
    assert aside.read_bytes().startswith(b"this is not a database")


def test_an_unwritable_journal_is_off_with_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    j = open_journal(ORIGIN_GUI, blocker / JOURNAL_FILE)
    messages: list[str] = []

    async def go() -> None:
        recorder = JournalRecorder(j, on_problem=messages.append)
        recorder.post(row(1, "/p/a.jpg"))  # ignored, never raises
        assert await recorder.queue() == []
        assert await recorder.latest([Path("/p/a.jpg")], DEST_ID) == {}
        await asyncio.sleep(0)
        await recorder.aclose(5.0)

    run(go)
    assert not j.enabled
    assert j.problem is not None and str(blocker / JOURNAL_FILE) in j.problem
    assert "Uploads carry on" in j.problem
    assert messages == [j.problem]


def test_a_full_disk_mid_run_turns_the_journal_off_once(journal_path: Path) -> None:
    journal = open_journal(ORIGIN_GUI, journal_path)
    messages: list[str] = []

    def fill_up() -> None:  # SQLite's own "disk full": no more pages than it has now
        db = journal._db
        assert db is not None
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count = {pages}")

    journal._submit(fill_up).result()

    async def go() -> None:
        recorder = JournalRecorder(journal, interval=0.01, on_problem=messages.append)
        for n in range(200):
            recorder.post(row(n + 1, f"/p/{n}.jpg", error="x" * 2000))
        await recorder.flush()
        recorder.post(row(999, "/p/later.jpg"))
        await recorder.flush()
        await asyncio.sleep(0)
        await recorder.aclose(5.0)

    run(go)
    assert not journal.enabled
    assert messages == [journal.problem]
    assert "the disk is full" in messages[0]


# -- the engine with a journal ------------------------------------------------------


class Session:
    """One run of the engine over a FakeStore with the journal in the data folder."""

    def __init__(self, store: FakeStore, origin: str = ORIGIN_CLI) -> None:
        self.store = store
        self.problems: list[str] = []
        self.journal = open_journal(origin)
        self.engine = Engine(
            DESTINATION,
            EngineSettings(concurrency=2),
            store_factory=lambda *_: store,
            journal=self.journal,
            on_problem=self.problems.append,
        )

    async def upload(self, *paths: Path) -> dict[str, FileSnapshot]:
        self.engine.add_paths(list(paths))
        await self.engine.wait_idle()
        return self.final()

    async def restore(self) -> dict[str, FileSnapshot]:
        await self.engine.restore_queue()
        await self.engine.wait_idle()
        return self.final()

    def final(self) -> dict[str, FileSnapshot]:
        return {s.path.name: s for s in self.engine.snapshots()}

    async def close(self) -> None:
        await self.engine.aclose()
        # Every worker thread done before the loop closes: a thread finishing a future of
        # a closed loop may write to its recycled wake-up socket, which under pytest-qt
        # can be Qt's by then (seen: a segfault in Qt's event processing).
        for pool in (self.engine.io_pool, self.engine.cpu_pool):
            pool.shutdown(wait=True)


def in_session(
    store: FakeStore, body: Callable[[Session], Coroutine[Any, Any, Any]], origin: str = ORIGIN_CLI
) -> Any:
    async def go() -> Any:
        session = Session(store, origin)
        try:
            return await body(session)
        finally:
            await session.close()

    return run(go)


def journal_rows() -> dict[str, JournalRow]:
    j = open_journal(ORIGIN_CLI, data_dir() / JOURNAL_FILE, for_reading=True)
    try:
        rows = j.history(limit=None).result() + j.queue(ORIGIN_GUI).result()
        rows += j.queue(ORIGIN_CLI).result()
    finally:
        j.close().result()
    return {r.path.name: r for r in sorted(rows, key=lambda r: r.updated_at)}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def interrupted_row(photo: Path, state: FileState = FileState.UPLOADING, **kw: Any) -> JournalRow:
    digest = sha(photo)
    st = photo.stat()
    return row(
        (1 << 32) | 7,
        photo,
        state,
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        sha256=digest,
        content_type="image/jpeg",
        key=f"coins/{photo.stem}-{digest[:8]}.jpg",
        thumbnail_key=f"coins/thumbnails/{photo.stem}-{digest[:8]}.jpg",
        **kw,
    )


def seed_journal(*rows: JournalRow, origin: str = ORIGIN_CLI) -> None:
    j = open_journal(origin)
    try:
        j.write(list(rows)).result()
    finally:
        j.close().result()


def test_every_file_and_its_stage_results_are_recorded(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (400, 300))
    text = corpus.text_named_jpg(tmp_path / "notes.jpg")
    store = FakeStore()
    in_session(store, lambda s: s.upload(photo, text))

    rows = journal_rows()
    good, bad = rows["coin.jpg"], rows["notes.jpg"]
    assert good.path == photo.absolute()
    assert (good.state, good.thumbnail_state) == (FileState.UPLOADED, ThumbnailState.GENERATED)
    assert good.sha256 == sha(photo) and good.size == photo.stat().st_size
    assert good.mtime_ns == photo.stat().st_mtime_ns
    assert good.key in store.objects and good.thumbnail_key in store.objects
    assert good.original_in_bucket and good.thumbnail_in_bucket and good.index_in_bucket
    assert good.destination == DEST_ID and good.finished_at is not None
    assert (bad.state, bad.original_in_bucket) == (FileState.FAILED, False)
    assert bad.error and "not a supported image" in bad.error


def test_files_uploaded_by_an_earlier_run_are_duplicates_without_reading_them(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = corpus.jpeg_photo(folder / "coin.jpg", (400, 300))
    store = FakeStore()
    first = in_session(store, lambda s: s.upload(photo))["coin.jpg"]
    store.calls.clear()

    again = in_session(store, lambda s: s.upload(folder))["coin.jpg"]
    assert again.state is FileState.DUPLICATE
    assert (again.key, again.thumbnail_key) == (first.key, first.thumbnail_key)
    assert again.sha256 == first.sha256 and again.thumbnail_state is ThumbnailState.SKIPPED
    assert store.calls["find"] == 0 and store.calls["upload"] == 0  # no hash lookup needed

    os.utime(photo, ns=(time.time_ns(), time.time_ns()))  # touched: read and checked again
    touched = in_session(store, lambda s: s.upload(photo))["coin.jpg"]
    assert touched.state is FileState.DUPLICATE and store.calls["find"] == 1

    del store.objects[first.key]  # gone from the bucket: uploaded again
    del store.objects[index_key(first.sha256 or "")]
    back = in_session(store, lambda s: s.upload(photo))["coin.jpg"]
    assert back.state is FileState.UPLOADED and store.objects[first.key or ""].data == (
        photo.read_bytes()
    )


def _scan(path: Path, size: int) -> Path:
    """A large JPEG-signed file (multipart; not decodable, so its thumbnail fails)."""
    path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(size - 4))
    return path


def _cut_off_upload(store: FakeStore, photo: Path, key: str, parts: int) -> JournalRow:
    """What a run killed mid-multipart leaves: `parts` parts on the server, and a row
    with the UploadId and those parts."""
    upload_id = store.create_multipart(key, content_type="image/jpeg", sha256=sha(photo))
    stored = [
        store.upload_part(key, upload_id, n, read_part(photo, n, photo.stat().st_size))
        for n in range(1, parts + 1)
    ]
    store.calls.clear()
    store.parts_sent = 0
    return interrupted_row(photo, upload_id=upload_id, parts=parts_to_text(stored))


def _cut_off_in_journal(tmp_path: Path) -> tuple[Path, Path, FakeStore, JournalRow]:
    """A three-part scan whose upload was cut off after two parts, in the journal."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = _scan(folder / "atlas.jpg", MULTIPART_THRESHOLD + MULTIPART_CHUNK_SIZE)
    store = FakeStore()
    cut = _cut_off_upload(store, photo, interrupted_row(photo).key or "", parts=2)
    seed_journal(cut)
    return folder, photo, store, cut


def test_a_file_cut_off_mid_multipart_carries_on_from_its_parts(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = _scan(folder / "atlas.jpg", MULTIPART_THRESHOLD + 4 * MULTIPART_CHUNK_SIZE)
    key = interrupted_row(photo).key or ""
    store = FakeStore()
    seed_journal(_cut_off_upload(store, photo, key, parts=3))
    total = part_count(photo.stat().st_size)

    snap = in_session(store, lambda s: s.upload(folder))["atlas.jpg"]
    assert snap.state is FileState.UPLOADED
    assert store.calls["list-parts"] == 1 and store.calls["create"] == 0
    assert store.parts_sent == total - 3  # only the parts the server did not have
    assert store.objects[key].data == photo.read_bytes()
    assert not store.uploads and store.aborted_uploads == []
    rows = journal_rows()
    assert rows["atlas.jpg"].state is FileState.UPLOADED and rows["atlas.jpg"].upload_id is None


def test_a_file_changed_since_it_was_cut_off_mid_multipart_starts_over(tmp_path: Path) -> None:
    folder, photo, store, cut = _cut_off_in_journal(tmp_path)
    _scan(photo, photo.stat().st_size)  # rewritten since
    os.utime(photo, ns=(time.time_ns(), time.time_ns() + 10**9))

    snap = in_session(store, lambda s: s.upload(folder))["atlas.jpg"]
    assert snap.state is FileState.UPLOADED
    assert store.aborted_uploads == [cut.upload_id]  # that upload, and only that one
    assert store.objects[snap.key or ""].data == photo.read_bytes()
    assert not store.uploads


def test_an_upload_the_server_will_not_finish_is_aborted_and_sent_again(
    tmp_path: Path,
) -> None:
    """rclone serve s3 fails an upload whose part a crash cut off mid-stream, and says so
    only when asked to complete it (InvalidPart)."""
    folder, photo, store, cut = _cut_off_in_journal(tmp_path)
    key = cut.key or ""
    store.refuse_to_complete.add(cut.upload_id or "")

    snap = in_session(store, lambda s: s.upload(folder))["atlas.jpg"]
    assert snap.state is FileState.UPLOADED
    assert store.aborted_uploads == [cut.upload_id] and store.calls["create"] == 1
    assert store.objects[key].data == photo.read_bytes() and not store.uploads


def test_an_upload_the_server_forgot_starts_over_cleanly(tmp_path: Path) -> None:
    folder, photo, store, cut = _cut_off_in_journal(tmp_path)
    key = cut.key or ""
    store.uploads.clear()  # expired, or the server restarted and forgot it

    snap = in_session(store, lambda s: s.upload(folder))["atlas.jpg"]
    assert snap.state is FileState.UPLOADED
    assert store.calls["create"] == 1 and store.parts_sent == part_count(photo.stat().st_size)
    assert store.objects[key].data == photo.read_bytes()


def test_an_original_that_made_it_before_the_crash_is_not_sent_again(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (400, 300))
    cut = interrupted_row(photo)
    store = FakeStore()
    store.objects[cut.key or ""] = StoredObject(photo.read_bytes(), "image/jpeg")
    seed_journal(cut)

    snap = in_session(store, lambda s: s.upload(photo))["coin.jpg"]
    assert snap.state is FileState.UPLOADED and snap.thumbnail_state is ThumbnailState.GENERATED
    assert store.calls["upload"] == 0 and store.calls["abort"] == 0
    assert cut.thumbnail_key in store.objects and index_key(cut.sha256 or "") in store.objects


def test_quitting_mid_upload_leaves_the_file_to_the_next_start(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (400, 300))
    store = FakeStore(gate=threading.Event())

    async def quit_while_uploading(session: Session) -> None:
        session.engine.add_paths([photo])
        while not any(s.state is FileState.UPLOADING for s in session.engine.snapshots()):
            await asyncio.sleep(0.01)

    in_session(store, quit_while_uploading, ORIGIN_GUI)
    assert journal_rows()["coin.jpg"].state is FileState.UPLOADING  # not "cancelled"

    store.gate = None
    finished = in_session(store, lambda s: s.restore(), ORIGIN_GUI)
    assert finished["coin.jpg"].state is FileState.UPLOADED
    assert store.photo_keys() == [finished["coin.jpg"].key, finished["coin.jpg"].thumbnail_key]


def test_the_window_gets_back_its_queue_failed_files_retryable_removed_ones_not(
    tmp_path: Path,
) -> None:
    photos = [corpus.jpeg_photo(tmp_path / f"lot {n}.jpg", (300, 200), seed=n) for n in range(3)]
    store = FakeStore()
    store.fail_next["upload"] = 1

    async def first(session: Session) -> None:
        snaps = await session.upload(*photos)
        done = [s.file_id for s in snaps.values() if s.state is FileState.UPLOADED]
        session.engine.remove(done[:1])

    in_session(store, first, ORIGIN_GUI)

    async def second(session: Session) -> dict[str, FileSnapshot]:
        restored = {s.path.name: s for s in (await session.restore()).values()}
        assert session.engine.retry_failed()
        await session.engine.wait_idle()
        return restored | {"after retry": session.final()}

    result = in_session(store, second, ORIGIN_GUI)
    after = result.pop("after retry")
    assert sorted(s.state.value for s in result.values()) == ["failed", "uploaded"]
    assert {s.state for s in after.values()} == {FileState.UPLOADED}
    assert len(store.photo_keys()) == 6  # three originals, three thumbnails, each once


def test_a_file_removed_mid_upload_ends_cancelled_and_stays_out_of_the_queue(
    tmp_path: Path,
) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (400, 300))
    gate = threading.Event()
    store = FakeStore(gate=gate)

    async def remove_while_uploading(session: Session) -> None:
        pipeline = session.engine
        pipeline.add_paths([photo])
        while not any(s.state is FileState.UPLOADING for s in pipeline.snapshots()):
            await asyncio.sleep(0.01)
        pipeline.remove([s.file_id for s in pipeline.snapshots()])
        gate.set()
        await pipeline.wait_idle()

    in_session(store, remove_while_uploading, ORIGIN_GUI)
    kept = journal_rows()["coin.jpg"]
    assert (kept.state, kept.dismissed) == (FileState.CANCELLED, True)
    assert in_session(FakeStore(), lambda s: s.restore(), ORIGIN_GUI) == {}


def test_a_multipart_upload_is_in_the_journal_before_its_first_part(tmp_path: Path) -> None:
    big = tmp_path / "scan.jpg"
    with big.open("wb") as f:  # sparse: large enough for multipart, quick to make
        f.write(b"\xff\xd8\xff\xe0")
        f.truncate(MULTIPART_THRESHOLD + 1024)
    gate = threading.Event()
    store = FakeStore(gate=gate)

    async def look_while_uploading(session: Session) -> JournalRow:
        assert session.engine.journal is not None
        session.engine.journal._interval = 60.0  # nothing but the write-ahead is written
        pipeline = session.engine
        pipeline.add_paths([big])
        while not any(s.state is FileState.UPLOADING for s in pipeline.snapshots()):
            await asyncio.sleep(0.01)
        seen = journal_rows()["scan.jpg"]
        gate.set()
        return seen

    seen = in_session(store, look_while_uploading)
    assert seen.state is FileState.UPLOADING and seen.key and seen.key.startswith("coins/scan-")


def test_a_changed_file_is_not_resumed_from_stale_results(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (400, 300))
    stale = replace(interrupted_row(photo, upload_id="upload-before"), size=1, mtime_ns=1)
    seed_journal(stale)
    store = FakeStore()

    snap = in_session(store, lambda s: s.upload(photo))["coin.jpg"]
    assert snap.state is FileState.UPLOADED and snap.sha256 == sha(photo)
    assert store.aborted_uploads == ["upload-before"]  # its cut-off upload is cleaned up


def test_uploads_carry_on_when_the_journal_cannot_be_written(tmp_path: Path) -> None:
    (data_dir() / JOURNAL_FILE).mkdir()  # a folder where the database should be
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (400, 300))
    store = FakeStore()

    async def go(session: Session) -> tuple[dict[str, FileSnapshot], list[str]]:
        snaps = await session.upload(photo)
        await asyncio.sleep(0)
        return snaps, list(session.problems)

    snaps, problems = in_session(store, go)
    assert snaps["coin.jpg"].state is FileState.UPLOADED
    assert len(problems) == 1 and "cannot be used" in problems[0]


# -- the store's side -------------------------------------------------------------------


def test_s3_store_aborts_only_the_upload_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="coins")
        ours, other, elsewhere = (
            client.create_multipart_upload(Bucket="coins", Key=key)["UploadId"]
            for key in ("a/coin.jpg", "a/coin.jpg", "a/coin.jpg.bak")
        )
        store = S3Store(Destination(bucket="coins"), concurrency=1)
        try:
            store.abort_multipart("a/coin.jpg", ours)
            store.abort_multipart("a/coin.jpg", ours)  # gone already: nothing to do
        finally:
            store.close()
        left = client.list_multipart_uploads(Bucket="coins").get("Uploads", [])
        assert sorted(u["UploadId"] for u in left) == sorted([other, elsewhere])


# -- the history command ------------------------------------------------------------


def test_history_lists_past_results_newest_first(tmp_path: Path) -> None:
    now = time.time()
    seed_journal(
        row(1, "/p/old.jpg", FileState.UPLOADED, key="old-1.jpg", updated_at=now - 60),
        row(2, "/p/bad.jpg", FileState.FAILED, error="Not a photo.", updated_at=now - 30),
        row(3, "/p/new.jpg", FileState.DUPLICATE, key="new-3.jpg", updated_at=now),
        row(4, "/p/waiting.jpg", FileState.UPLOADING, updated_at=now),  # not a result yet
    )

    def history(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli_main(["history", *args], out, err)
        return code, out.getvalue(), err.getvalue()

    code, text, err = history()
    assert (code, err) == (0, "")
    lines = text.splitlines()
    assert [line.split()[2] for line in lines] == ["duplicate", "failed", "uploaded"]
    assert "bad.jpg: Not a photo." in lines[1]

    code, text, _ = history("--jsonl", "--failed")
    (record,) = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and record["status"] == "failed" and record["error"] == "Not a photo."
    assert record["path"] == "/p/bad.jpg" and record["timestamp"]

    code, text, _ = history("--limit", "1", "--jsonl")
    assert code == 0 and [json.loads(line)["path"] for line in text.splitlines()] == ["/p/new.jpg"]

    (data_dir() / JOURNAL_FILE).write_bytes(b"garbage" * 1000)
    for suffix in ("-wal", "-shm"):
        (data_dir() / (JOURNAL_FILE + suffix)).unlink(missing_ok=True)
    code, text, err = history()
    assert code == 2 and text == "" and "cannot be used (it is damaged)" in err
    assert (data_dir() / JOURNAL_FILE).read_bytes().startswith(b"garbage")  # left alone


def test_an_item_given_to_a_queued_file_goes_with_it_after_a_restart(tmp_path: Path) -> None:
    """It used to be lost with the window: the file then went with its folder's item."""
    folder = tmp_path / "Album"
    folder.mkdir()
    corpus.jpeg_photo(folder / "cover.jpg")
    store = FakeStore()

    async def first(session: Session) -> None:
        session.engine.pause()  # queued, not started, when the app goes
        await session.engine.pipeline.add_paths([folder])
        (snap,) = session.engine.snapshots()
        session.engine.edit_items([snap.file_id], {"id": "book-12", "view": "cover"})

    in_session(store, first, origin=ORIGIN_GUI)
    assert store.calls["upload"] == 0
    again = in_session(store, Session.restore, origin=ORIGIN_GUI)["cover.jpg"]
    assert again.state is FileState.UPLOADED
    sidecar = json.loads(store.objects[f"{again.key}.json"].data)
    assert (sidecar["item"]["id"], sidecar["item"]["view"]) == ("book-12", "cover")
    assert again.item is not None and again.item.id == "book-12"
