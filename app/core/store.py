"""The S3 side: one boto3 client, one shared transfer manager, a content-hash index.

Every method here blocks; the pipeline calls them from its own threads. All failures
leave as StoreError with a plain sentence.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.utils import determine_content_length
from s3transfer.manager import TransferConfig, TransferManager
from s3transfer.subscribers import BaseSubscriber

from app import __version__
from app.core.bandwidth import meter_request_bodies
from app.core.config import Destination
from app.core.errors import StoreError, describe_store_error
from app.core.hashing import FileChanged
from app.core.leanput import LeanPuts
from app.core.retry import RetryPolicy, call_with_retries
from app.core.threads import BackgroundThreadPool

INDEX_PREFIX = ".photo-uploader/sha256/"
MULTIPART_THRESHOLD = 16 * 1024 * 1024
MULTIPART_CHUNK_SIZE = 8 * 1024 * 1024
DIRECT_PUT_LIMIT = 2 * 1024 * 1024  # up to this, an original goes in one put_object
READ_BACK_CHUNK = 1024 * 1024  # verify-after-upload reads the object this much at a time
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
# check_bucket() runs once before a batch, outside the pipeline's own retries: a short
# schedule, so a passing hiccup does not stop the batch and a dead server is reported fast.
CHECK_RETRY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=1.0)
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """Where content with a given SHA-256 already lives in the bucket."""

    key: str
    thumbnail_key: str | None
    size: int
    content_type: str
    preview_key: str | None = None  # (entries from before previews have none)
    # The sidecar written with it; entries from before sidecars have none, which is how
    # a check tells "an older photo" from "a sidecar that went missing".
    metadata_key: str | None = None

    def to_json(self) -> bytes:
        record: dict[str, object] = {
            "version": 1,
            "key": self.key,
            "thumbnail_key": self.thumbnail_key,
            "size": self.size,
            "content_type": self.content_type,
        }
        if self.preview_key is not None:
            record["preview_key"] = self.preview_key
        if self.metadata_key is not None:
            record["metadata_key"] = self.metadata_key
        return json.dumps(record).encode()

    @classmethod
    def from_json(cls, data: bytes) -> IndexEntry | None:
        """Parse an index object; None when it is not one of ours or is damaged."""
        try:
            raw = json.loads(data)
            return cls(
                key=str(raw["key"]),
                thumbnail_key=raw.get("thumbnail_key"),
                size=int(raw["size"]),
                content_type=str(raw.get("content_type") or "application/octet-stream"),
                preview_key=raw.get("preview_key"),
                metadata_key=raw.get("metadata_key"),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


@dataclass(frozen=True, slots=True)
class ListingPage:
    """One page of a LIST: key -> size, and where the next page starts (None: the last).
    `etags` has each key's ETag where the server gave one (what the catalogue keys on)."""

    sizes: dict[str, int]
    next_token: str | None
    etags: dict[str, str] = field(default_factory=dict)


class UploadGone(StoreError):
    """The server will not finish this multipart upload (it lost a part, or the upload):
    abort it and send the file again from the start."""


_UPLOAD_GONE_CODES = ("InvalidPart", "InvalidPartOrder", "NoSuchUpload")
_NO_SUCH_UPLOAD = ("NoSuchUpload", "404", "NotFound")


@dataclass(frozen=True, slots=True)
class Part:
    """One stored part of a multipart upload: what completing the upload needs."""

    number: int
    etag: str
    size: int
    sha256: str = ""  # base64 ChecksumSHA256 ("" for stores that take no checksums)

    def to_list(self) -> list[Any]:
        return [self.number, self.etag, self.size, self.sha256]

    @classmethod
    def from_list(cls, item: list[Any]) -> Part:
        number, etag, size, sha256 = item
        return cls(int(number), str(etag), int(size), str(sha256))


def parts_to_text(parts: Iterable[Part]) -> str:
    return json.dumps([part.to_list() for part in sorted(parts, key=lambda p: p.number)])


