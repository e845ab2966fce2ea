"""A destination's health: one outage for all its files, told once; a shared retry quota."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from app.core.errors import StoreError
from app.core.models import FileSnapshot, FileState
from app.core.pipeline import UploadPipeline
from app.core.pipeline.health import DestinationHealth, Outage, OutageStatus
from app.core.retry import RetryPolicy
from tests.helpers import corpus
from tests.helpers.fakes import FakeStore, unreachable_error
from tests.helpers.pipelines import open_pipeline

# Outages last at least min_total_delay(): 0.5 * (0.02 + 0.04 + 0.08 * 3) = 0.15 s here.
POLICY = RetryPolicy(attempts=6, base_delay=0.02, max_delay=0.08)


@asynccontextmanager
async def pipeline_for(
    store: FakeStore, statuses: list[OutageStatus], concurrency: int = 4
) -> AsyncIterator[UploadPipeline]:
    async with open_pipeline(store, concurrency=concurrency, retry=POLICY) as pipeline:
        pipeline.add_status_observer(statuses.append)
        yield pipeline


def photos(folder: Path, count: int) -> list[Path]:
    return [corpus.jpeg_photo(folder / f"p{n:02d}.jpg", (32, 24), seed=n) for n in range(count)]


def test_files_wait_out_an_outage_together_and_carry_on_when_the_server_is_back(
    tmp_path: Path,
) -> None:
    store = FakeStore(down=True)
    statuses: list[OutageStatus] = []

    def back_after_the_first_probe(_key: str) -> None:
        store.down = False  # the server answers the watcher's first question

    store.hooks["probe"] = back_after_the_first_probe

    async def go() -> tuple[list[FileSnapshot], list[str]]:
        async with pipeline_for(store, statuses) as pipeline:
            notices: list[str] = []
            pipeline.add_observer(lambda snaps: notices.extend(s.notice or "" for s in snaps))
            pipeline.add_paths(photos(tmp_path, 12))
            await asyncio.wait_for(pipeline.wait_idle(), 10)
            return pipeline.snapshots(), notices

    snaps, notices = asyncio.run(go())
    assert {s.state for s in snaps} == {FileState.UPLOADED}
    assert store.calls["probe"] == 1
    # At most one request per running file (and the bucket's two listings) reached the
    # dead server before they waited.
    assert store.requests_while_down <= 4 + 2
    assert [s.state for s in statuses] == [Outage.DOWN, Outage.BACK]
    assert (
        statuses[0]
        .describe()
        .startswith("Cannot reach the storage server at http://fake; retrying in ")
    )
    assert statuses[1].describe() == (
        "The storage server answers again; the waiting files carry on."
    )
    assert any(n.startswith("waiting for the storage server: cannot reach") for n in notices)


def test_a_server_that_stays_away_fails_every_waiting_file_at_once_until_retry(
    tmp_path: Path,
) -> None:
    store = FakeStore(down=True)
    statuses: list[OutageStatus] = []

    async def go() -> tuple[list[FileSnapshot], list[FileSnapshot]]:
        async with pipeline_for(store, statuses, concurrency=2) as pipeline:
            pipeline.add_paths(photos(tmp_path, 10))
            await asyncio.wait_for(pipeline.wait_idle(), 10)
            before = pipeline.snapshots()
            store.down = False
            pipeline.retry_failed()
            await asyncio.wait_for(pipeline.wait_idle(), 10)
            return before, pipeline.snapshots()

    before, after = asyncio.run(go())
    assert {s.state for s in before} == {FileState.FAILED}
    errors = {s.error for s in before}
    assert len(errors) == 1
    (error,) = errors
    assert error is not None and error.startswith(
        "Cannot reach the storage server at http://fake. Check the network connection and "
        "try again. (Tried for "
    )
    # Two files asked the server, the watcher asked it now and then, the bucket's two
    # listings were tried once; the other eight files failed with the same reason without
    # asking.
    assert store.requests_while_down <= 2 + store.calls["probe"] + 2
    assert store.calls["probe"] <= 8
    assert [s.state for s in statuses].count(Outage.GAVE_UP) == 1
    assert (
        statuses[-1]
        .describe()
        .endswith("so the files waiting for it failed. Retry them once it is back.")
    )
    assert {s.state for s in after} == {FileState.UPLOADED}


def test_a_failure_is_excused_only_while_other_requests_get_through() -> None:
    async def go() -> list[bool]:
        health = DestinationHealth(POLICY, _never_called, lambda _s: None)
        seen = health.successes
        alone = health.excuse(seen)  # nothing got through meanwhile: a try is used up
        health.succeeded()
        answered = health.excuse(seen)  # something did: excused
        return [alone, answered]

    assert asyncio.run(go()) == [False, True]


def test_the_shared_quota_bounds_excused_failures_until_the_server_answers_again() -> None:
    async def go() -> tuple[int, bool]:
        health = DestinationHealth(POLICY, _never_called, lambda _s: None)
        health.succeeded()
        excused = sum(health.excuse(0) for _ in range(200))
        health.succeeded()
        return excused, health.excuse(0)

    excused, after_an_answer = asyncio.run(go())
    assert excused == 50 and after_an_answer


def test_a_blocked_destination_fails_at_once_until_unblocked() -> None:
    async def go() -> None:
        health = DestinationHealth(POLICY, _never_called, lambda _s: None)
        health.block(StoreError("The storage server rejected the secret key.", permanent=True))
        try:
            health.check()
        except StoreError as exc:
            assert exc.whole_destination and str(exc).startswith("The storage server rejected")
        else:
            raise AssertionError("not blocked")
        health.unblock()
        health.check()
        health.lost_contact(unreachable_error())
        assert health.unreachable is not None
        await health.aclose()

    asyncio.run(go())


async def _never_called() -> None:
    raise AssertionError("no probe expected")
