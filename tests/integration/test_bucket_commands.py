"""The bucket from the command line, on real servers (rclone serve s3, SeaweedFS and
moto's server): `list`, `share`, `check [--repair] [--deep]` and `delete`, as a
collector or a script runs them; and what a signal does to them."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.helpers import corpus
from tests.helpers.cli import REPO, credentials, run_app, run_upload
from tests.helpers.faultproxy import Fault, FaultProxy
from tests.helpers.servers import S3Endpoint

pytestmark = pytest.mark.integration

INDEX = ".photo-uploader/sha256/"


@pytest.fixture(params=["rclone_s3", "seaweedfs_s3", "moto_s3"])
def endpoint(request: pytest.FixtureRequest) -> S3Endpoint:
    endpoint: S3Endpoint = request.getfixturevalue(request.param)
    return endpoint


class Bucket:
    """One fresh bucket on a server, with the commands pointed at it."""

    def __init__(self, endpoint: S3Endpoint, name: str) -> None:
        self.endpoint, self.name = endpoint, name
        self.client = endpoint.client()

    def run(self, command: str, *args: str | Path, stdin: str | None = None) -> Any:
        where = ("--bucket", self.name, "--endpoint-url", self.endpoint.url)
        return run_app(command, *args, *where, env=credentials(self.endpoint), stdin=stdin)

    def upload(self, *args: str | Path) -> dict[str, dict[str, Any]]:
        result = run_upload(
            *args, "--bucket", self.name, "--endpoint-url", self.endpoint.url, "--jsonl",
            env=credentials(self.endpoint),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}

    def listed(self, *args: str) -> list[dict[str, Any]]:
        result = self.run("list", "--jsonl", *args)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    def stored(self) -> set[str]:
        keys: set[str] = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            keys.update(item["Key"] for item in page.get("Contents", []))
        return keys

    def body(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.name, Key=key)["Body"].read())

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=key)


@pytest.fixture
def bucket(endpoint: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str]) -> Bucket:
    return Bucket(endpoint, fresh_bucket(endpoint))


def photos(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(names):
        corpus.jpeg_photo(folder / name, seed=seed + 1)
    return folder


def test_list_shows_each_photo_with_its_parts_and_names_of_any_kind(
    bucket: Bucket, tmp_path: Path
) -> None:
    names = ("Münze 1 + Rückseite.jpg", "coin a.jpg", "硬币.jpg")
    records = bucket.upload(photos(tmp_path / "Morgan 1921", *names))

    rows = {row["key"]: row for row in bucket.listed()}

    assert set(rows) == {records[name]["key"] for name in names}
    for name in names:
        record, row = records[name], rows[records[name]["key"]]
        assert (row["sha256"], row["size"], row["content_type"]) == (
            record["sha256"], record["size"], "image/jpeg",
        )  # fmt: skip
        assert row["thumbnail_key"] == record["thumbnail_key"]
        assert row["metadata_key"] == record["key"] + ".json"
        assert row["item"]["id"] == "Morgan 1921"
        assert row["uploaded_at"].endswith("Z")
    assert bucket.listed("--item", "Morgan 1921") == list(rows.values())
    assert bucket.listed("--item", "another coin") == []
    human = bucket.run("list")
    assert human.returncode == 0
    assert human.stdout.splitlines()[-1].startswith(f"3 photos in {bucket.name} at http")


def test_check_finds_a_lost_thumbnail_and_index_entry_and_repair_restores_them(
    bucket: Bucket, tmp_path: Path
) -> None:
    records = bucket.upload(photos(tmp_path / "coins", "obverse.jpg", "reverse.jpg"))
    obverse, reverse = records["obverse.jpg"], records["reverse.jpg"]
    entry_key = INDEX + reverse["sha256"] + ".json"
    bucket.delete(obverse["thumbnail_key"])
    bucket.delete(entry_key)

    found = bucket.run("check")

    assert found.returncode == 1, found.stderr
    assert f"{obverse['key']} has lost its thumbnail" in found.stdout
    assert f"{reverse['key']} is missing from the duplicate index" in found.stdout
    assert "2 problems" in found.stdout.splitlines()[-1]

    repaired = bucket.run("check", "--repair")

    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "All is well: 2 photos" in repaired.stdout.splitlines()[-1]
    with Image.open(io.BytesIO(bucket.body(obverse["thumbnail_key"]))) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == Image.open(tmp_path / "coins" / "obverse.jpg").size  # (small)
    assert json.loads(bucket.body(entry_key))["key"] == reverse["key"]
    again = bucket.upload(tmp_path / "coins" / "reverse.jpg")["reverse.jpg"]
    assert again["status"] == "duplicate"  # the index answers for it again
    assert bucket.run("check").returncode == 0


def test_a_share_link_opens_the_original_with_a_plain_http_client(
    bucket: Bucket, tmp_path: Path
) -> None:
    record = bucket.upload(photos(tmp_path / "coins", "obverse.jpg"))["obverse.jpg"]

    shared = bucket.run("share", record["key"], "--expires", "7d")

    assert shared.returncode == 0, shared.stderr
    url = shared.stdout.strip()
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == (tmp_path / "coins" / "obverse.jpg").read_bytes()
    assert "Anyone with this link can open the original until" in shared.stderr
    assert "Traceback" not in shared.stderr


def test_share_says_when_the_original_keeps_its_gps_position(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = Bucket(rclone_s3, fresh_bucket(rclone_s3))
    (tmp_path / "coins").mkdir()
    corpus.jpeg_photo(tmp_path / "coins" / "gps.jpg", exif_gps=True)
    corpus.jpeg_photo(tmp_path / "coins" / "plain.jpg", seed=3)
    records = bucket.upload(tmp_path / "coins")  # (no --keep-gps: the sidecar has none)

    with_gps = bucket.run("share", records["gps.jpg"]["key"])
    without = bucket.run("share", records["plain.jpg"]["key"])
    missing = bucket.run("share", "no/such/photo.jpg")
    wrong = bucket.run("share", records["plain.jpg"]["key"], "--expires", "2h")

    assert "still holds the GPS position" in with_gps.stderr
    assert without.returncode == 0 and "GPS" not in without.stderr
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "photo-uploader: There is no photo at no/such/photo.jpg in this bucket."
    )
    assert wrong.returncode == 2 and "invalid choice: '2h'" in wrong.stderr


def test_delete_leaves_nothing_of_the_photo_and_touches_nothing_else(
    bucket: Bucket, tmp_path: Path
) -> None:
    records = bucket.upload(photos(tmp_path / "coins", "obverse.jpg", "reverse.jpg"))
    bucket.client.put_object(Bucket=bucket.name, Key="notes.txt", Body=b"mine")
    before = bucket.stored()
    gone = records["obverse.jpg"]
    parts = {
        gone["key"], gone["thumbnail_key"], gone["key"] + ".json",
        INDEX + gone["sha256"] + ".json",
    }  # fmt: skip
    assert parts <= before

    unasked = bucket.run("delete", gone["key"])  # no terminal to ask on, no --yes
    assert unasked.returncode == 2 and "Add --yes" in unasked.stderr
    assert bucket.stored() == before

    deleted = bucket.run("delete", gone["key"], "--yes")

    assert deleted.returncode == 0, deleted.stderr
    assert bucket.stored() == before - parts
    assert [row["key"] for row in bucket.listed()] == [records["reverse.jpg"]["key"]]
    assert bucket.run("check").returncode == 0
    unknown = bucket.run("delete", gone["key"], "--yes")
    assert unknown.returncode == 1
    assert f"{gone['key']} is not a photo in {bucket.name} at http" in unknown.stderr


def test_leftovers_of_a_photo_deleted_elsewhere_are_removed_only_when_allowed(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = Bucket(rclone_s3, fresh_bucket(rclone_s3))
    record = bucket.upload(photos(tmp_path / "coins", "obverse.jpg"))["obverse.jpg"]
    bucket.delete(record["key"])  # another tool deleted the original only

    found = bucket.run("check", "--jsonl")
    assert found.returncode == 1
    (problem,) = [json.loads(line) for line in found.stdout.splitlines()]
    assert problem["problem"] == "entry_dangling" and problem["key"] == record["key"]
    assert set(problem["removes"]) == {
        INDEX + record["sha256"] + ".json", record["thumbnail_key"], record["key"] + ".json",
    }  # fmt: skip

    kept = bucket.run("check", "--repair")  # stdin is no terminal: nothing is removed
    assert kept.returncode == 1
    assert "leftovers are not removed without asking: add --yes" in kept.stderr
    assert len(bucket.stored()) == 3

    removed = bucket.run("check", "--repair", "--yes")
    assert removed.returncode == 0, removed.stdout
    assert bucket.stored() == set()


def test_a_photo_another_tool_uploaded_is_adopted_by_repair(bucket: Bucket, tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "scan 7.jpg", seed=9)
    bucket.client.put_object(Bucket=bucket.name, Key="scans/scan 7.jpg", Body=photo.read_bytes())

    found = bucket.run("check")
    assert found.returncode == 1
    assert "scans/scan 7.jpg was not uploaded by Photo Uploader" in found.stdout

    adopted = bucket.run("check", "--repair")

    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    (row,) = bucket.listed()
    assert row["key"] == "scans/scan 7.jpg" and row["thumbnail_key"] in bucket.stored()
    assert row["metadata_key"] == "scans/scan 7.jpg.json"
    sidecar = json.loads(bucket.body(row["metadata_key"]))
    assert sidecar["sha256"] == row["sha256"] and sidecar["width"] == photo_width(photo)
    assert bucket.upload(photo)["scan 7.jpg"]["status"] == "duplicate"


def photo_width(path: Path) -> int:
    with Image.open(path) as image:
        return image.width


def test_a_deep_check_finds_an_original_whose_bytes_changed(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = Bucket(rclone_s3, fresh_bucket(rclone_s3))
    record = bucket.upload(photos(tmp_path / "coins", "obverse.jpg"))["obverse.jpg"]
    body = bytearray(bucket.body(record["key"]))
    body[-10] ^= 0xFF  # same size, other bytes
    bucket.client.put_object(Bucket=bucket.name, Key=record["key"], Body=bytes(body))

    assert bucket.run("check").returncode == 0  # a quick check reads no originals
    deep = bucket.run("check", "--deep")

    assert deep.returncode == 1
    assert f"{record['key']} no longer has the content it was uploaded with" in deep.stdout


def test_older_photos_without_metadata_are_one_line_and_repair_writes_them(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = Bucket(rclone_s3, fresh_bucket(rclone_s3))
    records = bucket.upload(photos(tmp_path / "coins", "a.jpg", "b.jpg", "c.jpg"))
    for record in records.values():  # as photos uploaded before sidecars existed
        bucket.delete(record["key"] + ".json")
        entry_key = INDEX + record["sha256"] + ".json"
        entry = json.loads(bucket.body(entry_key))
        del entry["metadata_key"]
        bucket.client.put_object(Bucket=bucket.name, Key=entry_key, Body=json.dumps(entry))

    found = bucket.run("check")

    assert found.returncode == 1
    assert found.stdout.splitlines()[0].startswith(
        "older without sidecar: Older photos without a metadata file (3)"
    )
    assert "1 problem" in found.stdout.splitlines()[-1]
    assert bucket.run("check", "--repair").returncode == 0
    sidecar = json.loads(bucket.body(records["a.jpg"]["key"] + ".json"))
    assert sidecar["sha256"] == records["a.jpg"]["sha256"]


def test_the_commands_default_to_the_local_test_bucket(tmp_path: Path) -> None:
    uploaded = run_upload(photos(tmp_path / "coins", "obverse.jpg"), "--jsonl")
    assert uploaded.returncode == 0, uploaded.stderr
    record = json.loads(uploaded.stdout)

    listed = run_app("list", "--jsonl")
    shared = run_app("share", record["key"])
    checked = run_app("check")

    assert [json.loads(line)["key"] for line in listed.stdout.splitlines()] == [record["key"]]
    assert "works only on this computer" in shared.stderr
    assert checked.returncode == 0 and "All is well: 1 photo in" in checked.stdout
    assert run_app("delete", record["key"], "--yes").returncode == 0
    assert run_app("list", "--jsonl").stdout == ""


def test_destination_flags_without_a_bucket_are_a_usage_error() -> None:
    result = run_app("check", "--endpoint-url", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "photo-uploader: --endpoint-url needs --bucket (without it, photos go locally)."
    )


# -- signals: Ctrl+C, SIGTERM and SIGHUP as for `upload` -------------------------------


def started(command: str, *args: str, endpoint: S3Endpoint, url: str, bucket: str) -> Any:
    """`python -m app COMMAND ... --bucket B --endpoint-url URL`, running."""
    return subprocess.Popen(
        [sys.executable, "-m", "app", command, *args, "--bucket", bucket, "--endpoint-url", url],
        cwd=REPO,
        env={**os.environ, **credentials(endpoint)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def until_stalled(proxy: FaultProxy, process: Any) -> None:
    """Wait (on the proxy's log, not for a time) until a request of `process` stalls."""
    deadline = time.monotonic() + 30
    while proxy.count(action="stall") == 0:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no request stalled"
        time.sleep(0.02)  # another process: polled, nothing to await


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=str)
def test_a_signal_stops_list_with_one_sentence_and_exit_130(
    rclone_s3: S3Endpoint,
    fresh_bucket: Callable[[S3Endpoint], str],
    tmp_path: Path,
    sig: signal.Signals,
) -> None:
    bucket = Bucket(rclone_s3, fresh_bucket(rclone_s3))
    bucket.upload(photos(tmp_path / "coins", "obverse.jpg", "reverse.jpg"))
    with FaultProxy(rclone_s3.url, lifetime=90, stall_limit=60) as proxy:
        proxy.plan(Fault("stall", times=None, method="GET", path_contains=".json"))
        listing = started("list", endpoint=rclone_s3, url=proxy.url, bucket=bucket.name)
        until_stalled(proxy, listing)  # it is reading the metadata files

        started_at = time.monotonic()
        listing.send_signal(sig)
        out, err = listing.communicate(timeout=30)

    assert listing.returncode == 130
    assert time.monotonic() - started_at < 10  # not held by the request that stalled
    assert out == ""
    assert err == "photo-uploader: interrupted while reading the bucket; nothing was listed.\n"


def test_ctrl_c_in_a_delete_says_how_many_were_deleted(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = Bucket(rclone_s3, fresh_bucket(rclone_s3))
    records = bucket.upload(photos(tmp_path / "coins", "a.jpg", "b.jpg"))
    first, second = records["a.jpg"], records["b.jpg"]
    before = bucket.stored()
    with FaultProxy(rclone_s3.url, lifetime=90, stall_limit=60) as proxy:
        # the first photo's four parts go; the second's original never answers
        proxy.plan(Fault("stall", times=None, method="DELETE", after=4))
        deleting = started(
            "delete", first["key"], second["key"], "--yes",
            endpoint=rclone_s3, url=proxy.url, bucket=bucket.name,
        )  # fmt: skip
        until_stalled(proxy, deleting)
        deleting.send_signal(signal.SIGINT)
        out, err = deleting.communicate(timeout=30)

    assert deleting.returncode == 130
    assert out == f"deleted {first['key']} (4 objects)\n"
    assert err == (
        "photo-uploader: interrupted: 1 of 2 photos deleted. One cut off while it was deleted "
        "may have left pieces: `check` finds them, `check --repair` removes them.\n"
    )
    assert {k for k in before if first["sha256"][:8] in k} & bucket.stored() == set()
