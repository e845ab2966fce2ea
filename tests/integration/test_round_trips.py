"""Requests per file, counted on the wire in front of real servers (rclone, SeaweedFS).

A new file costs its PUTs and nothing else: what the bucket holds is learned from one
listing of the content index and one of the destination, not from a lookup per file.
A second computer uploading the same photos still finds every one a duplicate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from app.core.models import FileState
from tests.helpers.servers import S3Endpoint
from tests.integration.test_faults import batch, photo, proxy_for

pytestmark = pytest.mark.integration

FILES = 12


@pytest.fixture(params=["rclone_s3", "seaweedfs_s3"])
def server(request: pytest.FixtureRequest) -> S3Endpoint:
    endpoint: S3Endpoint = request.getfixturevalue(request.param)
    return endpoint


def _object_requests(log: list, method: str, bucket: str) -> list[str]:
    """Paths of `method` requests for one object (not the bucket, not a listing)."""
    return [
        entry.path
        for entry in log
        if entry.method == method
        and entry.path.startswith(f"/{bucket}/")
        and len(entry.path) > len(f"/{bucket}/")
    ]


def _listings(log: list, bucket: str) -> int:
    return sum(
        1
        for entry in log
        if entry.method == "GET"
        and entry.path.startswith(f"/{bucket}")
        and "list-type=2" in entry.path
    )


def test_new_files_cost_their_puts_and_no_lookups(
    server: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = fresh_bucket(server)
    paths = [photo(tmp_path / f"stamp_{n:02d}.jpg", 3000) for n in range(FILES)]

    async def go() -> tuple[dict, list]:
        with proxy_for(server) as proxy:
            async with batch(server, bucket, url=proxy.url, concurrency=4) as b:
                snaps = await b.run(*paths)
            return snaps, list(proxy.log)

    snaps, log = asyncio.run(go())
    assert {s.state for s in snaps.values()} == {FileState.UPLOADED}
    assert _object_requests(log, "GET", bucket) == []  # no index lookups
    assert _object_requests(log, "HEAD", bucket) == []  # no own-key checks
    assert _listings(log, bucket) <= 2  # the index prefix and the destination
    # the photo, its thumbnail, its sidecar and its index entry
    assert len(_object_requests(log, "PUT", bucket)) == 4 * FILES


def test_a_second_computer_finds_every_photo_a_duplicate_and_writes_nothing(
    server: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = fresh_bucket(server)
    paths = [photo(tmp_path / f"coin_{n:02d}.jpg", 3000) for n in range(FILES)]
    copies = []
    for path in paths:  # the same photos, kept under other names on the other computer
        copy = tmp_path / "other computer" / f"copy of {path.name}"
        copy.parent.mkdir(exist_ok=True)
        copy.write_bytes(path.read_bytes())
        copies.append(copy)

    async def go() -> tuple[dict, list]:
        async with batch(server, bucket) as first:
            await first.run(*paths)
        with proxy_for(server) as proxy:
            async with batch(server, bucket, url=proxy.url, concurrency=4) as second:
                snaps = await second.run(*copies)
            return snaps, list(proxy.log)

    snaps, log = asyncio.run(go())
    assert {s.state for s in snaps.values()} == {FileState.DUPLICATE}
    assert _object_requests(log, "PUT", bucket) == []
    assert _listings(log, bucket) <= 2
