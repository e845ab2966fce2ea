"""`kill -9` mid-batch, then start again: the queue comes back and finishes, each photo
ends in the bucket exactly once, byte for byte, with nothing half-sent left behind.

The app runs as a user starts it (`python -m app ...` in a subprocess, its data folder in
a temporary directory). Waits are bounded polls on a condition, never fixed sleeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.journal import JOURNAL_FILE, JournalRow, open_journal
from app.core.models import FileState
from app.core.pipeline.multipart import part_count
from app.core.store import (
    INDEX_PREFIX,
    MULTIPART_CHUNK_SIZE,
    MULTIPART_THRESHOLD,
    parts_from_text,
)
from tests.helpers import corpus
from tests.helpers.faultproxy import Fault, FaultProxy
from tests.helpers.servers import S3Endpoint

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PHOTOS = 30


def make_photos(folder: Path, count: int = PHOTOS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        corpus.jpeg_photo(folder / f"lot {n:02d}.jpg", (640, 480), seed=n) for n in range(count)
    ]


def app_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return dict(
        os.environ,
        PHOTO_UPLOADER_DATA_DIR=str(tmp_path / "data"),
        PHOTO_UPLOADER_CONFIG_DIR=str(tmp_path / "config"),
        QT_QPA_PLATFORM="offscreen",
        **extra,
    )


def start(*args: str | Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *map(str, args)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(
    condition: Callable[[], bool], process: subprocess.Popen[str] | None, what: str
) -> None:
    """Poll until `condition` holds (at most a minute); fail if the process dies first."""
    deadline = time.monotonic() + 60
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"exited before {what}:\n{process.communicate()[0]}")
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def kill_hard(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGKILL)
    output, _ = process.communicate(timeout=30)
    return output


@contextlib.contextmanager
def orphans_reaped(marker: Path) -> Iterator[None]:
    """A safety net: stop every process whose command line names `marker` when the test
    ends (the local server dies with its owner, even on kill -9, so this should find
    none; if it does, the test does not leave it running either)."""
    try:
        yield
    finally:
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if str(marker).encode() in (proc / "cmdline").read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)


class LocalBucket:
    """The local test bucket's folder, as rclone keeps it on disk."""

    def __init__(self, data: Path) -> None:
        self.root = data / "local-bucket"
        self.folder = self.root / "photos"

    def indexed(self) -> int:
        index = self.folder / INDEX_PREFIX
        return len(list(index.glob("*.json"))) if index.is_dir() else 0

    def thumbnails(self) -> int:
        thumbs = self.folder / "thumbnails"
        return len(list(thumbs.glob("*.jpg"))) if thumbs.is_dir() else 0

    def assert_each_photo_once(self, photos: list[Path]) -> None:
        top = sorted(p.name for p in self.folder.iterdir() if p.is_file())
        sidecars = [name for name in top if name.endswith(".json")]
        # nothing else, no half-written leftovers: each original and its sidecar
        assert len(top) == 2 * len(photos) and len(sidecars) == len(photos), top
        for photo in photos:
            (stored,) = self.folder.glob(f"{photo.stem}-*.jpg")
            assert stored.read_bytes() == photo.read_bytes(), photo.name
            assert json.loads((self.folder / f"{stored.name}.json").read_bytes())["key"]
        assert self.thumbnails() == len(photos) and self.indexed() == len(photos)


def journal_rows(data: Path) -> list[JournalRow]:
    path = data / JOURNAL_FILE
    if not path.exists():
        return []
    journal = open_journal("test", path, for_reading=True)
    try:
        rows = journal.history(limit=None).result()
        rows += journal.queue("gui", finished_limit=0).result()
        rows += journal.queue("cli", finished_limit=0).result()
        return rows
    finally:
        journal.close().result()


def jsonl(output: str) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return {Path(r["path"]).name: r for r in lines}


