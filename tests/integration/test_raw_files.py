"""A collector's RAW+JPEG folder, uploaded with `python -m app upload` to real servers:
every RAW kept byte for byte under its own extension and content type, thumbnailed from
its embedded preview, or failed in plain words when it has none."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from app.core.raw import NO_PREVIEW
from tests.helpers import corpus, rawfiles
from tests.helpers.cli import REPO, credentials, run_upload
from tests.helpers.servers import S3Endpoint

pytestmark = pytest.mark.integration


def upload_raw_folder_and_check(
    endpoint: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = fresh_bucket(endpoint)
    folder = tmp_path / "coins"
    folder.mkdir()
    raws = {
        "IMG_0001.CR2": (rawfiles.cr2(folder / "IMG_0001.CR2", orientation=6), "image/x-canon-cr2"),
        "DSC_0002.NEF": (
            rawfiles.maker_raw(folder / "DSC_0002.NEF", "NIKON CORPORATION", orientation=8),
            "image/x-nikon-nef",
        ),
        "DSCF0003.RAF": (rawfiles.raf(folder / "DSCF0003.RAF"), "image/x-fuji-raf"),
    }
    bare = rawfiles.pidng_dng(folder / "scan.dng")
    jpeg = corpus.jpeg_photo(folder / "IMG_0001.JPG", (300, 200))

    common = [folder, "--bucket", bucket, "--endpoint-url", endpoint.url, "--jsonl"]
    env = {**credentials(endpoint), "PHOTO_UPLOADER_DATA_DIR": str(tmp_path / "data")}
    result = run_upload(*common, env=env)

    assert result.returncode == 0, result.stderr  # a missing thumbnail is not a failure
    assert "Traceback" not in result.stderr and "TIFF" not in result.stderr
    seen = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    client = endpoint.client()
    for name, (path, content_type) in raws.items():
        rec = seen[name]
        assert (rec["status"], rec["thumbnail_status"]) == ("uploaded", "generated"), rec
        assert rec["key"].endswith(path.suffix.lower())
        stored = client.get_object(Bucket=bucket, Key=rec["key"])
        assert stored["ContentType"] == content_type
        assert hashlib.sha256(stored["Body"].read()).hexdigest() == rec["sha256"]
        thumb = client.get_object(Bucket=bucket, Key=rec["thumbnail_key"])["Body"].read()
        with Image.open(io.BytesIO(thumb)) as image:
            assert image.format == "JPEG" and image.width > image.height  # turned upright
    dng = seen[bare.name]
    assert (dng["status"], dng["thumbnail_status"]) == ("uploaded", "failed")
    assert dng["thumbnail_error"] == NO_PREVIEW
    assert dng["key"].endswith(".dng")
    assert client.head_object(Bucket=bucket, Key=dng["key"])["ContentType"] == "image/x-adobe-dng"
    assert seen[jpeg.name]["key"].endswith(".jpg")  # the JPEG of a RAW+JPEG pair stays apart

    # Again, on the same computer: the RAW without a preview says why once more (it used
    # to say "skipped"), and `history --failed` lists it for its thumbnail.
    again = run_upload(*common, env=env)
    assert again.returncode == 0, again.stderr
    second = {Path(r["path"]).name: r for r in map(json.loads, again.stdout.splitlines())}
    assert {r["status"] for r in second.values()} == {"duplicate"}
    assert second["IMG_0001.CR2"]["thumbnail_status"] == "skipped"  # its thumbnail is there
    assert (second[bare.name]["thumbnail_status"], second[bare.name]["thumbnail_error"]) == (
        "failed",
        NO_PREVIEW,
    )
    history = subprocess.run(
        [sys.executable, "-m", "app", "history", "--failed", "--jsonl"],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert history.returncode == 0, history.stderr
    listed = {Path(json.loads(line)["path"]).name for line in history.stdout.splitlines()}
    assert listed == {bare.name}


def test_raw_files_upload_to_rclone(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    upload_raw_folder_and_check(rclone_s3, fresh_bucket, tmp_path)


def test_raw_files_upload_to_seaweedfs(
    seaweedfs_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    upload_raw_folder_and_check(seaweedfs_s3, fresh_bucket, tmp_path)
