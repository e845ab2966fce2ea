"""Single flight: identical content on its way to one bucket is sent once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from app.core.store import IndexEntry

#: (the bucket, as `bucket_identity` names it; the content's SHA-256)
FlightKey = tuple[str, str]


class SingleFlight:
    """The first file with some content leads: it checks the bucket and sends the content.
    Files with the same content for the same bucket wait for it and learn where the
    content landed; if it did not land (the leader failed or was cancelled), the next one
    leads.

    Keyed by bucket (endpoint and bucket name, whatever the prefix), as the content-hash
    index is bucket-wide: a copy on its way to another bucket is no reason to skip this one.
    """

    def __init__(self) -> None:
        self._flights: dict[FlightKey, asyncio.Future[IndexEntry | None]] = {}

    async def follow(self, key: FlightKey, on_wait: Callable[[], None]) -> IndexEntry | None:
        """Wait while another file leads for `key`: where it landed the content, or None
        when nobody leads (any more) and the caller should `lead`."""
        while (flight := self._flights.get(key)) is not None:
            on_wait()
            entry = await asyncio.shield(flight)
            if entry is not None:
                return entry
        return None

    def lead(self, key: FlightKey) -> None:
        """The caller leads for `key` until it calls `land`."""
        self._flights[key] = asyncio.get_running_loop().create_future()

    def land(self, key: FlightKey, entry: IndexEntry | None) -> None:
        """Tell the followers where the content is (None: it did not make it)."""
        flight = self._flights.pop(key, None)
        if flight is not None and not flight.done():
            flight.set_result(entry)
