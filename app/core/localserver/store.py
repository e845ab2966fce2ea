"""The local test bucket as a store: S3 through the shared server, kept running."""

from __future__ import annotations

from collections.abc import Callable

from app.core.config import Destination
from app.core.localserver.shared import SharedLocalBucket
from app.core.store import ObjectStore, S3Store


class LocalBucketStore(S3Store):
    """S3Store for the local test bucket. While its files wait out an outage, its probe
    first starts the data folder's server again if it went away with the process that
    owned it (the window quit while this CLI run was using its server, say), so the
    files carry on instead of failing."""

    def __init__(
        self, destination: Destination, *, concurrency: int, bucket: SharedLocalBucket
    ) -> None:
        super().__init__(destination, concurrency=concurrency)
        self._bucket = bucket

    def probe(self) -> None:
        self._bucket.ensure_running()
        super().probe()


def local_store_factory(
    bucket: SharedLocalBucket,
) -> Callable[[Destination, int], ObjectStore]:
    """A store factory (see app.core.engine) for destinations on `bucket`."""

    def make(destination: Destination, concurrency: int) -> ObjectStore:
        if destination.label is not None:  # the local test bucket
            return LocalBucketStore(destination, concurrency=concurrency, bucket=bucket)
        return S3Store(destination, concurrency=concurrency)

    return make
