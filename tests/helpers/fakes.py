"""Fakes passed into constructors instead of patching globals."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import EndpointConnectionError

from app.core.errors import StoreError, describe_store_error
from app.core.notices import Notice
from app.core.store import (
    DIRECT_PUT_LIMIT,
    IndexEntry,
    ListingPage,
    Part,
    ProgressCallback,
    UploadGone,
    composite_sha256,
    index_key,
    read_as_hashed,
)

FAKE_ENDPOINT = "http://fake"


def unreachable_error() -> StoreError:
    """What the app makes of a refused connection to the fake's endpoint."""
    return describe_store_error(
        EndpointConnectionError(endpoint_url=FAKE_ENDPOINT), bucket="fake", endpoint=FAKE_ENDPOINT
    )


@dataclass
class StoredObject:
    data: bytes
    content_type: str


@dataclass
class FakeMultipart:
    key: str
    content_type: str
    parts: dict[int, tuple[Part, bytes]] = field(default_factory=dict)


@dataclass
class FakeStore:
    """An in-memory bucket with call counts and injectable failures.

    `fail_next[operation]` fails that many calls of "upload", "put" (thumbnails),
    "sidecar" (metadata sidecars), "record", "find", "head", "list" or "delete" with
    `fail_with` (a StoreError; by default one that is not retried, "Cannot reach the
    storage server at http://fake.");
    `gate` (when set) makes uploads wait until it is set. `uploads` holds the multipart
    uploads started and not yet completed or aborted.

    `down` makes every request fail as a refused connection would (the server is gone);
    `requests_while_down` counts them. `hooks[operation]` is called with the key before
    that operation runs (on the calling thread), to order events in a test.
    `start_gate` (when set) makes `start_upload` itself wait; with `background_uploads`,
    an upload runs in a thread of its own from `start_upload` on, as s3transfer's do, and
    lands unless cancelled first (`join_uploads` waits for them all).
    """

    bucket: str = "fake-bucket"
    objects: dict[str, StoredObject] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    fail_next: Counter[str] = field(default_factory=Counter)
    gate: threading.Event | None = None
    fail_with: StoreError | None = None
    closed: bool = False
    down: bool = False
    requests_while_down: int = 0
    hooks: dict[str, Callable[[str], None]] = field(default_factory=dict)
    start_gate: threading.Event | None = None
    background_uploads: bool = False
    page_size: int = 1000
    uploads: dict[str, FakeMultipart] = field(default_factory=dict)
    started_uploads: list[str] = field(default_factory=list)
    aborted_uploads: list[str] = field(default_factory=list)
    parts_sent: int = 0
    refuse_to_complete: set[str] = field(default_factory=set)
    complete_checksum: str = ""  # what complete_multipart answers ("": the true one)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _maybe_fail(self, operation: str, key: str = "") -> None:
        hook = self.hooks.get(operation)
        if hook is not None:
            hook(key)
        with self._lock:
            self.calls[operation] += 1
            if self.down:
                self.requests_while_down += 1
                raise unreachable_error()
            if self.fail_next[operation] > 0:
                self.fail_next[operation] -= 1
                raise self.fail_with or StoreError(
                    "Cannot reach the storage server at http://fake."
                )

    def check_bucket(self) -> None:
        self._maybe_fail("check")

    def probe(self) -> None:
        self._maybe_fail("probe")

    def find_by_hash(self, sha256: str) -> IndexEntry | None:
        self._maybe_fail("find", index_key(sha256))
        stored = self.objects.get(index_key(sha256))
        entry = IndexEntry.from_json(stored.data) if stored else None
        if entry is None or self.object_size(entry.key) != entry.size:
            return None
        return entry

    def object_size(self, key: str) -> int | None:
        self._maybe_fail("head", key)
        stored = self.objects.get(key)
        return len(stored.data) if stored else None

    def list_page(self, prefix: str, token: str | None) -> ListingPage:
        self._maybe_fail("list", prefix)
        with self._lock:
            keys = sorted(k for k in self.objects if k.startswith(prefix) and k > (token or ""))
            page = keys[: self.page_size]
            sizes = {k: len(self.objects[k].data) for k in page}
            etags = {k: hashlib.md5(self.objects[k].data).hexdigest() for k in page}
        return ListingPage(sizes, page[-1] if len(keys) > self.page_size else None, etags)

    def start_upload(
        self,
        path: Path,
        key: str,
        *,
        content_type: str,
        sha256: str,
        on_progress: ProgressCallback,
    ) -> _FakeUpload:
        if self.start_gate is not None:
            self.start_gate.wait(timeout=30)
        upload = _FakeUpload()
        upload.run = lambda: self._upload(
            path, key, content_type, sha256, on_progress, upload.cancelled
        )
        if self.background_uploads:
            upload.start_in_background()
            with self._lock:
                self._threads.append(upload.thread)  # type: ignore[arg-type]
        return upload

    def join_uploads(self, timeout: float = 10) -> None:
        for thread in list(self._threads):
            thread.join(timeout)

    def _upload(
        self,
        path: Path,
        key: str,
        content_type: str,
        sha256: str,
        on_progress: ProgressCallback,
        cancelled: threading.Event,
    ) -> None:
        deadline = time.monotonic() + 30
        while self.gate is not None and not self.gate.is_set() and time.monotonic() < deadline:
            if cancelled.wait(0.01):  # like s3transfer: a cancelled transfer stops waiting
                break
        if cancelled.is_set():
            raise StoreError("The upload was cancelled.")
        self._maybe_fail("upload", key)
        size = path.stat().st_size
        small = size <= DIRECT_PUT_LIMIT  # as S3Store: small originals only as hashed
        data = read_as_hashed(path, size, sha256) if small else path.read_bytes()
        on_progress(len(data))
        with self._lock:
            self.objects[key] = StoredObject(data, content_type)

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        if key.startswith(".photo-uploader/"):
            self._maybe_fail("record", key)
        else:
            self._maybe_fail("sidecar" if key.endswith(".json") else "put", key)
        with self._lock:
            self.objects[key] = StoredObject(data, content_type)

    def get_bytes(self, key: str, limit: int) -> bytes | None:
        self._maybe_fail("get", key)
        stored = self.objects.get(key)
        return stored.data[:limit] if stored else None

    def record_hash(self, sha256: str, entry: IndexEntry) -> None:
        self.put_bytes(index_key(sha256), entry.to_json(), content_type="application/json")

    def object_sha256(self, key: str) -> str | None:
        self._maybe_fail("get", key)
        stored = self.objects.get(key)
        return hashlib.sha256(stored.data).hexdigest() if stored else None

    def download_to(self, key: str, target: Path, *, exclusive: bool = False) -> bool:
        self._maybe_fail("get", key)
        stored = self.objects.get(key)
        if stored is None:
            return False
        with open(target, "xb" if exclusive else "wb") as handle:
            handle.write(stored.data)
        return True

    def share_url(self, key: str, seconds: int) -> str:
        return f"{FAKE_ENDPOINT}/{self.bucket}/{key}?expires={seconds}"

    def credentials_expire_at(self) -> float | None:
        return None

    def versioning_on(self) -> bool | None:
        return None

    def delete_object(self, key: str) -> None:
        self._maybe_fail("delete", key)
        with self._lock:
            self.objects.pop(key, None)

    # -- multipart: `uploads` holds those not completed or aborted, by UploadId ----------

    def create_multipart(self, key: str, *, content_type: str, sha256: str) -> str:
        self._maybe_fail("create", key)
        with self._lock:
            upload_id = f"upload-{len(self.started_uploads) + 1}"
            self.started_uploads.append(upload_id)
            self.uploads[upload_id] = FakeMultipart(key, content_type)
        return upload_id

    def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> Part:
        self._maybe_fail("part", key)
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        with self._lock:
            upload = self.uploads.get(upload_id)
            if upload is None or upload.key != key:
                raise StoreError("The storage server no longer knows this upload.")
            part = Part(number, f'"{hashlib.md5(data).hexdigest()}"', len(data), checksum)
            upload.parts[number] = (part, data)
            self.parts_sent += 1
        return part

    def list_parts(self, key: str, upload_id: str) -> dict[int, Part] | None:
        self._maybe_fail("list-parts", key)
        with self._lock:
            upload = self.uploads.get(upload_id)
            if upload is None or upload.key != key:
                return None
            return {number: part for number, (part, _data) in upload.parts.items()}

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[Part]) -> str:
        self._maybe_fail("complete", key)
        with self._lock:
            if upload_id in self.refuse_to_complete:  # as rclone does after a cut-off part
                raise UploadGone("The storage server refused the request: InvalidPart.")
            upload = self.uploads.pop(upload_id)
            data = b"".join(upload.parts[part.number][1] for part in parts)
            self.objects[key] = StoredObject(data, upload.content_type)
        return self.complete_checksum or composite_sha256(parts)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        self._maybe_fail("abort", key)
        with self._lock:
            self.aborted_uploads.append(upload_id)
            self.uploads.pop(upload_id, None)

    def close(self) -> None:
        self.closed = True
        if self.gate is not None:
            self.gate.set()

    def photo_keys(self) -> list[str]:
        """Originals and thumbnails: not the index, not the metadata sidecars."""
        return sorted(
            k
            for k in self.objects
            if not k.startswith(".photo-uploader/") and not k.endswith(".json")
        )

    def sidecar_keys(self) -> list[str]:
        return sorted(k for k in self.objects if k.endswith(".json") and not k.startswith("."))


class _FakeUpload:
    """Like an s3transfer future: cancel() makes a transfer that has not finished fail."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.run: Callable[[], None] = lambda: None
        self.thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._started = False
        self._done = threading.Event()

    def start_in_background(self) -> None:
        def work() -> None:
            try:
                self.run()
            except BaseException as exc:
                self._error = exc

        self.thread = threading.Thread(target=work, name="fake-upload", daemon=True)
        self.thread.start()

    def result(self) -> None:
        """Runs the upload the first time (in the caller's thread, or it ran in its own
        since start_upload); later calls wait for that run's outcome, as a future's do."""
        with self._lock:
            first = self.thread is None and not self._started
            self._started = True
        if first:
            try:
                self.run()
            except BaseException as exc:
                self._error = exc
            finally:
                self._done.set()
        elif self.thread is not None:
            self.thread.join()
        else:
            self._done.wait(60)
        if self._error is not None:
            raise self._error

    def cancel(self) -> None:
        self.cancelled.set()


class FakeNotifier:
    """A desktop notifier that keeps what it was asked to show (app.ui.notify.Notifier)."""

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    async def notify(self, notice: Notice) -> None:
        self.sent.append(notice)
