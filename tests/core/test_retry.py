"""The retry schedule, and how the pipeline uses it (against the in-memory FakeStore)."""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.core.config import EngineSettings
from app.core.errors import StoreError
from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.core.pipeline import UploadPipeline
from app.core.retry import DEFAULT_RETRY, RetryPolicy, call_with_retries, retry_notice
from app.core.store import index_key
from app.ui.settings import AppSettings
from tests.helpers import corpus
from tests.helpers.fakes import FakeStore, StoredObject

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.004)


def test_the_real_schedule_outlasts_a_30_second_outage_and_stays_bounded() -> None:
    assert EngineSettings().retry == DEFAULT_RETRY
    assert DEFAULT_RETRY.retries == 5
    assert [DEFAULT_RETRY.ceiling(n) for n in range(1, 6)] == [2.5, 5, 10, 20, 40]
    # Whatever the random draws, the five waits cover more than 30 seconds...
    assert DEFAULT_RETRY.min_total_delay() > 30
    assert sum(DEFAULT_RETRY.delay(n, rand=lambda: 1.0) for n in range(1, 6)) > 30
    # ...and a file whose server stays away still fails within a minute and a half.
    assert DEFAULT_RETRY.max_total_delay() < 90


def test_each_wait_is_its_ceiling_less_a_random_part() -> None:
    policy = RetryPolicy(attempts=8, base_delay=1, max_delay=10, jitter=0.5)
    assert [policy.ceiling(n) for n in range(1, 8)] == [1, 2, 4, 8, 10, 10, 10]
    for n in range(1, 8):
        assert policy.delay(n, rand=lambda: 0.0) == policy.ceiling(n)
        assert policy.delay(n, rand=lambda: 1.0) == policy.ceiling(n) / 2
        assert policy.ceiling(n) / 2 <= policy.delay(n) <= policy.ceiling(n)
    full = RetryPolicy(jitter=1.0)
    assert full.delay(3, rand=lambda: 1.0) == 0.0  # full jitter: no lower bound
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.5)


def test_the_notice_names_the_try_and_the_reason() -> None:
    error = StoreError("The storage server asked us to slow down.", retryable=True)
    assert retry_notice(2, DEFAULT_RETRY, error) == (
        "retrying (2/5): the storage server asked us to slow down"
    )


def test_call_with_retries_retries_only_what_may_pass() -> None:
    calls: list[int] = []
    waits: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise StoreError("The storage server had an internal error.", retryable=True)
        return "ok"

    seen: list[str] = []
    result = call_with_retries(
        flaky, FAST, on_retry=lambda n, e: seen.append(retry_notice(n, FAST, e)), sleep=waits.append
    )
    assert result == "ok" and len(calls) == 3 and len(waits) == 2
    assert seen == [
        "retrying (1/3): the storage server had an internal error",
        "retrying (2/3): the storage server had an internal error",
    ]

    def denied() -> None:
        calls.append(1)
        raise StoreError("Access denied.", permanent=True)

    calls.clear()
    with pytest.raises(StoreError):
        call_with_retries(denied, FAST, sleep=waits.append)
    assert len(calls) == 1


def test_the_window_settings_pass_verify_after_upload_on() -> None:
    assert AppSettings(verify_after_upload=True).engine_settings().verify_after_upload
    assert not AppSettings().engine_settings().verify_after_upload


# --------------------------------------------------------------------------- pipeline


async def _run(
    store: FakeStore, paths: list[Path], *, retry_failed: bool = False
) -> list[dict[str, FileSnapshot]]:
    io, cpu = ThreadPoolExecutor(4), ThreadPoolExecutor(1)
    pipeline = UploadPipeline(
        store,
        EngineSettings(concurrency=1, retry=FAST),
        prefix="",
        io_executor=io,
        cpu_executor=cpu,
        flush_interval=0.001,
    )
    rounds: list[dict[str, FileSnapshot]] = []
    try:
        pipeline.add_paths(paths)
        await asyncio.wait_for(pipeline.wait_idle(), 30)
        rounds.append({s.path.name: s for s in pipeline.snapshots()})
        if retry_failed:
            pipeline.retry_failed()
            await asyncio.wait_for(pipeline.wait_idle(), 30)
            rounds.append({s.path.name: s for s in pipeline.snapshots()})
    finally:
        await pipeline.aclose()
        io.shutdown()
        cpu.shutdown()
    return rounds


