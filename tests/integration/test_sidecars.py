"""Metadata that travels: `python -m app upload` writes a JSON sidecar beside each
original on real servers, with the item the collector named and no GPS unless asked."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.helpers import corpus
from tests.helpers.cli import credentials, run_upload
from tests.helpers.servers import S3Endpoint

pytestmark = pytest.mark.integration


def upload(endpoint: S3Endpoint, bucket: str, *args: str | Path) -> dict[str, dict[str, Any]]:
    result = run_upload(
        *args, "--bucket", bucket, "--endpoint-url", endpoint.url, "--jsonl",
        env=credentials(endpoint),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}


def sidecars_travel(
    endpoint: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    folder = tmp_path / "Coins" / "1921"
    folder.mkdir(parents=True)
    corpus.jpeg_photo(folder / "obverse.jpg", exif_gps=True)
    bucket = fresh_bucket(endpoint)

    rec = upload(
        endpoint, bucket, tmp_path / "Coins",
        "--item", "Morgan 1921", "--set", "view=obverse", "--set", "primary=yes",
    )["obverse.jpg"]  # fmt: skip

    assert rec["metadata_key"] == rec["key"] + ".json"
    assert rec["derivatives"] == {"thumbnail": rec["thumbnail_key"], "preview": None}
    stored = endpoint.client().get_object(Bucket=bucket, Key=rec["metadata_key"])
    assert stored["ContentType"] == "application/json"
    sidecar = json.loads(stored["Body"].read())
    assert sidecar["schema"] == "photo-uploader/metadata/1"
    assert (sidecar["key"], sidecar["sha256"], sidecar["size"]) == (
        rec["key"], rec["sha256"], rec["size"],
    )  # fmt: skip
    assert (sidecar["original_name"], sidecar["original_folder"]) == ("obverse.jpg", "Coins/1921")
    assert sidecar["item"] == {
        "id": "Morgan 1921", "title": None, "view": "obverse", "notes": None, "primary": True,
    }  # fmt: skip
    assert sidecar["camera"]["make"] == "TestCam" and "gps" not in sidecar
    assert sidecar["uploaded_at"].endswith("Z") and sidecar["app"].startswith("photo-uploader")

    kept = fresh_bucket(endpoint)
    rec = upload(endpoint, kept, tmp_path / "Coins", "--keep-gps")["obverse.jpg"]
    body = endpoint.client().get_object(Bucket=kept, Key=rec["metadata_key"])["Body"].read()
    sidecar = json.loads(body)
    assert sidecar["gps"] == {"latitude": 48.8580556, "longitude": 2.2944444}
    assert sidecar["item"]["id"] == "Coins"  # the dropped folder's name, by default

    plain = fresh_bucket(endpoint)
    rec = upload(endpoint, plain, tmp_path / "Coins", "--no-folder-item")["obverse.jpg"]
    body = endpoint.client().get_object(Bucket=plain, Key=rec["metadata_key"])["Body"].read()
    assert json.loads(body)["item"]["id"] is None  # unless the collector wants it


def test_sidecars_travel_with_photos_on_rclone(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    sidecars_travel(rclone_s3, fresh_bucket, tmp_path)


def test_sidecars_travel_with_photos_on_seaweedfs(
    seaweedfs_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    sidecars_travel(seaweedfs_s3, fresh_bucket, tmp_path)


def test_an_item_field_that_does_not_exist_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "a.jpg")
    result = run_upload(photo, "--set", "colour=red")
    assert result.returncode == 2
    assert "--set takes FIELD=VALUE with FIELD one of title, view, notes, primary" in result.stderr
    assert "Traceback" not in result.stderr


def test_keys_named_by_item_and_date_taken_and_they_never_move(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    coins = tmp_path / "Morgan 1921"
    coins.mkdir()
    dated = corpus.jpeg_photo(coins / "obverse.jpg", taken="2019:07:14 09:30:00", seed=1)
    corpus.jpeg_photo(coins / "reverse.jpg", seed=2)  # no date in its EXIF
    bucket = fresh_bucket(rclone_s3)
    template = "{prefix}{item}/{taken:%Y/%m}/{stem}-{sha8}{ext}"

    records = upload(rclone_s3, bucket, coins, "--key-template", template, "--prefix", "coins")

    obverse, reverse = records["obverse.jpg"], records["reverse.jpg"]
    assert obverse["key"] == f"coins/Morgan 1921/2019/07/obverse-{obverse['sha256'][:8]}.jpg"
    assert reverse["key"] == f"coins/Morgan 1921/undated/reverse-{reverse['sha256'][:8]}.jpg"
    client = rclone_s3.client()

    def sidecar_of(record: dict[str, Any]) -> dict[str, Any]:
        body = client.get_object(Bucket=bucket, Key=record["metadata_key"])["Body"].read()
        return dict(json.loads(body))

    sidecar = sidecar_of(obverse)
    assert sidecar["taken_at"] == "2019-07-14T09:30:00" and sidecar["item"]["id"] == "Morgan 1921"

    # The same photo dropped again under another item is a duplicate at its first key,
    # and its sidecar still names the item it was uploaded as.
    elsewhere = tmp_path / "Peace 1922"
    elsewhere.mkdir()
    (elsewhere / "copy.jpg").write_bytes(dated.read_bytes())
    again = upload(rclone_s3, bucket, elsewhere, "--key-template", template, "--prefix", "coins")
    assert again["copy.jpg"]["status"] == "duplicate"
    assert again["copy.jpg"]["key"] == obverse["key"]
    assert sidecar_of(obverse)["item"]["id"] == "Morgan 1921"


def previews_beside_thumbnails(
    endpoint: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    folder = tmp_path / "Folios"
    folder.mkdir()
    corpus.jpeg_photo(folder / "folio 12 recto.jpg", (3000, 2000), seed=3)
    bucket = fresh_bucket(endpoint)
    client = endpoint.client()

    plain = upload(endpoint, bucket, folder)["folio 12 recto.jpg"]  # off by default
    assert plain["derivatives"]["preview"] is None
    listed = client.list_objects_v2(Bucket=bucket, Prefix="previews/").get("Contents", [])
    assert listed == []

    rec = upload(endpoint, bucket, folder, "--preview-size", "1200")["folio 12 recto.jpg"]
    assert rec["status"] == "duplicate" and rec["key"] == plain["key"]  # keys never move
    preview_key = rec["derivatives"]["preview"]
    assert preview_key == f"previews/folio 12 recto-{rec['sha256'][:8]}.jpg"
    stored = client.get_object(Bucket=bucket, Key=preview_key)
    assert stored["ContentType"] == "image/jpeg"
    with Image.open(io.BytesIO(stored["Body"].read())) as preview:
        assert preview.size == (1200, 800) and "exif" not in preview.info
    body = client.get_object(Bucket=bucket, Key=rec["metadata_key"])["Body"].read()
    assert json.loads(body)["derivatives"] == {
        "thumbnail": plain["thumbnail_key"],
        "preview": preview_key,
    }

    webp = fresh_bucket(endpoint)
    rec = upload(endpoint, webp, folder, "--preview-format", "webp")["folio 12 recto.jpg"]
    stored = client.get_object(Bucket=webp, Key=rec["derivatives"]["preview"])
    assert stored["ContentType"] == "image/webp"
    with Image.open(io.BytesIO(stored["Body"].read())) as preview:
        assert (preview.format, preview.size) == ("WEBP", (1600, 1067))


def test_previews_beside_thumbnails_on_rclone(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    previews_beside_thumbnails(rclone_s3, fresh_bucket, tmp_path)


def test_previews_beside_thumbnails_on_seaweedfs(
    seaweedfs_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    previews_beside_thumbnails(seaweedfs_s3, fresh_bucket, tmp_path)


def test_a_preview_size_out_of_range_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    result = run_upload(photo, "--preview-size", "50", "--bucket", "b")
    assert result.returncode == 2
    assert "Preview size must be a whole number from 320 to 8192 pixels" in result.stderr
    assert "Traceback" not in result.stderr
