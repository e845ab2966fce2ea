"""Where files are sent: today's destination and those the settings moved on from."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from app.core.config import Destination, EngineSettings
from app.core.journal import destination_identity
from app.core.models import OutageStatus
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.health import DestinationHealth, StatusListener
from app.core.pipeline.inventory import LISTING_RETRY, BucketInventory
from app.core.pipeline.tools import PipelineTools
from app.core.retry import RetryPolicy
from app.core.store import ListingPage, ObjectStore

log = logging.getLogger(__name__)

StoreOpener = Callable[[Destination], ObjectStore]


class Destinations:
    """The contexts files are sent with. `current` is where files starting now go; one the
    settings moved on from is retired: its store is closed once no file uses it, and
    opened again (with `reopen`) if a retry needs it. Without `reopen` stores stay open.
    Every context's outages are told to the status observers.
    """

    def __init__(
        self,
        tools: PipelineTools,
        reopen: StoreOpener | None,
        store: ObjectStore,
        settings: EngineSettings,
        prefix: str,
        destination: Destination | None,
    ) -> None:
        self._tools = tools
        self._reopen = reopen
        self._observers: list[StatusListener] = []
        self._contexts: list[PipelineContext] = []
        self.current = self._new(store, settings, prefix, destination)

    def add_status_observer(self, observer: StatusListener) -> None:
        self._observers.append(observer)

    def switch(
        self,
        store: ObjectStore,
        settings: EngineSettings,
        prefix: str,
        destination: Destination | None,
    ) -> None:
        """Files starting from now on go here; the old context retires."""
        old, self.current = self.current, self._new(store, settings, prefix, destination)
        old.retired = True
        self._maybe_close(old)

    async def use(self, context: PipelineContext) -> None:
        """A file runs with `context` (until `release`): its store is opened if need be."""
        context.active += 1
        if not context.store_open:
            assert self._reopen is not None and context.destination is not None
            context.store = await self._tools.run_io(self._reopen, context.destination)
            context.store_open = True

    def release(self, context: PipelineContext) -> None:
        context.active -= 1
        self._maybe_close(context)

    def open_stores(self) -> list[ObjectStore]:
        """Stores not closed yet: the owner closes them when the pipeline is closed."""
        return [c.store for c in self._contexts if c.store_open]

    async def aclose(self) -> None:
        for context in self._contexts:
            await context.health.aclose()
            await context.inventory.aclose()

    def _maybe_close(self, context: PipelineContext) -> None:
        if not (context.retired and context.active == 0 and context.store_open):
            return
        if self._reopen is None or context.destination is None:
            return  # it could not be opened again: it stays open until the end
        context.store_open = False
        self._tools.spawn(self._tools.run_io(context.store.close), name="close-retired-store")

    def _new(
        self,
        store: ObjectStore,
        settings: EngineSettings,
        prefix: str,
        destination: Destination | None,
    ) -> PipelineContext:
        def probe() -> Awaitable[None]:  # whatever store the context has by then
            return self._tools.run_io(context.store.probe)

        def read_page(prefix: str, token: str | None) -> Awaitable[ListingPage]:
            return self._tools.run_io(context.store.list_page, prefix, token)

        health = DestinationHealth(settings.retry, probe, self._tell)
        inventory = BucketInventory(
            prefix, read_page, retry=_listing_retry(settings.retry), refused=health.block
        )
        if destination is None:
            context = PipelineContext(store, settings, prefix, health=health, inventory=inventory)
        else:
            context = PipelineContext(
                store,
                settings,
                prefix,
                destination_identity(destination),
                destination.spec(),
                health=health,
                inventory=inventory,
                destination=destination,
            )
        self._contexts.append(context)
        return context

    def _tell(self, status: OutageStatus) -> None:
        for observer in list(self._observers):
            try:
                observer(status)
            except Exception:
                log.exception("an observer of the destination's status failed: %r", observer)


def _listing_retry(files: RetryPolicy) -> RetryPolicy:
    """At most LISTING_RETRY's tries, paced as the files' own retries are."""
    return replace(
        files,
        attempts=min(files.attempts, LISTING_RETRY.attempts),
        max_delay=min(files.max_delay, LISTING_RETRY.max_delay),
    )