def parts_from_text(text: str | None) -> dict[int, Part]:
    """The parts a journal row holds (none when it holds none, or nonsense)."""
    if not text:
        return {}
    try:
        return {part.number: part for part in map(Part.from_list, json.loads(text))}
    except (ValueError, TypeError):
        return {}


def composite_sha256(parts: Sequence[Part]) -> str:
    """The checksum S3 gives a multipart object: SHA-256 of the parts' SHA-256 digests,
    base64, then "-" and the number of parts."""
    digest = hashlib.sha256(b"".join(base64.b64decode(part.sha256) for part in parts))
    return f"{_b64_digest(digest.digest())}-{len(parts)}"


def index_key(sha256: str) -> str:
    return f"{INDEX_PREFIX}{sha256}.json"


class UploadHandle(Protocol):
    def result(self) -> None: ...
    def cancel(self) -> None: ...


ProgressCallback = Callable[[int], None]


class ObjectStore(Protocol):
    """What the pipeline needs from a bucket; S3Store is the real one, tests pass fakes."""

    bucket: str

    def check_bucket(self) -> None: ...
    def probe(self) -> None: ...
    def find_by_hash(self, sha256: str) -> IndexEntry | None: ...
    def object_size(self, key: str) -> int | None: ...
    def list_page(self, prefix: str, token: str | None) -> ListingPage: ...
    def start_upload(
        self,
        path: Path,
        key: str,
        *,
        content_type: str,
        sha256: str,
        on_progress: ProgressCallback,
    ) -> UploadHandle:
        """Start sending a file. Up to DIRECT_PUT_LIMIT bytes, the file is read whole and
        sent only if it is still the content hashed as `sha256` (FileChanged from the
        handle's result otherwise): what lands is then exactly that content."""
        ...

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None: ...
    def get_bytes(self, key: str, limit: int) -> bytes | None: ...
    def record_hash(self, sha256: str, entry: IndexEntry) -> None: ...
    def object_sha256(self, key: str) -> str | None: ...
    def delete_object(self, key: str) -> None: ...
    def create_multipart(self, key: str, *, content_type: str, sha256: str) -> str: ...
    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> Part: ...
    def list_parts(self, key: str, upload_id: str) -> dict[int, Part] | None: ...
    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[Part]) -> str: ...
    def abort_multipart(self, key: str, upload_id: str) -> None: ...
    def close(self) -> None: ...


class _ProgressSubscriber(BaseSubscriber):
    def __init__(self, on_progress: ProgressCallback) -> None:
        self._on_progress = on_progress

    def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
        self._on_progress(bytes_transferred)


class _TransferHandle:
    def __init__(self, future: Any, translate: Callable[[BaseException], StoreError]) -> None:
        self._future = future
        self._translate = translate

    def result(self) -> None:
        try:
            self._future.result()
        except Exception as exc:
            raise self._translate(exc) from exc

    def cancel(self) -> None:
        self._future.cancel()


class _DirectPut:
    """A small original sent in one request by the thread that waits for it: its bytes
    are read and checked against the hash first, so what lands is exactly the content
    that was hashed (FileChanged otherwise). s3transfer's futures, queues and threads cost
    more than the request itself for a photo of a few hundred kilobytes."""

    def __init__(self, send: Callable[[], None]) -> None:
        self._send = send
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._outcome: BaseException | None = None
        self._done = threading.Event()
        self._started = False

    def result(self) -> None:
        with self._lock:
            first, self._started = not self._started, True
        if first:
            try:
                if self._cancelled.is_set():
                    raise StoreError("The upload was cancelled.")
                self._send()
            except BaseException as exc:
                self._outcome = exc
            finally:
                self._done.set()
        else:
            self._done.wait()
        if self._outcome is not None:
            raise self._outcome

    def cancel(self) -> None:
        """Before the request goes out it never will; once sent it lands (the pipeline
        then removes what a cancelled upload left)."""
        self._cancelled.set()


