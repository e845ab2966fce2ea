"""Where a file goes and how: the store, settings and prefix it started with."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.config import EngineSettings
from app.core.errors import StoreError
from app.core.store import ObjectStore


@dataclass(eq=False)
class PipelineContext:
    """Where and how files are sent. A file keeps the context it started with, so its
    thumbnail always lands beside its original even if settings change meanwhile."""

    store: ObjectStore
    settings: EngineSettings
    prefix: str
    destination_id: str = ""  # see journal.destination_identity
    active: int = 0  # files running under this context
    # A failure that makes the destination unusable (credentials, bucket, clock): the
    # other files fail with it at once instead of asking the server again, until Retry.
    blocked: StoreError | None = None
