"""`python -m app upload`, started as a user would, against real local S3 servers."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.helpers import corpus
from tests.helpers.cli import credentials, run_upload
from tests.helpers.servers import S3Endpoint

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str | Path, env_extra: dict[str, str] | None = None, data_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(env_extra or {})
    if data_dir is not None:
        env["PHOTO_UPLOADER_DATA_DIR"] = str(data_dir)
    return run_upload(*args, env=env)


def records(stdout: str) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return {Path(r["path"]).name: r for r in lines}


def bucket_listing(endpoint: S3Endpoint, bucket: str) -> dict[str, tuple[str, Any]]:
    client = endpoint.client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {
        obj["Key"]: (obj["ETag"], obj["LastModified"])
        for page in pages
        for obj in page.get("Contents", [])
    }


def good_photos(folder: Path, count: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    photos = [corpus.jpeg_photo(folder / f"coin_{n}.jpg", (900, 600), seed=n) for n in range(count)]
    photos.append(corpus.oriented_jpeg(folder / "rotated.jpg", 6, (400, 200)))
    photos.append(corpus.png_rgba(folder / "stamp.png", (500, 300)))
    return photos


def upload_mixed_folder_and_check(
    endpoint: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = fresh_bucket(endpoint)
    folder = tmp_path / "collection"
    photos = good_photos(folder)
    corpus.truncated_jpeg(folder / "cut.jpg")
    corpus.text_named_jpg(folder / "notes.jpg")
    corpus.zero_byte(folder / "empty.jpg")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    common = ["--bucket", bucket, "--endpoint-url", endpoint.url, "--prefix", "coins"]

    result = run_cli(folder, *common, "--jsonl", env_extra=credentials(endpoint))

    assert result.returncode == 1, result.stderr  # some files failed
    assert "Traceback" not in result.stderr
    seen = records(result.stdout)
    assert set(seen) == {p.name for p in photos} | {"cut.jpg", "notes.jpg", "empty.jpg"}
    client = endpoint.client()
    for photo in photos:
        rec = seen[photo.name]
        assert rec["status"] == "uploaded", rec
        assert rec["thumbnail_status"] == "generated"
        assert rec["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
        assert rec["key"].startswith("coins/") and rec["key"].endswith((".jpg", ".png"))
        body = client.get_object(Bucket=bucket, Key=rec["key"])["Body"].read()
        assert body == photo.read_bytes()
        thumb = client.get_object(Bucket=bucket, Key=rec["thumbnail_key"])
        assert thumb["ContentType"] == "image/jpeg"
        with Image.open(io.BytesIO(thumb["Body"].read())) as im:
            assert max(im.size) <= 300
    # rotated.jpg stores 200x400 pixels tagged "rotate 90": a viewer sees 400x200.
    with Image.open(folder / "rotated.jpg") as stored:
        assert stored.size == (200, 400)
    thumb_key = seen["rotated.jpg"]["thumbnail_key"]
    thumb_bytes = client.get_object(Bucket=bucket, Key=thumb_key)["Body"].read()
    with Image.open(io.BytesIO(thumb_bytes)) as im:
        assert im.size == (300, 150)
    cut = seen["cut.jpg"]
    assert (cut["status"], cut["thumbnail_status"]) == ("uploaded", "failed")
    assert cut["thumbnail_error"] and cut["thumbnail_key"] is None
    for name in ("notes.jpg", "empty.jpg"):
        rec = seen[name]
        assert (rec["status"], rec["thumbnail_status"]) == ("failed", "skipped")
        assert rec["error"] and rec["key"] is None

    # A second computer (empty local state) sends nothing: every photo is a duplicate.
    before = bucket_listing(endpoint, bucket)
    again = run_cli(
        *photos, *common, "--jsonl", env_extra=credentials(endpoint), data_dir=tmp_path / "pc2"
    )
    assert again.returncode == 0, again.stderr
    second = records(again.stdout)
    assert {r["status"] for r in second.values()} == {"duplicate"}
    assert {r["thumbnail_status"] for r in second.values()} == {"skipped"}
    assert all(second[p.name]["key"] == seen[p.name]["key"] for p in photos)
    assert bucket_listing(endpoint, bucket) == before


def test_cli_uploads_a_mixed_folder_to_rclone(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    upload_mixed_folder_and_check(rclone_s3, fresh_bucket, tmp_path)


def test_cli_uploads_a_mixed_folder_to_seaweedfs(
    seaweedfs_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    upload_mixed_folder_and_check(seaweedfs_s3, fresh_bucket, tmp_path)


def test_renamed_copy_in_the_same_batch_is_sent_once(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = fresh_bucket(rclone_s3)
    photo = corpus.jpeg_photo(tmp_path / "a.jpg", (300, 200))
    (tmp_path / "copy of a.jpg").write_bytes(photo.read_bytes())
    result = run_cli(
        tmp_path / "a.jpg",
        tmp_path / "copy of a.jpg",
        "--bucket",
        bucket,
        "--endpoint-url",
        rclone_s3.url,
        "--jsonl",
        env_extra=credentials(rclone_s3),
    )
    assert result.returncode == 0, result.stderr
    statuses = sorted(r["status"] for r in records(result.stdout).values())
    assert statuses == ["duplicate", "uploaded"]
    photo_keys = [k for k in bucket_listing(rclone_s3, bucket) if not k.startswith(".")]
    assert len(photo_keys) == 3  # one original, its sidecar, one thumbnail


def test_default_destination_is_the_local_bucket_and_it_persists(tmp_path: Path) -> None:
    data = tmp_path / "data"
    photo = corpus.jpeg_photo(tmp_path / "first coin.jpg", (640, 480))

    first = run_cli(photo, data_dir=data)
    assert first.returncode == 0, first.stderr
    assert "uploaded" in first.stdout and "local test bucket" in first.stdout
    stored = list((data / "local-bucket" / "photos").glob("first coin-*.jpg"))
    assert [p.read_bytes() for p in stored] == [photo.read_bytes()]
    creds = data / "local-credentials.json"
    assert creds.stat().st_mode & 0o777 == 0o600

    second = run_cli(photo, "--jsonl", data_dir=data)  # a new server process, same folder
    assert second.returncode == 0, second.stderr
    (rec,) = records(second.stdout).values()
    assert rec["status"] == "duplicate"


def test_unknown_bucket_is_exit_2_with_one_sentence(rclone_s3: S3Endpoint, tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    result = run_cli(
        photo,
        "--bucket",
        "no-such-bucket-here",
        "--endpoint-url",
        rclone_s3.url,
        env_extra=credentials(rclone_s3),
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "no-such-bucket-here" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_credentials_are_exit_2_with_one_sentence(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = fresh_bucket(rclone_s3)
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    result = run_cli(
        photo,
        "--bucket",
        bucket,
        "--endpoint-url",
        rclone_s3.url,
        env_extra={"AWS_ACCESS_KEY_ID": "wrong-key", "AWS_SECRET_ACCESS_KEY": "wrong-secret"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "credentials" in result.stderr or "key" in result.stderr
    assert "wrong-secret" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_usage_errors_are_exit_2(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--endpoint-url", "http://127.0.0.1:1")
    assert result.returncode == 2
    assert "--endpoint-url needs --bucket" in result.stderr
