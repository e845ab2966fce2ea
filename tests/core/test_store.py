"""S3Store against moto: bucket checks in plain words, uploads, the content-hash index."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from app.core.config import Destination
from app.core.errors import StoreError
from app.core.store import MULTIPART_THRESHOLD, IndexEntry, S3Store, index_key


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="coins")
        yield


@pytest.fixture
def store(aws: None) -> Iterator[S3Store]:
    s = S3Store(Destination(bucket="coins"), concurrency=4)
    yield s
    s.close()


def test_check_bucket_passes_for_existing_bucket(store: S3Store) -> None:
    store.check_bucket()


def test_missing_bucket_is_one_clear_permanent_sentence(aws: None) -> None:
    s = S3Store(Destination(bucket="no-such-bucket"), concurrency=1)
    try:
        with pytest.raises(StoreError) as info:
            s.check_bucket()
    finally:
        s.close()
    assert "“no-such-bucket” does not exist" in str(info.value)
    assert info.value.permanent
    assert "Traceback" not in str(info.value)


def test_upload_keeps_bytes_and_content_type(store: S3Store, tmp_path: Path) -> None:
    photo = tmp_path / "coin.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + os.urandom(50_000))
    progress: list[int] = []
    store.start_upload(
        photo, "a/coin.jpg", content_type="image/jpeg", sha256="ab", on_progress=progress.append
    ).result()
    obj = store.client.get_object(Bucket="coins", Key="a/coin.jpg")
    assert obj["Body"].read() == photo.read_bytes()
    assert obj["ContentType"] == "image/jpeg"
    assert sum(progress) == photo.stat().st_size


def test_large_file_goes_multipart_and_arrives_intact(store: S3Store, tmp_path: Path) -> None:
    big = tmp_path / "panorama.tif"
    big.write_bytes(os.urandom(MULTIPART_THRESHOLD + 3 * 1024 * 1024))
    store.start_upload(
        big, "big.tif", content_type="image/tiff", sha256="cd", on_progress=lambda n: None
    ).result()
    obj = store.client.get_object(Bucket="coins", Key="big.tif")
    body = obj["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(big.read_bytes()).digest()
    assert "-" in obj["ETag"]  # a multipart ETag


def test_hash_index_round_trip_and_verification(store: S3Store) -> None:
    sha = "ab" * 32
    assert store.find_by_hash(sha) is None
    store.put_bytes("photos/coin.jpg", b"12345", content_type="image/jpeg")
    store.record_hash(sha, IndexEntry("photos/coin.jpg", "photos/t.jpg", 5, "image/jpeg"))
    assert store.find_by_hash(sha) == IndexEntry("photos/coin.jpg", "photos/t.jpg", 5, "image/jpeg")
    store.client.delete_object(Bucket="coins", Key="photos/coin.jpg")
    assert store.find_by_hash(sha) is None  # the index points at nothing: not a duplicate


def test_damaged_index_object_is_ignored(store: S3Store) -> None:
    sha = "cd" * 32
    store.put_bytes(index_key(sha), b"not json", content_type="application/json")
    assert store.find_by_hash(sha) is None


def test_unreachable_endpoint_is_a_plain_sentence() -> None:
    s = S3Store(
        Destination(
            bucket="coins",
            endpoint_url="http://127.0.0.1:9",
            access_key="k",
            secret_key="s",
        ),
        concurrency=1,
        max_attempts=1,
    )
    try:
        with pytest.raises(StoreError) as info:
            s.check_bucket()
    finally:
        s.close()
    assert str(info.value) == "Cannot reach the storage server at http://127.0.0.1:9."
    assert not info.value.permanent