def test_cli_killed_mid_batch_finishes_on_the_next_run(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "photos")
    env = app_env(tmp_path)
    bucket = LocalBucket(tmp_path / "data")
    command = ("upload", tmp_path / "photos", "--concurrency", "1", "--jsonl")

    with orphans_reaped(bucket.root):
        first = start(*command, env=env)
        try:
            wait_for(lambda: bucket.indexed() >= 3, first, "a few files were uploaded")
        finally:
            kill_hard(first)
        assert bucket.indexed() < PHOTOS, "the batch finished before it could be killed"
        assert any(not r.state.is_final for r in journal_rows(tmp_path / "data"))

        again = subprocess.run(
            [sys.executable, "-m", "app", *map(str, command)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr
        assert "Traceback" not in again.stderr
        results = jsonl(again.stdout)
        assert set(results) == {p.name for p in photos}
        statuses = {r["status"] for r in results.values()}
        assert statuses <= {"uploaded", "duplicate"} and "uploaded" in statuses
        bucket.assert_each_photo_once(photos)

        history = subprocess.run(
            [sys.executable, "-m", "app", "history", "--jsonl", "--limit", "0"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert history.returncode == 0, history.stderr
        listed = [json.loads(line) for line in history.stdout.splitlines()]
        assert {Path(r["path"]).name for r in listed} == {p.name for p in photos}
        assert all(r["timestamp"] and r["status"] in ("uploaded", "duplicate") for r in listed)
        stamps = [r["timestamp"] for r in listed]
        assert stamps == sorted(stamps, reverse=True)  # newest first
        assert all(r.state.is_final for r in journal_rows(tmp_path / "data"))


@pytest.mark.parametrize("server", ["rclone_s3", "seaweedfs_s3"])
def test_cli_killed_mid_multipart_carries_on_from_its_parts(
    request: pytest.FixtureRequest,
    fresh_bucket: Callable[[S3Endpoint], str],
    tmp_path: Path,
    server: str,
) -> None:
    """Against a server that outlives the app (not the app's own local one): kill -9 in
    the middle of a multipart upload, start again, and only the parts the server did not
    have are sent; the object is the file, byte for byte, and no upload is left open."""
    endpoint: S3Endpoint = request.getfixturevalue(server)
    bucket = fresh_bucket(endpoint)
    folder = tmp_path / "scans"
    small = make_photos(folder, 3)
    big = folder / "m_atlas.jpg"  # large enough for parts; not decodable, so no thumbnail
    big.write_bytes(
        b"\xff\xd8\xff\xe0" + os.urandom(MULTIPART_THRESHOLD + 6 * MULTIPART_CHUNK_SIZE)
    )
    total_parts = part_count(big.stat().st_size)
    env = app_env(
        tmp_path, AWS_ACCESS_KEY_ID=endpoint.access_key, AWS_SECRET_ACCESS_KEY=endpoint.secret_key
    )
    # The server takes its time over each part, as a real link would.
    slow_parts = Fault(
        "hook", times=None, method="PUT", path_contains="partNumber=", hook=lambda: time.sleep(0.2)
    )
    client = endpoint.client()

    def unfinished_uploads() -> list[str]:
        try:
            listing = client.list_multipart_uploads(Bucket=bucket)
        except client.exceptions.NoSuchUpload:  # rclone, when one ends while it lists
            return []
        return [u["Key"] for u in listing.get("Uploads", [])]

    def recorded_parts() -> int:
        rows = [r for r in journal_rows(tmp_path / "data") if r.path.name == big.name]
        return max((len(parts_from_text(r.parts)) for r in rows), default=0)

    with FaultProxy(endpoint.url, lifetime=300) as proxy:
        proxy.plan(slow_parts)
        command = (
            "upload", folder, "--bucket", bucket, "--endpoint-url", proxy.url, "--jsonl",
        )  # fmt: skip
        first = start(*command, env=env)
        try:
            wait_for(lambda: recorded_parts() >= 3, first, "three parts were stored")
        finally:
            kill_hard(first)
        kept = recorded_parts()
        assert kept < total_parts, "the upload finished before it could be cut off"
        assert unfinished_uploads()  # the parts wait on the server
        sent_before = proxy.count(method="PUT") - 0
        parts_before = sum(1 for e in proxy.log if "partNumber=" in e.path)

        again = subprocess.run(
            [sys.executable, "-m", "app", *map(str, command)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        parts_after = sum(1 for e in proxy.log if "partNumber=" in e.path) - parts_before
    assert again.returncode == 0, again.stderr
    assert sent_before > 0
    assert parts_after <= total_parts - kept  # what was stored is not sent again
    results = jsonl(again.stdout)
    assert {r["status"] for r in results.values()} <= {"uploaded", "duplicate"}
    assert unfinished_uploads() == []
    for path in [*small, big]:
        body = client.get_object(Bucket=bucket, Key=results[path.name]["key"])["Body"].read()
        assert body == path.read_bytes(), path.name
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    originals = [
        o["Key"]
        for o in listed
        if not o["Key"].startswith((".", "thumbnails/")) and not o["Key"].endswith(".json")
    ]
    assert len(originals) == len(small) + 1


def test_window_killed_mid_batch_gets_its_queue_back_and_finishes_it(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "photos")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.ini").write_text("[settings]\nconcurrency=1\n")
    env = app_env(tmp_path)
    data = tmp_path / "data"
    bucket = LocalBucket(data)

    def journal_done() -> bool:
        # "duplicate": the killed run had sent it all before the journal heard of it.
        rows = journal_rows(data)
        done = (FileState.UPLOADED, FileState.DUPLICATE)
        return len(rows) == PHOTOS and all(r.state in done for r in rows)

    with orphans_reaped(bucket.root):
        first = start(tmp_path / "photos", env=env)
        try:
            wait_for(lambda: bucket.indexed() >= 3, first, "a few files were uploaded")
        finally:
            kill_hard(first)
        assert bucket.indexed() < PHOTOS, "the batch finished before it could be killed"

        second = start(env=env)  # no paths: the journal's queue is all it has
        try:
            wait_for(
                lambda: bucket.indexed() == PHOTOS and journal_done(),
                second,
                "the restored queue was finished",
            )
            second.send_signal(signal.SIGINT)  # Ctrl+C in the terminal quits cleanly
            output, _ = second.communicate(timeout=30)
        finally:
            if second.poll() is None:
                kill_hard(second)
        assert second.returncode == 0, output
        assert "Traceback" not in output
        bucket.assert_each_photo_once(photos)


def test_cli_carries_on_with_one_sentence_when_the_journal_cannot_be_written(
    tmp_path: Path,
) -> None:
    photos = make_photos(tmp_path / "photos", 3)
    (tmp_path / "data" / JOURNAL_FILE).mkdir(parents=True)  # in the database's way
    bucket = LocalBucket(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "app", "upload", tmp_path / "photos", "--jsonl"],
        cwd=REPO,
        env=app_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert {r["status"] for r in jsonl(result.stdout).values()} == {"uploaded"}
    (line,) = result.stderr.splitlines()
    assert line.startswith("photo-uploader: The upload journal at ") and "carry on" in line
    bucket.assert_each_photo_once(photos)
