"""Smoke test: each real local S3 server fixture gives a working endpoint."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from tests.helpers.servers import S3Endpoint

pytestmark = pytest.mark.integration


@pytest.fixture(params=["rclone_s3", "seaweedfs_s3"])
def endpoint(request: pytest.FixtureRequest) -> S3Endpoint:
    result: S3Endpoint = request.getfixturevalue(request.param)
    return result


def test_put_get_head_list(endpoint: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str]) -> None:
    bucket = fresh_bucket(endpoint)
    client = endpoint.client()
    assert bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]

    body = os.urandom(300_000)
    client.put_object(Bucket=bucket, Key="photos/a.jpg", Body=body, ContentType="image/jpeg")
    client.put_object(Bucket=bucket, Key="photos/b.jpg", Body=b"second")
    client.put_object(Bucket=bucket, Key="thumbs/a.jpg", Body=b"thumb")

    assert client.get_object(Bucket=bucket, Key="photos/a.jpg")["Body"].read() == body
    head = client.head_object(Bucket=bucket, Key="photos/a.jpg")
    assert head["ContentLength"] == len(body)
    assert head["ETag"].strip('"') == hashlib.md5(body).hexdigest()

    listed = client.list_objects_v2(Bucket=bucket, Prefix="photos/")
    assert [o["Key"] for o in listed["Contents"]] == ["photos/a.jpg", "photos/b.jpg"]

    with pytest.raises(ClientError) as info:
        client.head_object(Bucket=bucket, Key="photos/missing.jpg")
    assert info.value.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound")


def test_buckets_from_fresh_bucket_are_distinct(
    endpoint: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str]
) -> None:
    assert fresh_bucket(endpoint) != fresh_bucket(endpoint)
