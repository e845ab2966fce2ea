"""What the Bucket tab reads with: a destination and a store for it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.core.checkup import RepairableStore
from app.core.config import Destination
from app.core.sharing import SharingStore


class BucketStore(RepairableStore, SharingStore, Protocol):
    """Everything the tab asks of a store: S3Store is the real one; tests may pass
    tests.helpers.fakes.FakeStore."""

    def download_to(self, key: str, target: Path, *, exclusive: bool = False) -> bool: ...
    def versioning_on(self) -> bool | None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class BucketAccess:
    """A destination and a store to read it with (made off the GUI thread)."""

    destination: Destination
    store: BucketStore
    local: bool
