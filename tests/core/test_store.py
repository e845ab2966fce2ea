"""S3Store against moto: bucket checks in plain words, uploads, the content-hash index."""

from __future__ import annotations

import base64
import hashlib
import http.server
import inspect
import ipaddress
import os
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    FlexibleChecksumError,
    ReadTimeoutError,
)
from moto import mock_aws

from app.core.config import Destination
from app.core.errors import ChecksumMismatch, StoreError, describe_store_error
from app.core.retry import RetryPolicy
from app.core.store import MULTIPART_THRESHOLD, IndexEntry, S3Store, index_key, make_client


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
        photo,
        "a/coin.jpg",
        content_type="image/jpeg",
        sha256=sha256_of(photo),
        on_progress=progress.append,
    ).result()
    obj = store.client.get_object(Bucket="coins", Key="a/coin.jpg")
    assert obj["Body"].read() == photo.read_bytes()
    assert obj["ContentType"] == "image/jpeg"
    assert sum(progress) == photo.stat().st_size


def test_large_file_goes_multipart_and_arrives_intact(store: S3Store, tmp_path: Path) -> None:
    big = tmp_path / "panorama.tif"
    big.write_bytes(os.urandom(MULTIPART_THRESHOLD + 3 * 1024 * 1024))
    store.start_upload(
        big, "big.tif", content_type="image/tiff", sha256=sha256_of(big), on_progress=lambda n: None
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
        check_retry=RetryPolicy(attempts=1),
    )
    try:
        with pytest.raises(StoreError) as info:
            s.check_bucket()
    finally:
        s.close()
    assert str(info.value) == (
        "Cannot reach the storage server at http://127.0.0.1:9. "
        "Check the network connection and try again."
    )
    assert not info.value.permanent and info.value.retryable
    assert info.value.reason == "cannot reach the storage server at http://127.0.0.1:9"


# --------------------------------------------------------------------------- helpers


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ignore(n: int) -> None:
    pass


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class Headers:
    """Every request's headers as sent (botocore's before-send hook), by operation."""

    def __init__(self, store: S3Store) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []
        store.client.meta.events.register("before-send.s3", self._record)

    def _record(self, request: Any, event_name: str = "", **kwargs: Any) -> None:
        headers = {
            k.lower(): v.decode() if isinstance(v, bytes) else str(v)
            for k, v in request.headers.items()
        }
        self.sent.append((event_name.rsplit(".", 1)[-1], headers))

    def of(self, operation: str) -> list[dict[str, str]]:
        return [h for op, h in self.sent if op == operation]


def checksum_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if "checksum" in k}


# --------------------------------------------------------------------------- retries


def test_botocore_does_not_retry_on_its_own(store: S3Store) -> None:
    """The pipeline retries each operation itself (notices, injectable timing)."""
    assert store.client.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}