def read_as_hashed(path: Path, size: int, sha256: str) -> bytes:
    """The file's bytes, provided they are still the content hashed as `sha256`."""
    with open(path, "rb") as handle:
        data = handle.read(size + 1)
    if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
        raise FileChanged()
    return data


def make_client(
    destination: Destination,
    *,
    pool_size: int,
    max_attempts: int = 1,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
) -> BaseClient:
    """A boto3 S3 client for the destination: standard credential chain unless keys were given.

    `max_attempts` counts every try, the first included: 1 (the default) turns botocore's
    own retries off, because the pipeline retries each operation itself (app.core.retry).
    TLS certificates are always verified (boto3's default; a custom CA bundle from
    AWS_CA_BUNDLE or the profile still verifies): nothing here can turn that off. Objects
    are written without an ACL, so they get the bucket's default: private.
    """
    session = boto3.session.Session(
        profile_name=destination.profile or None,
        aws_access_key_id=destination.access_key or None,
        aws_secret_access_key=destination.secret_key or None,
        region_name=destination.region or None,
    )
    custom = bool(destination.endpoint_url)
    config = Config(
        max_pool_connections=pool_size,
        s3={"addressing_style": "path" if custom else "auto"},
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        signature_version="s3v4",
        request_checksum_calculation=destination.checksum_mode,
        response_checksum_validation=destination.checksum_mode,
        user_agent_extra=f"photo-uploader/{__version__}",
    )
    region = destination.region or (session.region_name if not custom else None) or "us-east-1"
    client = session.client(
        "s3", endpoint_url=destination.endpoint_url or None, region_name=region, config=config
    )
    client.meta.events.register_last("before-call.s3", _no_expect_for_small_bodies)
    return client


# botocore asks "Expect: 100-continue" before every body it sends: one more round trip
# each, before the first byte goes. For a small body (a thumbnail, a sidecar, an index
# entry, a small photo) that is a whole extra wait per request on a real link, and saves
# nothing: so only bodies above this wait for the server's go-ahead, as the AWS SDK for
# Go does (above 2 MiB). bench/network.py measures it.
EXPECT_CONTINUE_ABOVE = 2 * 1024 * 1024


def _no_expect_for_small_bodies(params: dict[str, Any], **_kwargs: Any) -> None:
    headers = params.get("headers") or {}
    if "Expect" not in headers:
        return
    size = determine_content_length(params.get("body"))
    if size is not None and size <= EXPECT_CONTINUE_ABOVE:
        del headers["Expect"]


