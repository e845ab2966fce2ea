"""The Engine's own rules (its pipeline's are in tests/core/pipeline)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from app.core.bandwidth import UPLOAD_LIMIT
from app.core.config import Destination, EngineSettings
from app.core.engine import Engine, earlier_destination
from app.core.journal import JournalRow, destination_identity
from app.core.models import FileState
from tests.helpers.fakes import FakeStore

TODAY = Destination(
    bucket="today",
    endpoint_url="https://s3.example",
    region="eu-west-1",
    access_key="AKTODAY",
    secret_key="today-secret",
)


def cut_off_row(earlier: Destination, *, with_spec: bool) -> JournalRow:
    return JournalRow(
        row_id=1,
        path=Path("/photos/coin.jpg"),
        state=FileState.UPLOADING,
        destination=destination_identity(earlier),
        destination_spec=earlier.spec() if with_spec else "",
        bucket=earlier.bucket,
        queued_at=time.time(),
        updated_at=time.time(),
        key="coin-01234567.jpg",
    )


def test_a_destination_is_rebuilt_from_its_spec_with_the_secret_from_the_keyring() -> None:
    earlier = Destination(
        bucket="old", endpoint_url="https://r2.example", region="auto", access_key="AKOLD"
    )
    lookups: list[str] = []

    def keyring(access_key: str) -> str | None:
        lookups.append(access_key)
        return "old-secret"

    found = earlier_destination(cut_off_row(earlier, with_spec=True), TODAY, keyring)
    assert found is not None and lookups == ["AKOLD"]
    assert (found.bucket, found.endpoint_url, found.region) == ("old", "https://r2.example", "auto")
    assert (found.access_key, found.secret_key) == ("AKOLD", "old-secret")


def test_without_a_secret_the_default_credentials_are_tried() -> None:
    earlier = Destination(bucket="old", endpoint_url="https://r2.example", access_key="AKOLD")
    found = earlier_destination(cut_off_row(earlier, with_spec=True), TODAY, lambda _k: None)
    assert found is not None and found.access_key is None and found.secret_key is None


def test_a_row_from_before_schema_2_on_todays_endpoint_takes_todays_credentials() -> None:
    earlier = Destination(bucket="old", prefix="lots/", endpoint_url="https://s3.example")
    found = earlier_destination(cut_off_row(earlier, with_spec=False), TODAY)
    assert found is not None and (found.bucket, found.prefix) == ("old", "lots/")
    assert (found.region, found.access_key, found.secret_key) == (
        "eu-west-1",
        "AKTODAY",
        "today-secret",
    )


def test_nothing_is_left_to_abort_at_the_local_test_bucket() -> None:
    local = Destination(
        bucket="photos", endpoint_url="http://127.0.0.1:1", label="local test bucket"
    )
    assert earlier_destination(cut_off_row(local, with_spec=True), TODAY) is None
    assert earlier_destination(cut_off_row(local, with_spec=False), TODAY) is None


def test_a_retired_store_is_closed_once_no_file_uses_it_and_reopened_for_a_retry(
    tmp_path: Path,
) -> None:
    import asyncio

    from app.core.config import EngineSettings
    from app.core.engine import Engine
    from app.core.models import ThumbnailState
    from tests.helpers import corpus
    from tests.helpers.fakes import FakeStore

    first = corpus.jpeg_photo(tmp_path / "first.jpg", (64, 48), seed=1)
    second = corpus.jpeg_photo(tmp_path / "second.jpg", (64, 48), seed=2)
    stores = {"old": FakeStore(bucket="old"), "new": FakeStore(bucket="new")}
    opened: list[str] = []
    stores["old"].fail_next["put"] = 1  # first.jpg's thumbnail does not make it

    def factory(destination: Destination, _concurrency: int) -> FakeStore:
        opened.append(destination.bucket)
        store = stores[destination.bucket]
        store.closed = False
        return store

    async def go() -> tuple[bool, bool]:
        engine = Engine(
            Destination(bucket="old"), EngineSettings(concurrency=2), store_factory=factory
        )
        try:
            engine.add_paths([first])
            await asyncio.wait_for(engine.wait_idle(), 10)
            engine.reconfigure(Destination(bucket="new"), EngineSettings(concurrency=2))
            await asyncio.wait_for(engine.wait_idle(), 10)
            closed_when_unused = stores["old"].closed
            engine.add_paths([second])
            engine.retry_failed()  # first.jpg's thumbnail goes beside its original
            await asyncio.wait_for(engine.wait_idle(), 10)
            snaps = {s.path.name: s for s in engine.snapshots()}
            assert snaps["first.jpg"].thumbnail_state is ThumbnailState.GENERATED
            assert snaps["first.jpg"].thumbnail_key in stores["old"].objects
            assert snaps["second.jpg"].bucket == "new"
            return closed_when_unused, stores["old"].closed
        finally:
            await engine.aclose()

    closed_when_unused, closed_again = asyncio.run(go())
    assert closed_when_unused and closed_again
    assert opened == ["old", "new", "old"]


def test_the_upload_speed_limit_follows_the_settings_at_once() -> None:
    """The window's Settings change the limit for uploads already running."""

    async def go() -> list[int | None]:
        seen = []
        engine = Engine(
            Destination(bucket="b"),
            EngineSettings(upload_limit=20 * 1024 * 1024),
            store_factory=lambda _d, _c: FakeStore(bucket="b"),
        )
        try:
            seen.append(UPLOAD_LIMIT.rate)
            engine.reconfigure(Destination(bucket="b"), EngineSettings(upload_limit=512 * 1024))
            seen.append(UPLOAD_LIMIT.rate)
            engine.reconfigure(Destination(bucket="b"), EngineSettings())
            seen.append(UPLOAD_LIMIT.rate)
        finally:
            await engine.aclose()
            UPLOAD_LIMIT.set(None)
        return seen

    assert asyncio.run(go()) == [20 * 1024 * 1024, 512 * 1024, None]


def test_the_destinations_listings_are_taken_while_it_is_checked() -> None:
    """On a distant server each request before the first file is a round trip: the
    check of the bucket and its two listings go out together, not one after another."""
    store = FakeStore(bucket="b")
    both_listed = threading.Event()
    listed: list[str] = []

    def on_list(prefix: str) -> None:
        listed.append(prefix)
        if len(listed) == 2:
            both_listed.set()

    def on_check(_key: str) -> None:  # the check's answer comes only once both are asked
        assert both_listed.wait(5), "the listings waited for the check"

    store.hooks.update(list=on_list, check=on_check)

    async def go() -> None:
        engine = Engine(
            Destination(bucket="b", prefix="coins/"),
            EngineSettings(),
            store_factory=lambda _d, _c: store,
        )
        try:
            await engine.check_destination()
        finally:
            await engine.aclose()

    asyncio.run(go())
    assert sorted(listed) == [".photo-uploader/sha256/", "coins/"]