@pytest.mark.parametrize(
    ("exc", "words", "retryable", "whole"),
    [
        (ClientError({"Error": {"Code": "SlowDown"}}, "PutObject"), "asked us to slow down", 1, 0),
        (ClientError({"Error": {"Code": "InternalError"}}, "PutObject"), "internal error", 1, 0),
        (
            ClientError(
                {"Error": {"Code": "503"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "H"
            ),
            "temporarily unavailable",
            1,
            0,
        ),
        (
            ClientError(
                {"Error": {"Code": "Weird"}, "ResponseMetadata": {"HTTPStatusCode": 502}}, "P"
            ),
            "failed (502)",
            1,
            0,
        ),
        (EndpointConnectionError(endpoint_url="http://x"), "Cannot reach the storage server", 1, 0),
        (ConnectionClosedError(endpoint_url="http://x"), "connection to the storage server", 1, 0),
        (ReadTimeoutError(endpoint_url="http://x"), "did not answer in time", 1, 0),
        (ClientError({"Error": {"Code": "BadDigest"}}, "PutObject"), "did not match", 1, 0),
        (ClientError({"Error": {"Code": "InvalidAccessKeyId"}}, "P"), "access key", 0, 1),
        (ClientError({"Error": {"Code": "SignatureDoesNotMatch"}}, "P"), "secret key", 0, 1),
        (ClientError({"Error": {"Code": "AccessDenied"}}, "P"), "was denied", 0, 1),
        (ClientError({"Error": {"Code": "NoSuchBucket"}}, "P"), "does not exist", 0, 1),
        (ClientError({"Error": {"Code": "RequestTimeTooSkewed"}}, "P"), "clock", 0, 1),
        (ClientError({"Error": {"Code": "400"}}, "P"), "400 Bad Request", 0, 0),
    ],
)
def test_errors_say_whether_a_retry_can_help(
    exc: BaseException, words: str, retryable: int, whole: int
) -> None:
    error = describe_store_error(exc, bucket="coins", endpoint="http://x")
    assert words in str(error)
    assert error.retryable is bool(retryable)
    assert error.whole_destination is bool(whole)
    if whole:
        assert error.permanent
    assert "Traceback" not in str(error) and "\n" not in str(error)


def test_a_read_back_checksum_failure_is_a_mismatch() -> None:
    error = describe_store_error(FlexibleChecksumError(error_msg="x"), bucket="b", endpoint=None)
    assert isinstance(error, ChecksumMismatch)


# --------------------------------------------------------------------------- checksums


def test_single_part_upload_carries_the_hashed_sha256(store: S3Store, tmp_path: Path) -> None:
    photo = tmp_path / "coin.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + os.urandom(10_000))
    sent = Headers(store)
    store.start_upload(
        photo, "coin.jpg", content_type="image/jpeg", sha256=sha256_of(photo), on_progress=ignore
    ).result()
    (put,) = sent.of("PutObject")
    assert put["x-amz-checksum-sha256"] == b64_sha256(photo.read_bytes())


def test_thumbnails_and_index_carry_a_sha256(store: S3Store) -> None:
    sent = Headers(store)
    store.put_bytes("t.jpg", b"thumb", content_type="image/jpeg")
    store.record_hash("ab" * 32, IndexEntry("k.jpg", "t.jpg", 5, "image/jpeg"))
    puts = sent.of("PutObject")
    assert puts[0]["x-amz-checksum-sha256"] == b64_sha256(b"thumb")
    assert len(puts) == 2 and all("x-amz-checksum-sha256" in h for h in puts)


def test_multipart_upload_has_per_part_checksums_not_a_whole_sha256(
    store: S3Store, tmp_path: Path
) -> None:
    big = tmp_path / "panorama.tif"
    big.write_bytes(os.urandom(MULTIPART_THRESHOLD + 1024))
    sent = Headers(store)
    store.start_upload(
        big, "big.tif", content_type="image/tiff", sha256=sha256_of(big), on_progress=ignore
    ).result()
    parts = sent.of("UploadPart")
    assert len(parts) == 3
    assert all(checksum_headers(h) for h in parts)  # botocore's CRC32 for each part
    assert not any("x-amz-checksum-sha256" in h for _, h in sent.sent)


def test_when_required_sends_no_checksum_headers(aws: None, tmp_path: Path) -> None:
    """For stores that reject default checksums (R2, older B2)."""
    s = S3Store(Destination(bucket="coins", checksum_mode="when_required"), concurrency=1)
    try:
        sent = Headers(s)
        photo = tmp_path / "coin.jpg"
        photo.write_bytes(b"\xff\xd8\xff" + os.urandom(1000))
        s.start_upload(
            photo,
            "coin.jpg",
            content_type="image/jpeg",
            sha256=sha256_of(photo),
            on_progress=ignore,
        ).result()
        s.put_bytes("t.jpg", b"thumb", content_type="image/jpeg")
    finally:
        s.close()
    assert len(sent.of("PutObject")) == 2
    assert not any(checksum_headers(h) for _, h in sent.sent)


def test_read_back_hash_streams_the_object(store: S3Store, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    store.put_bytes("big.bin", data, content_type="application/octet-stream")
    assert store.object_sha256("big.bin") == hashlib.sha256(data).hexdigest()
    assert store.object_sha256("missing.bin") is None
    store.delete_object("big.bin")
    store.delete_object("big.bin")  # already gone: fine
    assert store.object_size("big.bin") is None


def test_a_download_streams_into_a_file_and_never_makes_one_for_nothing(
    store: S3Store, tmp_path: Path
) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)  # (more than one chunk)
    store.put_bytes("coin.jpg", data, content_type="image/jpeg")
    target = tmp_path / "coin.jpg"

    assert store.download_to("coin.jpg", target)
    assert target.read_bytes() == data
    assert not store.download_to("missing.jpg", tmp_path / "missing.jpg")
    assert not (tmp_path / "missing.jpg").exists()
    with pytest.raises(FileExistsError):  # (an OSError as it is, not a store error)
        store.download_to("coin.jpg", target, exclusive=True)
    assert target.read_bytes() == data


# --------------------------------------------------------------------------- safety


def test_tls_is_always_verified_for_remote_endpoints(aws: None, tmp_path: Path) -> None:
    """No setting turns certificate checks off; a custom CA bundle still verifies."""
    assert "verify" not in inspect.signature(make_client).parameters
    assert "verify" not in inspect.signature(S3Store).parameters
    assert not any("verify" in name or "tls" in name for name in Destination.__dataclass_fields__)
    for endpoint in (None, "https://s3.example.net", "https://minio.lan:9000"):
        s = S3Store(Destination(bucket="coins", endpoint_url=endpoint), concurrency=1)
        try:
            verify = s.client._endpoint.http_session._verify
        finally:
            s.close()
        assert verify is True or (isinstance(verify, str) and verify), endpoint


def test_uploads_are_private_no_acl_is_ever_sent(store: S3Store, tmp_path: Path) -> None:
    photo = tmp_path / "coin.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + os.urandom(1000))
    big = tmp_path / "big.tif"
    big.write_bytes(os.urandom(MULTIPART_THRESHOLD + 10))
    sent = Headers(store)
    for path, key in ((photo, "coin.jpg"), (big, "big.tif")):
        store.start_upload(
            path, key, content_type="image/jpeg", sha256=sha256_of(path), on_progress=ignore
        ).result()
    store.put_bytes("t.jpg", b"thumb", content_type="image/jpeg")
    store.record_hash("ab" * 32, IndexEntry("coin.jpg", "t.jpg", 1003, "image/jpeg"))
    assert {op for op, _ in sent.sent} >= {"PutObject", "CreateMultipartUpload", "UploadPart"}
    for _, headers in sent.sent:
        assert not [k for k in headers if k == "x-amz-acl" or k.startswith("x-amz-grant")]
    for key in ("coin.jpg", "t.jpg"):  # (moto keeps no ACL for multipart objects)
        grants = store.client.get_object_acl(Bucket="coins", Key=key)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner only
        assert all(g["Grantee"].get("Type") == "CanonicalUser" for g in grants)


def _self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no trust store knows (as a spoofing server has)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_an_untrusted_certificate_is_refused_in_plain_words(tmp_path: Path) -> None:
    """A real TLS handshake with a server whose certificate nobody signed: no request is
    sent, nothing is retried, and the collector reads one sentence."""
    cert, key = _self_signed_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{server.server_address[1]}"
    store = S3Store(
        Destination(bucket="coins", endpoint_url=url, access_key="key", secret_key="secret"),
        concurrency=1,
        check_retry=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.001),
    )
    try:
        with pytest.raises(StoreError) as info:
            store.check_bucket()
    finally:
        store.close()
        server.shutdown()
        server.server_close()
    assert str(info.value) == (
        f"The secure connection to {url} failed: its certificate was not accepted."
    )
    assert info.value.permanent and not info.value.retryable
    assert requests == []  # nothing was sent to it
