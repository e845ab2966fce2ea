"""What the Bucket tab reads with: a destination and a store for it."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.config import Destination
from app.core.store import S3Store


@dataclass(frozen=True, slots=True)
class BucketAccess:
    """A destination and a store to read it with (made off the GUI thread)."""

    destination: Destination
    store: S3Store
    local: bool
