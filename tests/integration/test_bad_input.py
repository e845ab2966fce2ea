"""Bad input never crashes (issue 4): a folder of everything that goes wrong in real life,
uploaded with the real command line against a real local S3 server.

Each file must get the fate the engine's rules give it, in words a collector reads:
uploaded with a thumbnail, uploaded with a failed thumbnail and the reason, or failed
with the reason and nothing sent. Every good file lands byte for byte.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.cli import display_path, path_text
from app.core.config import EngineSettings
from app.core.keys import MAX_SEGMENT_BYTES
from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.core.pipeline import UploadPipeline
from app.core.store import INDEX_PREFIX, index_key
from app.core.thumbnails import DAMAGED, PARTIAL
from tests.core.test_keys import assert_safe_key
from tests.helpers import corpus
from tests.helpers.cli import credentials, run_upload
from tests.helpers.fakes import FakeStore
from tests.helpers.servers import S3Endpoint

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str | Path, endpoint: S3Endpoint) -> subprocess.CompletedProcess[str]:
    return run_upload(*args, env=credentials(endpoint), timeout=110)


def json_records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def bucket_objects(endpoint: S3Endpoint, bucket: str) -> dict[str, dict[str, Any]]:
    pages = endpoint.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {obj["Key"]: obj for page in pages for obj in page.get("Contents", [])}


# --- The corpus and what the engine's rules say about each file ----------------------


@dataclass(frozen=True)
class Fate:
    status: str
    thumbnail_status: str
    words: str | None = None  # what the user reads: in `error` or `thumbnail_error`


GOOD = Fate("uploaded", "generated")
NO_THUMBNAIL_DAMAGED = Fate("uploaded", "failed", DAMAGED)
NO_THUMBNAIL_PARTIAL = Fate("uploaded", "failed", PARTIAL)
LINK_LOOP = Fate("failed", "skipped", "This link points to itself or forms a loop.")
DEVICE = Fate("failed", "skipped", "This is a device file, not a photo.")

EXPECTED: dict[str, Fate] = {
    "photo": GOOD,
    "png_is_jpeg": GOOD,
    "one_pixel": GOOD,
    "panorama": GOOD,
    "cmyk": GOOD,
    "gray16_png": GOOD,
    "gray16_tiff": GOOD,
    "animated_gif": GOOD,
    "animated_webp": GOOD,
    "corrupt_exif": GOOD,
    "orientation_9": GOOD,
    "orientation_0": GOOD,
    "orientation_65535": GOOD,
    "truncated": NO_THUMBNAIL_PARTIAL,
    "garbage_png": Fate(
        "uploaded",
        "failed",
        "The file starts like an image but its contents are damaged, "
        "so no thumbnail could be made.",
    ),
    "bomb_refused": GOOD,  # 197 MP, too much for Pillow: libvips streams it
    "bomb_warned": GOOD,  # 134 MP
    "lying_jpeg": Fate("uploaded", "failed", "too large to decode safely (4290 megapixels;"),
    "png_bomb": Fate("uploaded", "failed", "(4365 megapixels; the limit is 1000)"),
    "webp_header_only": NO_THUMBNAIL_DAMAGED,
    "empty": Fate("failed", "skipped", "This file is empty (0 bytes)."),
    "text": Fate("failed", "skipped", "This file is not a supported image (it looks like text)."),
    "emoji": GOOD,
    "newline": GOOD,
    "escape_sequence": GOOD,
    "long_ascii": GOOD,
    "long_unicode": GOOD,
    "non_utf8": GOOD,
    "non_utf8_damaged": NO_THUMBNAIL_PARTIAL,  # a cut JPEG under a name that is not UTF-8
    "self_link": LINK_LOOP,
    "link_loop_a": LINK_LOOP,
    "link_loop_b": LINK_LOOP,
    "broken_link": Fate("failed", "skipped", "This link points to a file that no longer exists."),
    "fifo": Fate("failed", "skipped", "This is not a regular file (a named pipe)."),
    "device": DEVICE,
    "device_link": DEVICE,
}


def thumbnail_size(endpoint: S3Endpoint, bucket: str, key: str) -> tuple[int, int]:
    body = endpoint.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    with Image.open(io.BytesIO(body)) as image:
        assert (image.format, image.mode) == ("JPEG", "RGB")
        return image.size


def test_every_bad_input_gets_its_fate_and_every_good_file_uploads(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    made = corpus.bad_input_folder(tmp_path / "dropped folder")
    assert set(made.files) == set(EXPECTED)  # the table covers the whole corpus
    bucket = fresh_bucket(rclone_s3)

    common = ("--bucket", bucket, "--endpoint-url", rclone_s3.url)
    result = run_cli(made.root, *common, "--jsonl", endpoint=rclone_s3)

    assert result.returncode == 1  # some files failed
    assert "Traceback" not in result.stderr
    assert result.stderr == ""  # nothing but the JSON lines reaches the user
    lines = json_records(result.stdout)
    seen = {line["path"]: line for line in lines}
    assert len(seen) == len(lines)  # each file reported once, loops listed nothing twice
    by_label = {label: path_text(path) for label, path in made.files.items()}
    assert set(seen) == set(by_label.values())
    silent = {path_text(path) for path in made.silent}
    assert not any(path.startswith(tuple(silent)) for path in seen)

    objects = bucket_objects(rclone_s3, bucket)
    client = rclone_s3.client()
    expected_keys: set[str] = set()
    for label, fate in EXPECTED.items():
        record = seen[by_label[label]]
        assert (record["status"], record["thumbnail_status"]) == (
            fate.status,
            fate.thumbnail_status,
        ), (label, record)
        message = record["error"] if fate.status == "failed" else record["thumbnail_error"]
        if fate.words is None:
            assert message is None, (label, record)
        else:
            assert message is not None and fate.words in message, (label, record)
            assert message.endswith("."), message  # a whole sentence
        path = made.files[label]
        if fate.status == "failed":
            assert record["key"] is None and record["thumbnail_key"] is None
            assert record["error"] and record["thumbnail_error"] is None
            continue
        content = path.read_bytes()
        assert record["error"] is None
        assert record["sha256"] == hashlib.sha256(content).hexdigest()
        assert record["size"] == len(content)
        key = record["key"]
        assert_safe_key(key)
        assert all(len(part.encode()) <= MAX_SEGMENT_BYTES for part in key.split("/"))
        assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == content, label
        assert record["metadata_key"] == key + ".json"  # its sidecar, beside it
        sidecar = json.loads(
            client.get_object(Bucket=bucket, Key=record["metadata_key"])["Body"].read()
        )
        assert sidecar["sha256"] == record["sha256"] and str(made.root) not in json.dumps(sidecar)
        expected_keys |= {key, record["metadata_key"], index_key(record["sha256"])}
        if fate.thumbnail_status == "generated":
            assert_safe_key(record["thumbnail_key"])
            assert max(thumbnail_size(rclone_s3, bucket, record["thumbnail_key"])) <= 300
            expected_keys.add(record["thumbnail_key"])
        else:
            assert record["thumbnail_key"] is None
    # Nothing else in the bucket: no object for a failed file, no thumbnail that failed.
    assert set(objects) == expected_keys
    for key in objects:
        assert_safe_key(key)

    def line(label: str) -> dict[str, Any]:
        return seen[by_label[label]]

    # What a collector sees for the odd shapes and names.
    assert thumbnail_size(rclone_s3, bucket, line("panorama")["thumbnail_key"]) == (300, 2)
    assert thumbnail_size(rclone_s3, bucket, line("one_pixel")["thumbnail_key"]) == (1, 1)
    for label in ("orientation_9", "orientation_0", "orientation_65535"):
        # A nonsense orientation is ignored: the 64x32 picture is not turned on its side.
        assert thumbnail_size(rclone_s3, bucket, line(label)["thumbnail_key"]) == (64, 32)
    assert line("png_is_jpeg")["key"].endswith(".jpg")  # named .png, really a JPEG
    assert line("png_is_jpeg")["content_type"] == "image/jpeg"
    assert line("emoji")["key"].startswith(corpus.EMOJI_NAME.removesuffix(".jpg") + "-")
    assert line("newline")["key"].startswith("obverse_reverse-")
    assert line("escape_sequence")["key"].startswith("_[31mred_[0m_tab_return-")
    assert line("non_utf8")["path"].endswith("caf\\xe9 d\\xfcrer \\xff.jpg")
    assert line("non_utf8")["key"].startswith("caf_ d_rer _-")
    # 255-byte names are shortened just enough for stores that keep objects as files,
    # their sidecars included.
    for label in ("long_ascii", "long_unicode"):
        name = line(label)["metadata_key"]
        assert MAX_SEGMENT_BYTES - 3 < len(name.encode()) <= MAX_SEGMENT_BYTES


def test_the_summary_of_a_second_run_says_nothing_was_sent_twice(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    made = corpus.bad_input_folder(tmp_path / "dropped")
    bucket = fresh_bucket(rclone_s3)
    common = ("--bucket", bucket, "--endpoint-url", rclone_s3.url)
    first = run_cli(made.root, *common, endpoint=rclone_s3)
    before = bucket_objects(rclone_s3, bucket)

    second = run_cli(made.root, *common, endpoint=rclone_s3)

    uploaded = sum(fate.status == "uploaded" for fate in EXPECTED.values())
    failed = len(EXPECTED) - uploaded
    no_thumbnail = sum(fate.thumbnail_status == "failed" for fate in EXPECTED.values())
    generated = uploaded - no_thumbnail
    assert (first.returncode, second.returncode) == (1, 1)
    assert "Traceback" not in first.stderr + second.stderr
    first_summary = first.stdout.splitlines()[-1]
    assert first_summary.startswith(
        f"{len(EXPECTED)} files to {bucket} at {rclone_s3.url}: "
        f"{uploaded} uploaded, 0 duplicate, {failed} failed "
        f"(thumbnails: {generated} generated, {no_thumbnail} failed, {failed} skipped)"
    ), first_summary
    second_summary = second.stdout.splitlines()[-1]
    assert f": 0 uploaded, {uploaded} duplicate, {failed} failed" in second_summary
    # Names with newlines or terminal escapes print escaped, on one line, never raw.
    assert "\x1b" not in second.stdout
    assert all(
        line.startswith(
            (
                "uploaded",
                "duplicate",
                "failed",
                "cancelled",
                " ",
                "1",
                "2",
                "3",
                "4",
                "5",
                "6",
                "7",
                "8",
                "9",
            )
        )
        for line in second.stdout.splitlines()
    ), second.stdout
    # Failures name the file and give the reason on the same line.
    assert "failed     " + display_path(made.files["fifo"]) + ": This is not a regular file" in (
        second.stdout
    )
    assert bucket_objects(rclone_s3, bucket) == before


# --- 10,000 tiny files in one folder ---------------------------------------------------


def test_ten_thousand_tiny_files_in_one_folder_through_the_cli(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    """1,000 distinct tiny photos, 8 copies of each, and 1,000 notes named .jpg.

    Measured here (2 cores): about 17-20 s. Every distinct photo costs about 13 ms of
    CPU in the uploader (five S3 requests and a thumbnail), so 10,000 distinct ones would
    take over two minutes; the in-process test below sends 10,000 distinct ones instead.
    """
    folder = tmp_path / "scans"
    photos = corpus.many_tiny_photos(folder, 1_000)
    for photo in photos:
        data = photo.read_bytes()
        for copy in range(1, 9):
            (folder / f"{photo.stem} copy {copy}.png").write_bytes(data)
    for index in range(1_000):
        (folder / f"note_{index:04d}.jpg").write_text(f"Box {index}: coins, unsorted.\n")
    assert len(os.listdir(folder)) == 10_000
    bucket = fresh_bucket(rclone_s3)

    started = time.monotonic()
    common = ("--bucket", bucket, "--endpoint-url", rclone_s3.url)
    result = run_cli(folder, *common, "--jsonl", "--concurrency", "16", endpoint=rclone_s3)
    elapsed = time.monotonic() - started
    print(f"10,000 tiny files through the CLI: {elapsed:.1f} s")

    assert result.returncode == 1
    assert result.stderr == ""
    lines = json_records(result.stdout)
    assert len(lines) == len({line["path"] for line in lines}) == 10_000
    fates = Counter((line["status"], line["thumbnail_status"]) for line in lines)
    assert fates == {
        ("uploaded", "generated"): 1_000,
        ("duplicate", "skipped"): 8_000,
        ("failed", "skipped"): 1_000,
    }
    for line in lines:
        if line["status"] == "failed":
            assert line["error"] == "This file is not a supported image (it looks like text)."
    # Each content was sent once; its copies point at that one key.
    by_content: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        if line["sha256"]:
            by_content.setdefault(line["sha256"], []).append(line)
    assert len(by_content) == 1_000
    for group in by_content.values():
        assert sorted(line["status"] for line in group) == ["duplicate"] * 8 + ["uploaded"]
        assert len({line["key"] for line in group}) == 1
    # Byte-identical without downloading 1,000 objects: the server's ETag is the MD5.
    objects = bucket_objects(rclone_s3, bucket)
    originals = {line["key"]: line for line in lines if line["status"] == "uploaded"}
    for key, line in originals.items():
        local = (folder / Path(line["path"]).name).read_bytes()
        assert objects[key]["ETag"].strip('"') == hashlib.md5(local).hexdigest()
    thumbnails = {line["thumbnail_key"] for line in originals.values()}
    index_objects = {key for key in objects if key.startswith(INDEX_PREFIX)}
    sidecars = {line["metadata_key"] for line in originals.values()}
    assert set(objects) == set(originals) | thumbnails | sidecars | index_objects
    assert len(index_objects) == 1_000


def test_ten_thousand_distinct_tiny_photos_through_walker_and_pipeline(tmp_path: Path) -> None:
    """The real walker and pipeline (in-memory store): every file gets its fate and the
    event loop keeps running. (Batching of the walk itself: tests/core/test_walker.py.)"""
    photos = corpus.many_tiny_photos(tmp_path / "one folder", 10_000)
    store = FakeStore()

    async def main() -> tuple[list[FileSnapshot], list[float]]:
        loop = asyncio.get_running_loop()
        lags: list[float] = []
        tick = 0.01
        expected = loop.time() + tick

        def on_tick() -> None:
            nonlocal expected
            now = loop.time()
            lags.append(now - expected)
            expected = now + tick
            handle[0] = loop.call_later(tick, on_tick)

        handle = [loop.call_later(tick, on_tick)]
        with ThreadPoolExecutor(8) as io_pool, ThreadPoolExecutor(2) as cpu_pool:
            pipeline = UploadPipeline(
                store,
                EngineSettings(concurrency=8),
                prefix="scans/",
                io_executor=io_pool,
                cpu_executor=cpu_pool,
            )
            try:
                pipeline.add_paths([tmp_path / "one folder"])
                await pipeline.wait_idle()
                snapshots = pipeline.snapshots()
            finally:
                await pipeline.aclose()
                handle[0].cancel()
        return snapshots, lags

    started = time.monotonic()
    snapshots, lags = asyncio.run(main())
    elapsed = time.monotonic() - started
    print(
        f"10,000 distinct tiny photos through walker + pipeline: {elapsed:.1f} s, "
        f"worst event-loop lag {max(lags) * 1000:.0f} ms"
    )

    assert len(snapshots) == 10_000
    assert [s.path for s in snapshots] == photos  # walked once each, in natural order
    assert {(s.state, s.thumbnail_state) for s in snapshots} == {
        (FileState.UPLOADED, ThumbnailState.GENERATED)
    }
    for snap, photo in zip(snapshots, photos, strict=True):
        assert snap.key is not None and snap.thumbnail_key is not None
        assert store.objects[snap.key].data == photo.read_bytes()
        assert store.objects[snap.thumbnail_key].content_type == "image/jpeg"
    assert len(store.objects) == 40_000  # original, thumbnail, sidecar and index entry
    # The event loop was never held up for long while 10,000 files went through.
    assert max(lags) < 0.5
