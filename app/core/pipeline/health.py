"""What the files going to one destination learn together: that it is unusable, that it
cannot be reached (one outage, however many files notice it), and how much retrying the
destination has earned by answering."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from app.core.errors import StoreError
from app.core.models import Outage, OutageStatus
from app.core.retry import RetryPolicy

log = logging.getLogger(__name__)

#: Passing failures a destination may excuse before it has to answer again: each request
#: that gets through earns one back (as the SDKs' retry quota does).
RETRY_QUOTA = 50


StatusListener = Callable[[OutageStatus], None]


class _Outage:
    def __init__(self, reason: StoreError, started: float) -> None:
        self.reason = reason
        self.started = started
        self.over: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.watch: asyncio.Task[None] | None = None


class DestinationHealth:
    """Shared by every file sent to one destination.

    - A failure that makes the destination unusable (credentials, bucket, clock) blocks
      it: the other files fail with the same sentence without asking, until Retry.
    - A server that cannot be reached is one outage: files wait behind it while one
      watcher asks the server now and then (`probe`); when anything gets through they all
      carry on at once; when it stays away for the policy's whole budget
      (`min_total_delay`, at least 30 s by default) they all fail with that reason at
      once, and the destination is blocked until Retry.
    - A passing failure (throttling, a server error, a lost connection) while other
      requests to the destination got through is excused: the file does not use up a try
      while the server is visibly working, drawing on RETRY_QUOTA instead.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        probe: Callable[[], Awaitable[None]],
        on_status: StatusListener,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._policy = policy
        self._probe = probe
        self._on_status = on_status
        self._clock = clock
        self._sleep = sleep
        self.successes = 0  # requests that got through, ever
        self.blocked: StoreError | None = None
        self._outage: _Outage | None = None
        self._quota = RETRY_QUOTA

    # -- unusable ------------------------------------------------------------------

    def check(self) -> None:
        """Raise the reason the destination cannot be used, if there is one."""
        if self.blocked is not None:
            raise StoreError(str(self.blocked), permanent=True, whole_destination=True)

    def block(self, error: StoreError) -> None:
        self.blocked = error

    def unblock(self) -> None:
        """The collector may have fixed it (Retry)."""
        self.blocked = None

    # -- answers and passing failures ----------------------------------------------

    def now(self) -> float:
        return self._clock()

    def succeeded(self, sent_at: float | None = None) -> None:
        """A request got through. It ends an outage only if it was sent after the outage
        began: an answer to a request sent before says nothing about the server now."""
        self.successes += 1
        self._quota = min(RETRY_QUOTA, self._quota + 1)
        outage = self._outage
        if outage is not None and (sent_at is None or sent_at >= outage.started):
            self._end(outage)

    def excuse(self, successes_before: int) -> bool:
        """Whether a passing failure is excused: other requests got through since
        `successes_before`, and the shared quota lasts."""
        if self.successes > successes_before and self._quota > 0:
            self._quota -= 1
            return True
        return False

    # -- outages -------------------------------------------------------------------

    @property
    def unreachable(self) -> StoreError | None:
        """Why the server cannot be reached, during an outage."""
        return self._outage.reason if self._outage is not None else None

    def lost_contact(self, error: StoreError) -> None:
        """A request could not reach the server: start an outage unless one is on."""
        if self._outage is not None or self.blocked is not None:
            return
        outage = self._outage = _Outage(error, self._clock())
        outage.watch = asyncio.get_running_loop().create_task(
            self._watch(outage), name="outage-watch"
        )
        log.info("outage: %s", error)

    async def wait_for_contact(self) -> None:
        """Return at once unless an outage is on; then once it is over, or raise its
        reason when it was given up."""
        outage = self._outage
        if outage is not None:
            await asyncio.shield(outage.over)

    async def aclose(self) -> None:
        outage = self._outage
        if outage is not None and outage.watch is not None:
            outage.watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await outage.watch

    async def _watch(self, outage: _Outage) -> None:
        """Ask the server now and then until it answers or the budget is spent."""
        policy = self._policy
        deadline = outage.started + policy.min_total_delay()
        # Often enough that files resume soon after the server is back.
        cap = max(policy.base_delay, policy.max_delay / 8)
        reason = str(outage.reason)
        tries = 0
        while not outage.over.done():
            tries += 1
            left = max(0.0, deadline - self._clock())
            wait = min(policy.delay(tries), cap, left)
            self._tell(outage, Outage.DOWN, retry_in=wait)
            await self._sleep(wait)
            if outage.over.done():
                return  # something got through meanwhile
            try:
                await self._probe()
            except StoreError as exc:
                if exc.unreachable:
                    if self._clock() >= deadline:
                        self._give_up(outage)
                        return
                    continue
            except Exception:  # a probe that breaks must not end the watch
                log.exception("probing the storage server failed (%s)", reason)
                continue
            self._end(outage)  # it answered (whatever it said: the files will hear it)

    def _end(self, outage: _Outage) -> None:
        if self._outage is outage:
            self._outage = None
        if not outage.over.done():
            outage.over.set_result(None)
            self._tell(outage, Outage.BACK)
            log.info("outage over after %.1f s", self._clock() - outage.started)

    def _give_up(self, outage: _Outage) -> None:
        lasted = self._clock() - outage.started
        error = StoreError(f"{outage.reason} (Tried for {round(lasted)} s.)")
        self.blocked = error  # the files still queued fail with it at once, until Retry
        if self._outage is outage:
            self._outage = None
        if not outage.over.done():
            outage.over.set_exception(error)
            outage.over.exception()  # retrieved: nobody may be waiting any more
        self._tell(outage, Outage.GAVE_UP)
        log.info("outage: gave up after %.1f s", lasted)

    def _tell(self, outage: _Outage, state: Outage, *, retry_in: float | None = None) -> None:
        status = OutageStatus(
            state,
            str(outage.reason).split(". ", 1)[0].rstrip(".") + ".",
            retry_in=retry_in,
            lasted=self._clock() - outage.started,
        )
        try:
            self._on_status(status)
        except Exception:
            log.exception("a listener of the destination's status failed")