class S3Store:
    """A bucket reached through boto3, with one transfer manager shared by all uploads."""

    def __init__(
        self,
        destination: Destination,
        *,
        concurrency: int,
        max_attempts: int = 1,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        check_retry: RetryPolicy = CHECK_RETRY,
    ) -> None:
        self.bucket = destination.bucket
        self.destination = destination
        self._check_retry = check_retry
        request_threads = max(4, concurrency * 2)
        try:
            self._client = make_client(
                destination,
                pool_size=request_threads + concurrency + 4,
                max_attempts=max_attempts,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            )
        except Exception as exc:
            raise self._translate(exc) from exc
        meter_request_bodies(self._client)  # the upload speed limit, if one is set
        self._lean = LeanPuts(self._client, self.bucket)  # small PUTs: app.core.leanput
        self._transfers = TransferManager(
            self._client,
            TransferConfig(
                multipart_threshold=MULTIPART_THRESHOLD,
                multipart_chunksize=MULTIPART_CHUNK_SIZE,
                max_request_concurrency=request_threads,
                max_in_memory_upload_chunks=4,
            ),
            executor_cls=BackgroundThreadPool,
        )
        self._closed = threading.Event()

    @property
    def client(self) -> BaseClient:
        return self._client

    def _translate(self, exc: BaseException) -> StoreError:
        return describe_store_error(
            exc, bucket=self.destination.bucket, endpoint=self.destination.endpoint_url
        )

    @contextmanager
    def _errors(self, *, upload_gone: bool = False) -> Iterator[None]:
        """Any failure as a StoreError; with `upload_gone`, an answer that the multipart
        upload cannot be finished as UploadGone."""
        try:
            yield
        except StoreError:
            raise
        except ClientError as exc:
            if upload_gone and _upload_gone(exc):
                raise UploadGone(self._translate(exc).reason) from exc
            raise self._translate(exc) from exc
        except Exception as exc:
            raise self._translate(exc) from exc

    def check_bucket(self) -> None:
        """Fail with a clear sentence unless the bucket exists and we may use it."""

        def head() -> None:
            with self._errors():
                self._client.head_bucket(Bucket=self.bucket)

        call_with_retries(head, self._check_retry)

    def probe(self) -> None:
        """One request, no retries: raises StoreError unless the server answers (any
        answer about the bucket, even "no such bucket", means it is there)."""
        with self._errors():
            self._client.head_bucket(Bucket=self.bucket)

    @property
    def sends_checksums(self) -> bool:
        """Whether uploads carry a checksum header (off for `when_required` stores)."""
        return self.destination.checksum_mode == "when_supported"

    def find_by_hash(self, sha256: str) -> IndexEntry | None:
        """The object already holding this content, verified to still exist."""
        with self._errors():
            try:
                body = self._client.get_object(Bucket=self.bucket, Key=index_key(sha256))["Body"]
                entry = IndexEntry.from_json(body.read())
            except ClientError as exc:
                if _is_not_found(exc):
                    return None
                raise
        if entry is None or self.object_size(entry.key) != entry.size:
            return None
        return entry

    def object_size(self, key: str) -> int | None:
        with self._errors():
            try:
                head = self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _is_not_found(exc):
                    return None
                raise
        return int(head["ContentLength"])

    def list_page(self, prefix: str, token: str | None) -> ListingPage:
        """Up to 1,000 keys under `prefix` with their sizes, from `token` on (None: the
        first page)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": 1000}
        if token:
            params["ContinuationToken"] = token
        with self._errors():
            answer = self._client.list_objects_v2(**params)
        contents = answer.get("Contents") or []
        sizes = {item["Key"]: int(item.get("Size", 0)) for item in contents}
        etags = {item["Key"]: str(item["ETag"]) for item in contents if item.get("ETag")}
        following = answer.get("NextContinuationToken") if answer.get("IsTruncated") else None
        return ListingPage(sizes, following or None, etags)

    def start_upload(
        self,
        path: Path,
        key: str,
        *,
        content_type: str,
        sha256: str,
        on_progress: ProgressCallback,
    ) -> UploadHandle:
        """Start sending a file (multipart when large, bounded memory); returns a handle.

        A single-part upload carries the SHA-256 the pipeline hashed (ChecksumSHA256), so
        a server that checks it refuses a body that is not that content (the file changed
        after it was hashed); a multipart upload has botocore's CRC32 on each part.
        Stores that reject checksums (`when_required`) get neither.
        """
        extra_args: dict[str, Any] = {"ContentType": content_type, "Metadata": {"sha256": sha256}}
        size = path.stat().st_size  # OSError as it is: the caller says what became of it
        with self._errors():
            if self.sends_checksums and _SHA256_HEX.match(sha256) and size < MULTIPART_THRESHOLD:
                extra_args["ChecksumSHA256"] = _b64_digest(bytes.fromhex(sha256))
            if size <= DIRECT_PUT_LIMIT and _SHA256_HEX.match(sha256):
                return _DirectPut(
                    lambda: self._put_original(path, key, size, sha256, extra_args, on_progress)
                )
            future = self._transfers.upload(
                str(path),
                self.bucket,
                key,
                extra_args=extra_args,
                subscribers=[_ProgressSubscriber(on_progress)],
            )
        return _TransferHandle(future, self._translate)

    def _put_original(
        self,
        path: Path,
        key: str,
        size: int,
        sha256: str,
        extra_args: dict[str, Any],
        on_progress: ProgressCallback,
    ) -> None:
        data = read_as_hashed(path, size, sha256)  # FileChanged, OSError: the caller's
        self._put_small(key, data, extra_args)
        on_progress(size)

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        extra: dict[str, Any] = {"ContentType": content_type}
        if self.sends_checksums:
            extra["ChecksumSHA256"] = _b64_digest(hashlib.sha256(data).digest())
        self._put_small(key, data, extra)

    def _put_small(self, key: str, data: bytes, extra: dict[str, Any]) -> None:
        """One PUT of a body in memory: lean (app.core.leanput), else the API call, with
        the same ContentType, Metadata and ChecksumSHA256 either way."""
        headers = {"Content-Type": extra["ContentType"]}
        headers.update({f"x-amz-meta-{k}": v for k, v in extra.get("Metadata", {}).items()})
        if "ChecksumSHA256" in extra:
            headers["x-amz-checksum-sha256"] = extra["ChecksumSHA256"]
        with self._errors():
            if not self._lean.put(key, data, headers):
                self._client.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)

    def get_bytes(self, key: str, limit: int) -> bytes | None:
        """A small object's bytes (at most `limit` of them); None when there is none."""
        with self._errors():
            try:
                answer = self._client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes=0-{limit - 1}"
                )
                return bytes(answer["Body"].read())
            except ClientError as exc:
                if _is_not_found(exc):
                    return None
                raise

    def record_hash(self, sha256: str, entry: IndexEntry) -> None:
        self.put_bytes(index_key(sha256), entry.to_json(), content_type="application/json")

    def object_sha256(self, key: str) -> str | None:
        """SHA-256 of the object's bytes as the server sends them back; None if it is gone.

        Streamed a chunk at a time (bounded memory). Raises ChecksumMismatch (a StoreError)
        when the server's own checksum of the object disagrees with the bytes it sent.
        """
        digest = hashlib.sha256()
        with self._streamed(key) as chunks:
            if chunks is None:
                return None
            for chunk in chunks:
                digest.update(chunk)
        return digest.hexdigest()

    def download_to(self, key: str, target: Path, *, exclusive: bool = False) -> bool:
        """Stream the object into `target` a chunk at a time (bounded memory); False when
        there is no such object (and then no file is made). `exclusive`: FileExistsError
        rather than overwrite a file already there. Failures writing the file are
        OSErrors as they are, not store errors."""
        with self._streamed(key) as chunks:
            if chunks is None:
                return False
            with open(target, "xb" if exclusive else "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
        return True

    @contextmanager
    def _streamed(self, key: str) -> Iterator[Iterator[bytes] | None]:
        """The one streaming GET: the object's bytes READ_BACK_CHUNK at a time (None when
        there is no such object), the body closed afterwards. Only what the network does
        becomes a StoreError; what the caller does with the bytes raises as it is."""
        with self._errors():
            try:
                body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
            except ClientError as exc:
                if not _is_not_found(exc):
                    raise
                body = None
        if body is None:
            yield None
            return
        try:
            yield self._chunks(body.iter_chunks(READ_BACK_CHUNK))
        finally:
            body.close()

    def _chunks(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        while True:
            with self._errors():
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk

    def share_url(self, key: str, seconds: int) -> str:
        """A presigned GET of `key`, good for `seconds` (signed here; no request made)."""
        with self._errors():
            return str(
                self._client.generate_presigned_url(
                    "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=seconds
                )
            )

    def credentials_expire_at(self) -> float | None:
        """When the credentials that sign for us expire (epoch seconds), for temporary
        (SSO/STS) ones; None for long-lived keys. float("nan") when temporary but the
        expiry is not known."""
        credentials = self._client._request_signer._credentials
        if credentials is None or not getattr(credentials, "token", None):
            return None
        expiry = getattr(credentials, "_expiry_time", None)
        return expiry.timestamp() if expiry is not None else float("nan")

    def versioning_on(self) -> bool | None:
        """Whether the bucket keeps earlier versions (on or suspended: versions kept so
        far stay); None when the server does not say."""
        try:
            answer = self._client.get_bucket_versioning(Bucket=self.bucket)
        except Exception:  # many S3-compatible servers do not implement it
            return None
        return answer.get("Status") in ("Enabled", "Suspended")

    def delete_object(self, key: str) -> None:
        """Remove an object (absent already counts as removed)."""
        with self._errors():
            try:
                self._client.delete_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if not _is_not_found(exc):
                    raise

    # -- multipart, part by part (app.core.pipeline.multipart resumes them) -----------

    def create_multipart(self, key: str, *, content_type: str, sha256: str) -> str:
        """Start a multipart upload; its UploadId."""
        extra: dict[str, Any] = {"ContentType": content_type, "Metadata": {"sha256": sha256}}
        if self.sends_checksums:
            extra["ChecksumAlgorithm"] = "SHA256"
        with self._errors():
            answer = self._client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        return str(answer["UploadId"])

    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> Part:
        """Send one part with its SHA-256, which a checking server verifies."""
        extra: dict[str, Any] = {}
        checksum = ""
        if self.sends_checksums:
            checksum = _b64_digest(hashlib.sha256(data).digest())
            extra["ChecksumSHA256"] = checksum
        with self._errors(upload_gone=True):
            answer = self._client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
                **extra,
            )
        return Part(number, str(answer["ETag"]), len(data), checksum)

    def list_parts(self, key: str, upload_id: str) -> dict[int, Part] | None:
        """The parts the server holds for an upload; None when it no longer knows it
        (completed, aborted, expired, or a server that forgot it when it restarted)."""
        found: dict[int, Part] = {}
        marker = 0
        with self._errors():
            while True:
                try:
                    answer = self._client.list_parts(
                        Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
                    )
                except ClientError as exc:
                    if _error_code(exc) in _NO_SUCH_UPLOAD:
                        return None
                    raise
                for item in answer.get("Parts") or []:
                    number = int(item["PartNumber"])
                    found[number] = Part(
                        number,
                        str(item["ETag"]),
                        int(item.get("Size", 0)),
                        str(item.get("ChecksumSHA256") or ""),
                    )
                if not answer.get("IsTruncated"):
                    return found
                marker = int(answer.get("NextPartNumberMarker") or 0)
                if not marker:
                    return found

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[Part]) -> str:
        """Join the parts into the object; the server's checksum for it ("" if none)."""
        listed = []
        for part in parts:
            entry: dict[str, Any] = {"PartNumber": part.number, "ETag": part.etag}
            if part.sha256 and self.sends_checksums:
                entry["ChecksumSHA256"] = part.sha256
            listed.append(entry)
        with self._errors(upload_gone=True):
            answer = self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            )
        return str(answer.get("ChecksumSHA256") or "")

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Abort one upload we started (its parts are billed until then); one the server
        no longer knows is already gone."""
        with self._errors():
            try:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except ClientError as exc:
                if _error_code(exc) not in _NO_SUCH_UPLOAD:
                    raise

    def close(self) -> None:
        """Stop the transfer threads; in-flight transfers are cancelled."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._transfers.shutdown(cancel=True, cancel_msg="The upload was cancelled.")
        self._client.close()


def _b64_digest(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _is_not_found(exc: ClientError) -> bool:
    return _error_code(exc) in ("404", "NoSuchKey", "NotFound")


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _upload_gone(exc: ClientError) -> bool:
    """The server will not finish this upload. rclone serve s3, which streams parts into
    the object as they come, cannot take again a part cut off mid-stream ("part N has
    already been streamed to the backend")."""
    if _error_code(exc) in _UPLOAD_GONE_CODES:
        return True
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return _error_code(exc) == "NotImplemented" and "already been streamed" in message
