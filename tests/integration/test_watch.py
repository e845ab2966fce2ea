"""`python -m app watch`, started as a user would, against real local S3 servers: files
copied in under a temporary name, a file still being written, files added while nothing
watched, and stopping it with a signal."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import corpus
from tests.helpers.cli import REPO, credentials
from tests.helpers.servers import S3Endpoint
from tests.integration.test_faults import bucket_objects
from tests.integration.test_restart import LocalBucket, app_env, orphans_reaped
from tests.integration.test_sharing import rclones_serving, until

pytestmark = pytest.mark.integration

LINE_TIMEOUT = 60.0


class Watching:
    """A running `python -m app watch FOLDER --jsonl`: its JSON lines as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _read_err(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def next_record(self) -> dict[str, Any]:
        """The next file the watch finished (fails if it ends or none comes in time)."""
        try:
            line = self._lines.get(timeout=LINE_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no file was reported; stderr: {self.stderr}") from None
        assert line is not None, f"the watch ended: {self.stderr}"
        return json.loads(line)  # type: ignore[no-any-return]

    def started(self) -> None:
        until(lambda: "Watching " in self.stderr, "the watch started", LINE_TIMEOUT)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> tuple[int, list[str]]:
        """Signal it; its exit status and the lines it wrote after the last record."""
        self.process.send_signal(sig)
        status = self.process.wait(timeout=60)
        rest = []
        while (line := self._lines.get(timeout=10)) is not None:
            rest.append(line)
        return status, rest


@contextmanager
def watching(
    folder: Path, *args: str, env: dict[str, str], jsonl: bool = True
) -> Iterator[Watching]:
    command = [sys.executable, "-m", "app", "watch", str(folder), *args]
    if jsonl:
        command.append("--jsonl")
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watch = Watching(process)
    try:
        watch.started()
        yield watch
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


@pytest.fixture(params=["rclone", "seaweedfs"])
def server(request: pytest.FixtureRequest) -> S3Endpoint:
    endpoint: S3Endpoint = request.getfixturevalue(f"{request.param}_s3")
    return endpoint


def destination_args(endpoint: S3Endpoint, bucket: str) -> tuple[str, ...]:
    return ("--bucket", bucket, "--endpoint-url", endpoint.url)


def test_a_photo_copied_in_under_a_temporary_name_is_uploaded_once_renamed(
    tmp_path: Path, server: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str]
) -> None:
    bucket = fresh_bucket(server)
    inbox = tmp_path / "Capture"
    inbox.mkdir()
    photo = corpus.jpeg_photo(tmp_path / "shot.jpg", (800, 600), seed=1)
    env = app_env(tmp_path, **credentials(server))
    with watching(inbox, *destination_args(server, bucket), env=env) as watch:
        partial = inbox / "IMG_0001.jpg.part"
        partial.write_bytes(photo.read_bytes())
        partial.rename(inbox / "IMG_0001.jpg")
        record = watch.next_record()
        assert Path(record["path"]).name == "IMG_0001.jpg"
        assert record["status"] == "uploaded" and record["thumbnail_status"] == "generated"
        assert bucket_objects(server, bucket)[record["key"]] == photo.read_bytes()
        status, _rest = watch.stop()
    assert status == 0, watch.stderr
    assert not any(".part" in key for key in bucket_objects(server, bucket))


def test_a_photo_still_being_written_is_uploaded_once_complete(
    tmp_path: Path, rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str]
) -> None:
    bucket = fresh_bucket(rclone_s3)
    inbox = tmp_path / "Capture"
    inbox.mkdir()
    content = corpus.jpeg_photo(tmp_path / "big.jpg", (1600, 1200), seed=2).read_bytes()
    marker = corpus.jpeg_photo(tmp_path / "marker.jpg", (300, 200), seed=3).read_bytes()
    env = app_env(tmp_path, **credentials(rclone_s3))
    with watching(inbox, *destination_args(rclone_s3, bucket), env=env) as watch:
        with open(inbox / "IMG_0002.jpg", "wb") as writer:  # the camera's software writing
            writer.write(content[: len(content) // 2])
            writer.flush()
            (inbox / "marker.jpg").write_bytes(marker)  # another shot, complete
            first = watch.next_record()
            assert Path(first["path"]).name == "marker.jpg"  # not the half-written one
            writer.write(content[len(content) // 2 :])
        second = watch.next_record()
        assert Path(second["path"]).name == "IMG_0002.jpg"
        watch.stop()
    objects = bucket_objects(rclone_s3, bucket)
    assert objects[second["key"]] == content
    originals = sorted(k for k in objects if k.startswith("IMG_0002"))
    assert originals == [second["key"], second["key"] + ".json"]  # one photo, whole


def test_photos_added_while_nothing_watched_are_uploaded_when_the_watch_starts(
    tmp_path: Path, rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str]
) -> None:
    bucket = fresh_bucket(rclone_s3)
    inbox = tmp_path / "Capture"
    (inbox / "Morgan 1921").mkdir(parents=True)
    corpus.jpeg_photo(inbox / "Morgan 1921" / "obverse.jpg", (600, 600), seed=4)
    env = app_env(tmp_path, **credentials(rclone_s3))
    with watching(inbox, *destination_args(rclone_s3, bucket), env=env) as watch:
        record = watch.next_record()
        assert Path(record["path"]).name == "obverse.jpg" and record["status"] == "uploaded"
        watch.stop()
    # Closed: two more shots arrive.
    corpus.jpeg_photo(inbox / "Morgan 1921" / "reverse.jpg", (600, 600), seed=5)
    corpus.jpeg_photo(inbox / "edge.jpg", (600, 200), seed=6)
    with watching(inbox, *destination_args(rclone_s3, bucket), env=env) as watch:
        names = {Path(watch.next_record()["path"]).name for _ in range(2)}
        status, rest = watch.stop()
    assert names == {"reverse.jpg", "edge.jpg"}  # obverse.jpg is not sent again
    assert status == 0 and rest == []
    sidecar = json.loads(bucket_objects(rclone_s3, bucket)[record["metadata_key"]])
    assert sidecar["item"]["id"] == "Morgan 1921"  # the folder below the watched one


def test_sigterm_stops_the_watch_cleanly_and_its_local_server_goes_with_it(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "Capture"
    inbox.mkdir()
    env = app_env(tmp_path)
    bucket = LocalBucket(tmp_path / "data")
    with orphans_reaped(bucket.root), watching(inbox, env=env, jsonl=False) as watch:
        corpus.jpeg_photo(inbox / "IMG_0003.jpg", (640, 480), seed=7)
        until(lambda: bucket.indexed() >= 1, "the photo was uploaded", LINE_TIMEOUT)
        status, rest = watch.stop(signal.SIGTERM)
        assert status == 0, watch.stderr
        assert "Traceback" not in watch.stderr
        assert rest[0].startswith("uploaded   ") and "IMG_0003.jpg" in rest[0]
        assert " to local test bucket (photos): 1 uploaded, 0 duplicate, 0 failed" in rest[-1]
        until(lambda: rclones_serving(bucket.root) == [], "no server was left")


def test_watch_says_which_folder_it_cannot_watch(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "watch", str(tmp_path / "nowhere")],
        cwd=REPO, env=app_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        f"photo-uploader: {tmp_path / 'nowhere'} does not exist: watch takes folders.\n"
    )
