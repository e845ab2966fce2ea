"""The engine defects of issue 7, each through the public surface (pipeline, Engine, CLI).

Written against the code before the rebuild, where each one fails; the letters are the
issue's.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from app.core.config import Destination, EngineSettings
from app.core.engine import Engine
from app.core.errors import StoreError
from app.core.journal import ORIGIN_GUI, Journal, JournalRow, destination_identity, open_journal
from app.core.models import FileSnapshot, FileState
from app.core.pipeline import UploadPipeline
from app.core.retry import RetryPolicy
from app.core.walker import WalkEntry
from tests.helpers import corpus
from tests.helpers.fakes import FakeStore
from tests.helpers.pipelines import open_pipeline

FAST = RetryPolicy(attempts=6, base_delay=0.001, max_delay=0.004)
SETTLE = 10.0  # none of these batches takes a second when it works


class Watcher:
    """Every snapshot delivered, and a way to wait until one of them says something."""

    def __init__(self) -> None:
        self.seen: list[FileSnapshot] = []
        self._waits: list[tuple[Callable[[FileSnapshot], bool], asyncio.Future[FileSnapshot]]] = []

    def __call__(self, snaps: Sequence[FileSnapshot]) -> None:
        self.seen.extend(snaps)
        for snap in snaps:
            for predicate, future in list(self._waits):
                if not future.done() and predicate(snap):
                    future.set_result(snap)

    async def until(
        self, predicate: Callable[[FileSnapshot], bool], timeout: float = SETTLE
    ) -> FileSnapshot:
        for snap in self.seen:
            if predicate(snap):
                return snap
        future: asyncio.Future[FileSnapshot] = asyncio.get_running_loop().create_future()
        self._waits.append((predicate, future))
        return await asyncio.wait_for(future, timeout)


@asynccontextmanager
async def pipeline_for(
    store: FakeStore, *, concurrency: int = 4, retry: RetryPolicy = FAST
) -> AsyncIterator[tuple[UploadPipeline, Watcher]]:
    async with open_pipeline(store, concurrency=concurrency, retry=retry) as pipeline:
        watcher = Watcher()
        pipeline.add_observer(watcher)
        try:
            yield pipeline, watcher
        finally:
            for gate in (store.gate, store.start_gate):
                if gate is not None:
                    gate.set()


def named(name: str, state: FileState | None = None) -> Callable[[FileSnapshot], bool]:
    return lambda s: s.path.name == name and (state is None or s.state is state)


def by_name(pipeline: UploadPipeline | Engine) -> dict[str, FileSnapshot]:
    return {s.path.name: s for s in pipeline.snapshots()}


# -- a. the worker count ------------------------------------------------------------------


def test_a_lowering_concurrency_while_files_fail_fast_keeps_workers(tmp_path: Path) -> None:
    """4 -> 2 while four files fail at once: all four workers used to retire together."""
    missing = [tmp_path / f"gone_{n}.jpg" for n in range(8)]

    async def go() -> dict[str, FileSnapshot]:
        async with pipeline_for(FakeStore(), concurrency=4) as (pipeline, _):
            pipeline.reconfigure(FakeStore(), EngineSettings(concurrency=2, retry=FAST), prefix="")
            pipeline.add_paths(missing)
            await asyncio.wait_for(pipeline.wait_idle(), SETTLE)
            return by_name(pipeline)

    snaps = asyncio.run(go())
    assert len(snaps) == 8
    assert {s.state for s in snaps.values()} == {FileState.FAILED}


def test_a_raising_concurrency_right_after_lowering_runs_that_many(tmp_path: Path) -> None:
    """4 -> 1 -> 3, then files that fail at once, then photos: three of them upload at once."""
    missing = [tmp_path / f"gone_{n}.jpg" for n in range(8)]
    photos = [corpus.jpeg_photo(tmp_path / f"p{n}.jpg", (64, 48), seed=n) for n in range(6)]
    store = FakeStore(gate=threading.Event())

    async def go() -> dict[str, FileSnapshot]:
        async with pipeline_for(store, concurrency=4) as (pipeline, watcher):
            pipeline.reconfigure(store, EngineSettings(concurrency=1, retry=FAST), prefix="")
            pipeline.reconfigure(store, EngineSettings(concurrency=3, retry=FAST), prefix="")
            pipeline.add_paths(missing)
            pipeline.add_paths(photos)
            uploading: set[str] = set()

            def three_at_once(snap: FileSnapshot) -> bool:
                if snap.state is FileState.UPLOADING:
                    uploading.add(snap.path.name)
                return len(uploading) >= 3

            await watcher.until(three_at_once, timeout=5)
            assert len(uploading) == 3  # the gate holds them: no fourth can have started
            assert store.gate is not None
            store.gate.set()
            await asyncio.wait_for(pipeline.wait_idle(), SETTLE)
            return by_name(pipeline)

    snaps = asyncio.run(go())
    assert {snaps[p.name].state for p in photos} == {FileState.UPLOADED}


# -- b. single flight per destination ----------------------------------------------------


def test_b_an_identical_file_goes_to_the_bucket_chosen_now(tmp_path: Path) -> None:
    first = corpus.jpeg_photo(tmp_path / "first.jpg", (64, 48))
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(first.read_bytes())
    old = FakeStore(bucket="old", gate=threading.Event())
    new = FakeStore(bucket="new")

    async def go() -> dict[str, FileSnapshot]:
        async with pipeline_for(old) as (pipeline, watcher):
            pipeline.add_paths([first])
            await watcher.until(named("first.jpg", FileState.UPLOADING))
            pipeline.reconfigure(new, EngineSettings(concurrency=4, retry=FAST), prefix="")
            pipeline.add_paths([copy])
            # The copy either waits for the old bucket's upload (the defect) or is done.
            await watcher.until(
                lambda s: (
                    s.path.name == "copy.jpg"
                    and (s.state.is_final or "identical" in (s.notice or ""))
                )
            )
            assert old.gate is not None
            old.gate.set()
            await asyncio.wait_for(pipeline.wait_idle(), SETTLE)
            return by_name(pipeline)

    snaps = asyncio.run(go())
    assert snaps["first.jpg"].state is FileState.UPLOADED and snaps["first.jpg"].bucket == "old"
    assert snaps["copy.jpg"].state is FileState.UPLOADED, snaps["copy.jpg"]
    assert snaps["copy.jpg"].bucket == "new"
    assert new.objects[snaps["copy.jpg"].key or ""].data == first.read_bytes()


# -- c. one file, one run at a time ------------------------------------------------------


def test_c_cancel_and_retry_while_paused_runs_the_file_once(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (64, 48))
    store = FakeStore()

    async def go() -> tuple[dict[str, FileSnapshot], Watcher]:
        async with pipeline_for(store, concurrency=2) as (pipeline, watcher):
            pipeline.pause()
            (file_id,) = pipeline.enqueue([WalkEntry(photo)])
            assert pipeline.cancel([file_id]) == [file_id]
            assert pipeline.retry([file_id]) == [file_id]
            pipeline.resume()
            await asyncio.wait_for(pipeline.wait_idle(), SETTLE)
            return by_name(pipeline), watcher

    snaps, watcher = asyncio.run(go())
    assert snaps["coin.jpg"].state is FileState.UPLOADED
    assert store.calls["upload"] == 1
    assert not [s for s in watcher.seen if s.state is FileState.DUPLICATE]


# -- f. a bounded close ------------------------------------------------------------------


class StallingJournal(Journal):
    """A journal on a disk that hangs: every write waits until `release` is set."""

    release = threading.Event()

    def _write(self, rows: list[JournalRow]) -> bool:
        type(self).release.wait(60)
        return super()._write(rows)


def test_f_quitting_with_a_stalled_journal_takes_the_close_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.core.engine.JOURNAL_CLOSE_TIMEOUT", 0.5)
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (64, 48))
    release = StallingJournal.release = threading.Event()
    journal = StallingJournal(tmp_path / "journal.sqlite3", origin=ORIGIN_GUI).open_sync()

    async def go() -> float:
        engine = Engine(
            Destination(bucket="fake-bucket"),
            EngineSettings(concurrency=2, retry=FAST),
            store_factory=lambda *_: FakeStore(),
            journal=journal,
        )
        engine.add_paths([photo])
        await asyncio.wait_for(engine.wait_idle(), SETTLE)
        started = time.monotonic()
        try:
            await asyncio.wait_for(engine.aclose(), 4.0)
        finally:
            release.set()
        return time.monotonic() - started

    try:
        assert asyncio.run(go()) < 4.0
    finally:
        release.set()


# -- h. cancel while the upload is being started -----------------------------------------


def test_h_cancel_while_the_upload_starts_leaves_nothing_in_the_bucket(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (64, 48))
    store = FakeStore(start_gate=threading.Event(), background_uploads=True)

    async def go() -> dict[str, FileSnapshot]:
        async with pipeline_for(store) as (pipeline, watcher):
            (file_id,) = pipeline.enqueue([WalkEntry(photo)])
            await watcher.until(named("coin.jpg", FileState.UPLOADING))
            pipeline.cancel([file_id])
            await watcher.until(named("coin.jpg", FileState.CANCELLED))
            assert store.start_gate is not None
            store.start_gate.set()  # start_upload returns now, to a cancelled file
            await asyncio.to_thread(store.join_uploads)
            await asyncio.wait_for(pipeline.wait_idle(), SETTLE)
            return by_name(pipeline)

    snaps = asyncio.run(go())
    assert snaps["coin.jpg"].state is FileState.CANCELLED
    assert store.photo_keys() == []


# -- i. uploads left at another destination ----------------------------------------------


def test_i_a_restored_upload_for_another_destination_is_aborted_there(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (64, 48))
    old = Destination(bucket="old-bucket", endpoint_url="http://old.example")
    new = Destination(bucket="new-bucket", endpoint_url="http://new.example")
    stores = {"old-bucket": FakeStore(bucket="old-bucket"), "new-bucket": FakeStore("new-bucket")}
    key = "coin-0123abcd.jpg"
    # A multipart upload cut off by a crash, its parts left at the old bucket.
    upload_id = stores["old-bucket"].create_multipart(key, content_type="image/jpeg", sha256="")
    stores["old-bucket"].upload_part(key, upload_id, 1, b"part one")
    st = photo.stat()
    seeded = open_journal(ORIGIN_GUI)
    try:
        cut = JournalRow(
            row_id=(1 << 32) | 1,
            path=photo,
            state=FileState.UPLOADING,
            destination=destination_identity(old),
            bucket="old-bucket",
            queued_at=time.time(),
            updated_at=time.time(),
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            sha256="01" * 32,
            content_type="image/jpeg",
            key=key,
            upload_id=upload_id,
        )
        assert seeded.write([cut]).result()
    finally:
        seeded.close().result()

    async def go() -> dict[str, FileSnapshot]:
        engine = Engine(
            new,
            EngineSettings(concurrency=2, retry=FAST),
            store_factory=lambda destination, _n: stores[destination.bucket],
            journal=open_journal(ORIGIN_GUI),
        )
        try:
            await engine.restore_queue()
            await asyncio.wait_for(engine.wait_idle(), SETTLE)
            return by_name(engine)
        finally:
            await engine.aclose()

    snaps = asyncio.run(go())
    assert (
        snaps["coin.jpg"].state is FileState.UPLOADED and snaps["coin.jpg"].bucket == "new-bucket"
    )
    assert stores["old-bucket"].aborted_uploads == [upload_id]  # that one, no other
    assert not stores["old-bucket"].uploads


# -- k. nothing swallowed ----------------------------------------------------------------


def test_k_an_observer_that_raises_is_logged_and_the_others_still_hear(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (64, 48))

    def broken(_snaps: Sequence[FileSnapshot]) -> None:
        raise RuntimeError("observer bug")

    async def go() -> Watcher:
        async with pipeline_for(FakeStore()) as (pipeline, _):
            pipeline.add_observer(broken)
            later = Watcher()
            pipeline.add_observer(later)
            pipeline.add_paths([photo])
            await asyncio.wait_for(pipeline.wait_idle(), SETTLE)
            return later

    with caplog.at_level(logging.ERROR):
        later = asyncio.run(go())
    assert any(s.state is FileState.UPLOADED for s in later.seen)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info and "observer bug" in str(errors[0].exc_info[1])


def _walk_that_breaks(real: Callable[..., Any]) -> Callable[..., Any]:
    async def walk(paths: Sequence[Path], executor: Any, *args: Any) -> AsyncIterator[Any]:
        async for batch in real(paths, executor, *args):
            yield batch
            raise RuntimeError("the walker broke")

    return walk


def test_k_a_walk_that_fails_says_so_in_the_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.core.pipeline.intake as pipeline_module

    folder = tmp_path / "coins"
    folder.mkdir()
    for n in range(3):
        corpus.jpeg_photo(folder / f"c{n}.jpg", (64, 48), seed=n)
    monkeypatch.setattr(
        pipeline_module,
        "walk_paths_in_batches",
        _walk_that_breaks(pipeline_module.walk_paths_in_batches),
    )

    async def go() -> list[FileSnapshot]:
        async with pipeline_for(FakeStore()) as (pipeline, _):
            pipeline.add_paths([folder])
            await asyncio.wait_for(pipeline.wait_idle(), SETTLE)
            return pipeline.snapshots()

    snaps = asyncio.run(go())
    problems = [s for s in snaps if s.path == folder]
    assert len(problems) == 1 and problems[0].state is FileState.FAILED
    assert problems[0].error is not None and "not all of it" in problems[0].error.lower()


def test_k_a_walk_that_fails_says_so_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.core.pipeline.intake as pipeline_module
    from app import cli

    folder = tmp_path / "coins"
    folder.mkdir()
    corpus.jpeg_photo(folder / "c0.jpg", (64, 48))
    monkeypatch.setattr(
        pipeline_module,
        "walk_paths_in_batches",
        _walk_that_breaks(pipeline_module.walk_paths_in_batches),
    )
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="coins")
        stdout, stderr = io.StringIO(), io.StringIO()
        code = cli.main(["upload", str(folder), "--bucket", "coins"], stdout, stderr)
    out = stdout.getvalue()
    assert code == cli.EXIT_FAILED
    assert f"failed     {folder}: " in out and "not all of it" in out.lower()


# -- m. one outage, one event ------------------------------------------------------------


def test_m_a_dead_server_fails_every_waiting_file_at_once(tmp_path: Path) -> None:
    photos = [corpus.jpeg_photo(tmp_path / f"p{n:02d}.jpg", (32, 24), seed=n) for n in range(39)]
    store = FakeStore()
    policy = RetryPolicy(attempts=6, base_delay=0.01, max_delay=0.04)

    async def go() -> dict[str, FileSnapshot]:
        async with pipeline_for(store, concurrency=8, retry=policy) as (pipeline, watcher):
            uploaded: set[str] = set()

            def three_in(snap: FileSnapshot) -> bool:
                if snap.state is FileState.UPLOADED:
                    uploaded.add(snap.path.name)
                if len(uploaded) >= 3:
                    store.down = True  # the server dies after three photos
                return store.down

            pipeline.add_paths(photos)
            await watcher.until(three_in)
            await asyncio.wait_for(pipeline.wait_idle(), SETTLE)
            return by_name(pipeline)

    snaps = asyncio.run(go())
    failed = [s for s in snaps.values() if s.state is FileState.FAILED]
    assert failed and all(
        (s.error or "").startswith("Cannot reach the storage server at http://fake.")
        for s in failed
    )
    # One outage: the files wait together and the server is asked now and then, not by
    # every file on its own schedule (36 files x 6 tries).
    assert store.requests_while_down <= 40, store.requests_while_down


# -- n. a throttling storm ---------------------------------------------------------------


def test_n_a_file_keeps_trying_while_other_requests_succeed(tmp_path: Path) -> None:
    """The first photo is throttled eight times (more than its six tries of old); each time,
    another photo's upload has just gone through."""
    throttled = corpus.jpeg_photo(tmp_path / "a_first.jpg", (32, 24), seed=100)
    others = [corpus.jpeg_photo(tmp_path / f"b{n}.jpg", (32, 24), seed=n) for n in range(8)]
    store = FakeStore()
    others_through: list[threading.Event] = [threading.Event() for _ in others]
    attempts = {"n": 0}

    def on_upload(key: str) -> None:
        if not key.startswith("a_first-"):
            return
        n = attempts["n"]
        attempts["n"] += 1
        if n < len(others):
            others_through[n].wait(10)  # another upload has succeeded meanwhile
            raise StoreError("The storage server asked us to slow down.", retryable=True)

    def on_put(key: str) -> None:
        # A thumbnail is sent after its original went through: mark the next one.
        for event in others_through:
            if not event.is_set():
                event.set()
                return

    store.hooks["upload"] = on_upload
    store.hooks["put"] = on_put

    async def go() -> dict[str, FileSnapshot]:
        async with pipeline_for(store, concurrency=2) as (pipeline, _):
            pipeline.add_paths([throttled, *others])
            await asyncio.wait_for(pipeline.wait_idle(), SETTLE)
            return by_name(pipeline)

    snaps = asyncio.run(go())
    assert snaps["a_first.jpg"].state is FileState.UPLOADED, snaps["a_first.jpg"].error
    assert attempts["n"] == len(others) + 1
