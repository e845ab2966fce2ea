"""What the bucket holds, from one listing: new files cost their PUTs and no lookups;
what the listing says is there is still confirmed; stale or failed listings fall back."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from app.core.errors import StoreError
from app.core.models import FileSnapshot, FileState
from app.core.pipeline.inventory import MAX_AGE, RETRY_FAILED_AFTER, Listing
from app.core.store import ListingPage
from tests.helpers import corpus
from tests.helpers.fakes import FakeStore, StoredObject
from tests.helpers.pipelines import open_pipeline


def photos(folder: Path, count: int, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        corpus.jpeg_photo(folder / f"p{n:03d}.jpg", (32, 24), seed=n)
        for n in range(start, start + count)
    ]


async def upload(store: FakeStore, paths: list[Path], **options: object) -> list[FileSnapshot]:
    async with open_pipeline(store, **options) as pipeline:  # type: ignore[arg-type]
        pipeline.add_paths(paths)
        await asyncio.wait_for(pipeline.wait_idle(), 20)
        return pipeline.snapshots()


def test_new_files_cost_their_puts_and_no_lookups(tmp_path: Path) -> None:
    store = FakeStore()
    snaps = asyncio.run(upload(store, photos(tmp_path, 20)))
    assert {s.state for s in snaps} == {FileState.UPLOADED}
    assert store.calls["find"] == 0 and store.calls["head"] == 0
    assert store.calls["list"] == 2  # the index, and the destination's keys
    assert store.calls["upload"] == 20 and store.calls["put"] == 20 and store.calls["record"] == 20


def test_a_second_computer_finds_every_file_and_confirms_each(tmp_path: Path) -> None:
    store = FakeStore(page_size=7)  # several pages
    paths = photos(tmp_path, 20)
    asyncio.run(upload(store, paths))
    keys_before = dict(store.objects)
    store.calls.clear()
    snaps = asyncio.run(upload(store, paths))  # a fresh pipeline: nothing known locally
    assert {s.state for s in snaps} == {FileState.DUPLICATE}
    assert store.calls["find"] == 20  # each hit confirmed with the store
    assert store.calls["upload"] == store.calls["put"] == store.calls["record"] == 0
    assert store.objects == keys_before


def test_an_index_entry_whose_object_is_gone_is_not_a_duplicate(tmp_path: Path) -> None:
    store = FakeStore()
    (path,) = photos(tmp_path, 1)
    asyncio.run(upload(store, [path]))
    (key, thumbnail) = sorted(store.photo_keys(), key=lambda k: k.startswith("thumbnails/"))
    del store.objects[key], store.objects[thumbnail]  # deleted by hand; the index stayed
    (snap,) = asyncio.run(upload(store, [path]))
    assert snap.state is FileState.UPLOADED
    assert key in store.objects


def test_content_listed_at_its_own_key_is_confirmed_then_not_sent_again(tmp_path: Path) -> None:
    (path,) = photos(tmp_path, 1)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    store = FakeStore()
    store.objects[f"p000-{sha[:8]}.jpg"] = StoredObject(path.read_bytes(), "image/jpeg")
    (snap,) = asyncio.run(upload(store, [path]))
    assert snap.state is FileState.UPLOADED
    assert store.calls["head"] == 1 and store.calls["upload"] == 0


def test_a_listing_that_fails_leaves_files_asking_one_by_one(tmp_path: Path) -> None:
    store = FakeStore()
    store.fail_next["list"] = 2
    snaps = asyncio.run(upload(store, photos(tmp_path, 5)))
    assert {s.state for s in snaps} == {FileState.UPLOADED}
    assert store.calls["list"] == 2  # not asked again for every file
    assert store.calls["find"] == 5 and store.calls["head"] == 5


class Pages:
    """A store's pages as a listing reads them, with a clock the test moves."""

    def __init__(self, keys: dict[str, int]) -> None:
        self.keys = keys
        self.reads = 0
        self.now = 1000.0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def read(self, prefix: str, token: str | None) -> ListingPage:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise StoreError("Access denied.")
        return ListingPage(dict(self.keys), None)


def test_a_stale_listing_is_taken_again_before_it_answers() -> None:
    pages = Pages({"a.jpg": 1})

    async def go() -> list[int | None]:
        listing = Listing("", pages.read, clock=lambda: pages.now)
        assert await listing.ready()
        seen = [listing.size("b.jpg")]
        pages.keys["b.jpg"] = 2  # another computer wrote it
        pages.now += MAX_AGE / 2
        assert await listing.ready()
        seen.append(listing.size("b.jpg"))  # still the old listing: it is fresh enough
        pages.now += MAX_AGE
        assert await listing.ready()
        seen.append(listing.size("b.jpg"))
        return seen

    assert asyncio.run(go()) == [None, None, 2]
    assert pages.reads == 2


def test_writes_while_the_listing_is_taken_stay_on_top() -> None:
    pages = Pages({"old.jpg": 5})

    async def go() -> tuple[int | None, int | None]:
        pages.gate = asyncio.Event()
        listing = Listing("", pages.read, clock=lambda: pages.now)
        waiting = asyncio.ensure_future(listing.ready(wait=5))
        await asyncio.sleep(0)
        listing.wrote("new.jpg", 7)  # a file of ours landed while the LIST was out
        listing.removed("old.jpg")  # and a wrong copy was taken out
        pages.gate.set()
        assert await waiting
        return listing.size("new.jpg"), listing.size("old.jpg")

    assert asyncio.run(go()) == (7, None)


def test_a_failed_listing_is_tried_again_after_a_while() -> None:
    pages = Pages({})
    pages.fail = True

    async def go() -> list[bool]:
        listing = Listing("", pages.read, clock=lambda: pages.now)
        answers = [await listing.ready(), await listing.ready()]
        pages.fail = False
        pages.now += RETRY_FAILED_AFTER
        answers.append(await listing.ready())
        return answers

    assert asyncio.run(go()) == [False, False, True]
    assert pages.reads == 2


def test_a_file_does_not_wait_long_for_a_slow_listing() -> None:
    pages = Pages({})

    async def go() -> bool:
        pages.gate = asyncio.Event()  # never opened
        listing = Listing("", pages.read, clock=lambda: pages.now)
        try:
            return await listing.ready(wait=0.01)
        finally:
            await listing.aclose()

    assert asyncio.run(go()) is False
