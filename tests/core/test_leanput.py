"""Small PUTs through botocore's parts (app.core.leanput), on a real rclone serve s3: the
same objects, headers and error sentences as the API call, without the call."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from botocore.awsrequest import AWSResponse

from app.core.config import Destination
from app.core.errors import StoreError
from app.core.leanput import LeanPuts
from app.core.store import S3Store
from tests.helpers.servers import S3Endpoint

pytestmark = pytest.mark.integration


def _store(endpoint: S3Endpoint, bucket: str, **changes: str) -> S3Store:
    return S3Store(replace(endpoint.destination(bucket), **changes), concurrency=1)


def _api_calls(store: S3Store) -> list[str]:
    calls: list[str] = []
    events = store._client.meta.events
    events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    return calls


def test_a_small_put_stores_what_the_api_call_would_without_making_it(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], tmp_path: Path
) -> None:
    bucket = fresh_bucket(rclone_s3)
    store = _store(rclone_s3, bucket)
    try:
        calls = _api_calls(store)
        store.put_bytes("thumbnails/Münze 1923+b.jpg", b"thumb", content_type="image/jpeg")
        photo = tmp_path / "coin.jpg"
        photo.write_bytes(b"\xff\xd8\xff" + b"coin" * 1000)
        digest = hashlib.sha256(photo.read_bytes()).hexdigest()
        store.start_upload(
            photo, "coin.jpg", content_type="image/jpeg", sha256=digest, on_progress=lambda n: None
        ).result()
        assert calls == []
    finally:
        store.close()
    client = rclone_s3.client()
    thumb = client.get_object(Bucket=bucket, Key="thumbnails/Münze 1923+b.jpg")
    assert (thumb["Body"].read(), thumb["ContentType"]) == (b"thumb", "image/jpeg")
    head = client.head_object(Bucket=bucket, Key="coin.jpg")
    metadata = {name.lower(): value for name, value in head["Metadata"].items()}  # rclone: Sha256
    assert metadata == {"sha256": digest} and head["ContentLength"] == 4003


@pytest.mark.parametrize("problem", ["missing bucket", "wrong secret"])
def test_an_error_answer_says_what_the_api_call_would(
    rclone_s3: S3Endpoint, fresh_bucket: Callable[[S3Endpoint], str], problem: str
) -> None:
    bucket = "no-such-bucket" if problem == "missing bucket" else fresh_bucket(rclone_s3)
    changes = {"secret_key": "not-the-secret"} if problem == "wrong secret" else {}
    sentences = []
    for lean in (True, False):
        store = _store(rclone_s3, bucket, **changes)
        if not lean:
            store._lean = LeanPuts(None, bucket)  # unusable: every PUT takes the API call
        try:
            with pytest.raises(StoreError) as caught:
                store.put_bytes("t.jpg", b"thumb", content_type="image/jpeg")
            sentences.append((str(caught.value), caught.value.permanent))
        finally:
            store.close()
    assert sentences[0] == sentences[1]
    assert sentences[0][1]  # a retry cannot help


def test_a_bucket_elsewhere_is_left_to_the_api_call_from_then_on() -> None:
    """An answer that the bucket lives in another region: the API call follows it (and
    learns the region); guessing its URL again would cost a request every time."""
    destination = Destination(
        bucket="coins", endpoint_url="http://127.0.0.1:9", access_key="AKIA", secret_key="s"
    )
    store = S3Store(destination, concurrency=1)
    try:
        lean = LeanPuts(store._client, "coins")
        assert lean.usable
        redirect = AWSResponse(
            "http://127.0.0.1:9/coins/t.jpg",
            301,
            {},
            _Raw(b"<Error><Code>PermanentRedirect</Code><Message>x</Message></Error>"),
        )
        # (Where test doubles answer, before anything is sent: as moto does.)
        store._client.meta.events.register("before-send.s3", lambda **_: redirect)
        assert lean.put("t.jpg", b"thumb", {}) is False
        assert not lean.usable
    finally:
        store.close()


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_args: object, **_kwargs: object) -> Iterator[bytes]:
        yield self._body
