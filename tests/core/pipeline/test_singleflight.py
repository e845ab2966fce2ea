"""Single flight on its own: one leader per bucket and content, followers learn where it went."""

from __future__ import annotations

import asyncio

from app.core.pipeline.singleflight import SingleFlight
from app.core.store import IndexEntry

ENTRY = IndexEntry(key="coin-01234567.jpg", thumbnail_key=None, size=3, content_type="image/jpeg")
SHA = "01" * 32


def test_followers_wait_for_the_leader_and_learn_where_the_content_is() -> None:
    async def go() -> list[IndexEntry | None]:
        flights = SingleFlight()
        key = ("bucket-a", SHA)
        assert await flights.follow(key, lambda: None) is None  # nobody leads: the caller does
        flights.lead(key)
        waits: list[int] = []
        followers = [
            asyncio.ensure_future(flights.follow(key, lambda: waits.append(1))) for _ in range(3)
        ]
        await asyncio.sleep(0)
        assert len(waits) == 3 and not any(f.done() for f in followers)
        flights.land(key, ENTRY)
        return list(await asyncio.gather(*followers))

    assert asyncio.run(go()) == [ENTRY, ENTRY, ENTRY]


def test_a_leader_that_did_not_land_hands_the_lead_on() -> None:
    async def go() -> IndexEntry | None:
        flights = SingleFlight()
        key = ("bucket-a", SHA)
        flights.lead(key)
        follower = asyncio.ensure_future(flights.follow(key, lambda: None))
        await asyncio.sleep(0)
        flights.land(key, None)  # the leader failed
        return await follower

    assert asyncio.run(go()) is None  # the follower leads next


def test_the_same_content_for_another_bucket_does_not_wait() -> None:
    async def go() -> IndexEntry | None:
        flights = SingleFlight()
        flights.lead(("bucket-a", SHA))
        return await asyncio.wait_for(flights.follow(("bucket-b", SHA), lambda: None), 1)

    assert asyncio.run(go()) is None