def test_a_destination_wide_error_fails_the_rest_at_once_until_retry(tmp_path: Path) -> None:
    paths = [corpus.jpeg_photo(tmp_path / f"coin_{n}.jpg", seed=n) for n in range(5)]
    store = FakeStore(
        fail_with=StoreError(
            "The storage server rejected the secret key. Check your credentials.",
            permanent=True,
            whole_destination=True,
        )
    )
    # The bucket's listing is refused; the collector fixes the key before pressing Retry.
    store.fail_next["list"] = 1
    before, after = asyncio.run(_run(store, paths, retry_failed=True))
    assert {s.error for s in before.values()} == {
        "The storage server rejected the secret key. Check your credentials."
    }
    # Every file was told without asking again; after Retry each looks itself up (the
    # index listing is not asked again so soon), and the destination is listed once.
    assert store.calls["find"] == 5
    assert store.calls["list"] == 2
    assert {s.state for s in after.values()} == {FileState.UPLOADED}


def test_content_already_at_its_own_key_is_finished_not_sent_again(tmp_path: Path) -> None:
    """An earlier upload whose answer was lost (the server went away): the original is
    there, but no index entry and no thumbnail. The file finishes as uploaded."""
    path = corpus.jpeg_photo(tmp_path / "coin.jpg")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    store = FakeStore()
    store.objects[f"coin-{sha[:8]}.jpg"] = StoredObject(path.read_bytes(), "image/jpeg")
    (snaps,) = asyncio.run(_run(store, [path]))
    snap = snaps["coin.jpg"]
    assert snap.state is FileState.UPLOADED
    assert snap.thumbnail_state is ThumbnailState.GENERATED
    assert store.calls["upload"] == 0  # not sent twice
    assert snap.thumbnail_key in store.objects and index_key(sha) in store.objects


def test_a_copy_that_cannot_be_removed_is_named_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verify-after-upload finds a wrong copy and the server will not let it be deleted."""
    path = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    monkeypatch.setattr(store, "object_sha256", lambda key: "0" * 64)
    store.fail_next["delete"] = 1

    async def go() -> FileSnapshot:
        io, cpu = ThreadPoolExecutor(4), ThreadPoolExecutor(1)
        pipeline = UploadPipeline(
            store,
            EngineSettings(concurrency=1, retry=FAST, verify_after_upload=True),
            prefix="",
            io_executor=io,
            cpu_executor=cpu,
        )
        try:
            pipeline.add_paths([path])
            await asyncio.wait_for(pipeline.wait_idle(), 30)
            (snap,) = pipeline.snapshots()
            return snap
        finally:
            await pipeline.aclose()
            io.shutdown()
            cpu.shutdown()

    snap = asyncio.run(go())
    assert snap.state is FileState.FAILED
    key = next(k for k in store.objects if k.startswith("coin-"))
    assert snap.error == (
        "The copy in the bucket did not match the file when it was read back (its SHA-256 "
        "differs), and the copy in the bucket (which may be wrong) could not be removed: "
        f"cannot reach the storage server at http://fake. Remove {key} from the bucket, "
        "then retry."
    )


def test_retry_failed_writes_an_index_entry_that_could_not_be_written(tmp_path: Path) -> None:
    """The server went away after the photo and thumbnail were in, before the index."""
    path = corpus.jpeg_photo(tmp_path / "coin.jpg")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    store = FakeStore()
    store.fail_next["record"] = 1
    before, after = asyncio.run(_run(store, [path], retry_failed=True))
    assert before["coin.jpg"].state is FileState.UPLOADED
    assert (before["coin.jpg"].notice or "").startswith(
        "Uploaded, but the duplicate index could not be updated"
    )
    assert store.calls["record"] == 2  # failed once, written by Retry failed
    assert after["coin.jpg"].state is FileState.UPLOADED
    assert after["coin.jpg"].thumbnail_state is ThumbnailState.GENERATED
    assert after["coin.jpg"].notice is None
    assert index_key(sha) in store.objects
    assert store.calls["upload"] == 1 and store.calls["put"] == 1  # nothing sent twice
