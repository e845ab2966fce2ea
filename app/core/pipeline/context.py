"""Where a file goes and how: the store, settings and prefix it started with."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from app.core.config import Destination, EngineSettings
from app.core.pipeline.health import DestinationHealth
from app.core.pipeline.inventory import BucketInventory
from app.core.store import ObjectStore


@dataclass(eq=False)
class PipelineContext:
    """Where and how files are sent. A file keeps the context it started with, so its
    thumbnail always lands beside its original even if settings change meanwhile.

    A context the settings moved on from is `retired`: its store is closed once no file
    uses it (`active`), and opened again (`store_open`) if a retry needs it.
    """

    store: ObjectStore
    settings: EngineSettings
    prefix: str
    destination_id: str = ""  # see journal.destination_identity
    destination_spec: str = ""  # see Destination.spec
    # What its files learn together: unusable, unreachable, how much retrying it earned.
    health: DestinationHealth = field(kw_only=True)
    # What the bucket holds already, from one listing rather than a lookup per file.
    inventory: BucketInventory = field(kw_only=True)
    destination: Destination | None = None  # to open the store again (None: never closed)
    active: int = 0  # files running under this context
    retired: bool = False
    store_open: bool = True
    bucket_id: str = field(init=False)

    def __post_init__(self) -> None:
        # The bucket as single flight names it: endpoint (or label) and bucket name,
        # whatever the prefix, as the content-hash index is bucket-wide.
        bucket, endpoint = (
            json.loads(self.destination_id)[:2] if self.destination_id else (self.store.bucket, "")
        )
        self.bucket_id = json.dumps([bucket, endpoint])
