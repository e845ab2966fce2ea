"""The upload speed limit against real servers (rclone serve s3, SeaweedFS): a photo sent
under a limit takes as long as the limit says, arrives whole, and a new rate applies to
an upload already under way."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.core.bandwidth import BURST_SECONDS, UPLOAD_LIMIT
from app.core.store import DIRECT_PUT_LIMIT, S3Store
from tests.helpers.servers import S3Endpoint

pytestmark = pytest.mark.integration

KiB = 1024
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["rclone_s3", "seaweedfs_s3"])
def server(request: pytest.FixtureRequest) -> S3Endpoint:
    endpoint: S3Endpoint = request.getfixturevalue(request.param)
    return endpoint


@pytest.fixture
def limit() -> Iterator[None]:
    yield
    UPLOAD_LIMIT.set(None)


def _store(endpoint: S3Endpoint, bucket: str) -> S3Store:
    return S3Store(
        endpoint.destination(bucket),
        concurrency=2,
    )


def _send(store: S3Store, path: Path) -> float:
    data = path.read_bytes()
    started = time.monotonic()
    store.start_upload(
        path,
        path.name,
        content_type="image/jpeg",
        sha256=hashlib.sha256(data).hexdigest(),
        on_progress=lambda n: None,
    ).result()
    return time.monotonic() - started


@pytest.mark.parametrize(
    "size", [900 * KiB, DIRECT_PUT_LIMIT + 600 * KiB], ids=["one-put", "s3transfer"]
)
def test_an_upload_under_a_limit_takes_as_long_as_the_limit_says(
    server: S3Endpoint,
    fresh_bucket: Callable[[S3Endpoint], str],
    tmp_path: Path,
    limit: None,
    size: int,
) -> None:
    bucket = fresh_bucket(server)
    path = tmp_path / "folio.jpg"
    path.write_bytes(b"\xff\xd8\xff" + os.urandom(size))
    rate = 1024 * KiB
    UPLOAD_LIMIT.set(rate)
    store = _store(server, bucket)
    try:
        elapsed = _send(store, path)
        got = server.client().get_object(Bucket=bucket, Key=path.name)["Body"].read()
    finally:
        store.close()
    assert got == path.read_bytes()
    burst = BURST_SECONDS * rate  # what may go at once after a quiet spell
    assert elapsed >= 0.9 * (size - burst) / rate  # held to the limit


def test_raising_the_limit_speeds_up_an_upload_already_going(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path, limit: None
) -> None:
    bucket = fresh_bucket(rclone_s3)
    path = tmp_path / "atlas.tif"
    path.write_bytes(b"II*\x00" + os.urandom(DIRECT_PUT_LIMIT + 2048 * KiB))  # ~4 MiB
    UPLOAD_LIMIT.set(64 * KiB)  # a minute at this rate
    store = _store(rclone_s3, bucket)
    elapsed: list[float] = []
    worker = threading.Thread(target=lambda: elapsed.append(_send(store, path)))
    try:
        worker.start()
        worker.join(timeout=1.0)  # under way, at the low rate
        assert worker.is_alive()
        UPLOAD_LIMIT.set(None)  # Settings: no limit
        worker.join(timeout=30)
        assert not worker.is_alive() and elapsed and elapsed[0] < 20
    finally:
        UPLOAD_LIMIT.set(None)
        worker.join(timeout=30)
        store.close()


def test_the_command_line_refuses_a_rate_it_cannot_read(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "upload", str(tmp_path), "--bwlimit", "fast"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(
            os.environ,
            PHOTO_UPLOADER_DATA_DIR=str(tmp_path / "data"),
            PHOTO_UPLOADER_CONFIG_DIR=str(tmp_path / "config"),
        ),
        timeout=60,
    )
    assert result.returncode == 2
    assert "“fast” is not an upload speed limit" in result.stderr
    assert "Traceback" not in result.stderr
