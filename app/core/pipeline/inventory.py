"""What the bucket already holds, learnt with one paged LIST per prefix instead of a
lookup per file.

A new file used to cost a GET of its index entry (404) and a HEAD of its own key (404)
before its PUTs. Now each destination lists the content-hash index and its key prefix
once, keeps the listing current as its files write, and answers "not there" from it.
A "there" is always confirmed with the store (other computers write and delete too),
and while a listing is loading, stale or failed, files ask the store as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from app.core.errors import StoreError
from app.core.retry import RetryPolicy
from app.core.store import INDEX_PREFIX, ListingPage, index_key

log = logging.getLogger(__name__)

#: A listing older than this is taken again before it answers for anyone: files written
#: by other computers since then may otherwise be sent a second time.
MAX_AGE = 300.0
#: A listing that failed (the server away, no permission to list) is tried again after
#: this long; meanwhile files ask the store one by one.
RETRY_FAILED_AFTER = 30.0
#: How long a file waits for a listing being taken before it asks the store itself.
WAIT_FOR_LISTING = 2.0
#: A page the server was too busy for is asked for again this way (files do not wait
#: for it past WAIT_FOR_LISTING meanwhile).
LISTING_RETRY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=2.0)

PageReader = Callable[[str, str | None], Awaitable[ListingPage]]


class Listing:
    """The keys and sizes under one prefix: one paged LIST, plus what was written and
    removed since it started. `ready()` says whether it may answer now, and starts
    taking it (again) when it is missing or older than MAX_AGE."""

    def __init__(
        self,
        prefix: str,
        read_page: PageReader,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_age: float = MAX_AGE,
        retry: RetryPolicy = LISTING_RETRY,
        refused: Callable[[StoreError], None] = lambda _error: None,
    ) -> None:
        self.prefix = prefix
        self._read_page = read_page
        self._retry = retry
        self._refused = refused
        self._clock = clock
        self._max_age = max_age
        self._sizes: dict[str, int] | None = None
        self._taken_at = 0.0
        # What files wrote (size) or removed (None), numbered in order: a listing started
        # after change n holds changes up to n, so those then come off the top.
        self._changes: dict[str, tuple[int | None, int]] = {}
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self._failed_at: float | None = None  # not tried again for RETRY_FAILED_AFTER
        self.pages_read = 0

    def start(self) -> bool:
        """Start taking the listing when it is missing or stale (and not failed just now);
        True when it can answer at once."""
        if self._sizes is not None and self._clock() - self._taken_at <= self._max_age:
            return True
        if self._failed_at is not None and self._clock() - self._failed_at < RETRY_FAILED_AFTER:
            return False
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._take(self._count), name=f"list-{self.prefix or 'bucket'}"
            )
        return False

    async def ready(self, wait: float = WAIT_FOR_LISTING) -> bool:
        """True when the listing can answer; starts taking it when missing or stale, and
        waits up to `wait` seconds for one being taken."""
        if self.start():
            return True
        if self._task is None:
            return False  # failed a moment ago: files ask the store meanwhile
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), wait)
        return self._sizes is not None and self._clock() - self._taken_at <= self._max_age

    def size(self, key: str) -> int | None:
        """The size of the object at `key` as far as the listing knows (call `ready` first)."""
        if key in self._changes:
            return self._changes[key][0]
        return None if self._sizes is None else self._sizes.get(key)

    def wrote(self, key: str, size: int) -> None:
        self._change(key, size)

    def removed(self, key: str) -> None:
        self._change(key, None)

    def _change(self, key: str, size: int | None) -> None:
        if key.startswith(self.prefix):
            self._count += 1
            self._changes[key] = (size, self._count)

    async def _take(self, changes_before: int) -> None:
        started = self._clock()
        sizes: dict[str, int] = {}
        token: str | None = None
        try:
            while True:
                page = await self._read_with_retries(token)
                self.pages_read += 1
                sizes.update(page.sizes)
                token = page.next_token
                if token is None:
                    break
        except StoreError as exc:
            self._failed_at = self._clock()
            if exc.whole_destination:  # wrong keys, no such bucket: every file is told
                self._refused(exc)
            log.info("listing %r failed; files will ask the store one by one: %s", self.prefix, exc)
            return
        except Exception:
            self._failed_at = self._clock()
            log.exception("listing %r failed; files will ask the store one by one", self.prefix)
            return
        finally:
            self._task = None
        # What files wrote while it was taken stays on top; what they wrote before is in it.
        self._changes = {k: c for k, c in self._changes.items() if c[1] > changes_before}
        self._sizes, self._taken_at, self._failed_at = sizes, started, None

    async def _read_with_retries(self, token: str | None) -> ListingPage:
        """One page; a server that answered with a passing error (busy, an internal
        error) is asked again a few times. An unreachable one is not: files then ask the
        store themselves, and wait for it together."""
        retry = 0
        while True:
            try:
                return await self._read_page(self.prefix, token)
            except StoreError as exc:
                retry += 1
                if exc.unreachable or not exc.retryable or retry >= self._retry.attempts:
                    raise
                await asyncio.sleep(self._retry.delay(retry))

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class BucketInventory:
    """The two listings a destination's files ask: the content-hash index (bucket-wide)
    and the destination's key prefix (for content already at a file's own key)."""

    def __init__(
        self,
        prefix: str,
        read_page: PageReader,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_age: float = MAX_AGE,
        retry: RetryPolicy = LISTING_RETRY,
        refused: Callable[[StoreError], None] = lambda _error: None,
    ) -> None:
        """`refused` hears of a listing refused in a way every request will be (the
        destination's health blocks the files then, as their own first request would)."""
        options = {"clock": clock, "max_age": max_age, "retry": retry, "refused": refused}
        self.index = Listing(INDEX_PREFIX, read_page, **options)  # type: ignore[arg-type]
        self.objects = Listing(prefix, read_page, **options)  # type: ignore[arg-type]

    def start(self) -> None:
        """Take both listings now, side by side, rather than one after the other when
        the first file asks (each is a round trip before anything is sent)."""
        self.index.start()
        self.objects.start()

    async def may_hold_content(self, sha256: str) -> bool:
        """False when the index surely has no entry for this content; True when it may
        (look it up, and confirm, with the store)."""
        if not await self.index.ready():
            return True
        return self.index.size(index_key(sha256)) is not None

    async def may_hold(self, key: str, size: int) -> bool:
        """False when no object of this size surely sits at `key`; True when one may."""
        if not await self.objects.ready():
            return True
        return self.objects.size(key) == size

    async def may_have(self, key: str) -> bool:
        """False when surely nothing sits at `key` (a key outside the destination's
        prefix is never surely absent: it was not listed)."""
        if not key.startswith(self.objects.prefix) or not await self.objects.ready():
            return True
        return self.objects.size(key) is not None

    def recorded(self, sha256: str, entry_size: int) -> None:
        self.index.wrote(index_key(sha256), entry_size)

    def wrote(self, key: str, size: int) -> None:
        self.objects.wrote(key, size)

    def removed(self, key: str) -> None:
        self.objects.removed(key)

    async def aclose(self) -> None:
        await self.index.aclose()
        await self.objects.aclose()
