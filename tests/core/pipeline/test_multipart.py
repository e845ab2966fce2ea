"""app.core.pipeline.multipart: a large original part by part, against an in-memory store."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

from app.core.errors import StoreError
from app.core.models import FileState
from app.core.pipeline.multipart import UPLOAD_MISMATCH, part_count
from app.core.retry import RetryPolicy
from app.core.store import MULTIPART_CHUNK_SIZE, MULTIPART_THRESHOLD
from app.core.walker import WalkEntry
from tests.core.test_engine_defects import SETTLE, by_name, named, pipeline_for
from tests.helpers.fakes import FakeStore

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.004)


def scan(path: Path, size: int = MULTIPART_THRESHOLD + 3 * MULTIPART_CHUNK_SIZE) -> Path:
    path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(size - 4))
    return path


def test_a_large_original_goes_up_in_parts_and_arrives_whole(tmp_path: Path) -> None:
    photo = scan(tmp_path / "atlas.jpg")
    store = FakeStore()

    async def go() -> None:
        async with pipeline_for(store, retry=FAST) as (pipeline, watcher):
            pipeline.enqueue([WalkEntry(photo)])
            await watcher.until(named("atlas.jpg", FileState.UPLOADED))

    asyncio.run(go())
    (key,) = store.photo_keys()
    assert store.objects[key].data == photo.read_bytes()
    assert store.parts_sent == part_count(photo.stat().st_size) and not store.uploads


def test_a_part_that_fails_once_is_sent_again_not_the_whole_file(tmp_path: Path) -> None:
    photo = scan(tmp_path / "atlas.jpg")
    store = FakeStore(fail_with=StoreError("The storage server was busy.", retryable=True))
    store.fail_next["part"] = 1

    async def go() -> None:
        async with pipeline_for(store, retry=FAST) as (pipeline, watcher):
            pipeline.enqueue([WalkEntry(photo)])
            await watcher.until(named("atlas.jpg", FileState.UPLOADED))

    asyncio.run(go())
    assert store.calls["create"] == 1  # one upload, carried on
    assert store.parts_sent == part_count(photo.stat().st_size)


def test_cancelling_a_file_mid_parts_aborts_its_upload(tmp_path: Path) -> None:
    photo = scan(tmp_path / "atlas.jpg")
    store = FakeStore()
    hold = threading.Event()
    held = threading.Event()

    def slow_part(_key: str) -> None:
        held.set()
        hold.wait(SETTLE)

    store.hooks["part"] = slow_part

    async def go() -> None:
        async with pipeline_for(store, retry=FAST) as (pipeline, watcher):
            (file_id,) = pipeline.enqueue([WalkEntry(photo)])
            await asyncio.to_thread(held.wait, SETTLE)
            pipeline.cancel([file_id])
            await watcher.until(named("atlas.jpg", FileState.CANCELLED))
            hold.set()
            await asyncio.wait_for(pipeline.wait_idle(), SETTLE)
            assert by_name(pipeline)["atlas.jpg"].state is FileState.CANCELLED

    asyncio.run(go())
    assert store.started_uploads and store.aborted_uploads == store.started_uploads
    assert not store.uploads and store.photo_keys() == []


def test_a_joined_object_whose_checksum_differs_is_removed_and_the_file_fails(
    tmp_path: Path,
) -> None:
    photo = scan(tmp_path / "atlas.jpg")
    store = FakeStore()
    store.complete_checksum = "bm90LXRoZS1zYW1lLWNoZWNrc3Vt-3"  # what a confused server says

    async def go() -> None:
        async with pipeline_for(store, retry=FAST) as (pipeline, watcher):
            pipeline.enqueue([WalkEntry(photo)])
            await watcher.until(named("atlas.jpg", FileState.FAILED))
            assert by_name(pipeline)["atlas.jpg"].error == UPLOAD_MISMATCH

    asyncio.run(go())
    assert store.photo_keys() == [] and not store.uploads
