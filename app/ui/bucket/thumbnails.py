"""Thumbnails for the Bucket tab's grid, and the larger image of the selected photo:
fetched and decoded off the GUI thread (a QImage is plain data), each asked for once
while it is on its way."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QImage

from app.core.collection import ReadableStore
from app.ui.background import Background, Outcome
from app.ui.preview_cache import decode_preview

#: A thumbnail or preview bigger than this is not ours: not fetched.
IMAGE_LIMIT = 8 * 1024 * 1024
FETCH_WORKERS = 4


def fetch_image(store: ReadableStore, key: str, side: int) -> QImage | None:
    """`key`'s image, at most `side` px (blocking: a worker's job)."""
    data = store.get_bytes(key, IMAGE_LIMIT)
    return decode_preview(data, side) if data else None


class ImageFetcher:
    """Images by key for one store at a time, a few in flight, the most recently asked
    for first: after a fast scroll the cells on screen now come before those scrolled
    past, and at most MAX_WAITING wait (the oldest are dropped: a cell painted again
    asks again). `reset` forgets what is on its way (a new destination, a refresh)."""

    MAX_WAITING = 240

    def __init__(self, workers: int = FETCH_WORKERS) -> None:
        self._background = Background(workers=workers, name="bucket-images")
        self._workers = workers
        self._running = 0
        self._waiting: OrderedDict[tuple[str, int], _Wanted] = OrderedDict()
        self._asked: set[tuple[str, int]] = set()  # waiting or running
        self._generation = 0

    def reset(self) -> None:
        self._generation += 1
        self._waiting.clear()
        self._asked.clear()
        self._running = 0

    def fetch(
        self,
        store: ReadableStore,
        key: str,
        side: int,
        then: Callable[[str, QImage | None], None],
    ) -> None:
        """Fetch `key` (unless it is already on its way); `then(key, image or None)` on
        the GUI thread."""
        wanted = (key, side)
        if wanted in self._waiting:
            self._waiting.move_to_end(wanted)  # asked again: sooner
            return
        if wanted in self._asked:
            return
        self._asked.add(wanted)
        self._waiting[wanted] = _Wanted(store, then)
        while len(self._waiting) > self.MAX_WAITING:
            dropped, _ = self._waiting.popitem(last=False)
            self._asked.discard(dropped)
        self._start_next()

    def _start_next(self) -> None:
        while self._running < self._workers and self._waiting:
            (key, side), wanted = self._waiting.popitem(last=True)
            self._running += 1
            done = self._arrival(key, side, wanted.then)
            self._background.submit(fetch_image, wanted.store, key, side, then=done)

    def _arrival(
        self, key: str, side: int, then: Callable[[str, QImage | None], None]
    ) -> Callable[[Outcome[QImage | None]], None]:
        generation = self._generation

        def arrived(outcome: Outcome[QImage | None]) -> None:
            if generation != self._generation:
                return  # reset meanwhile (its count went with it)
            self._running -= 1
            self._asked.discard((key, side))
            then(key, outcome.value if outcome.error is None else None)
            self._start_next()

        return arrived

    def shutdown(self) -> None:
        self._background.shutdown()


@dataclass(frozen=True, slots=True)
class _Wanted:
    store: ReadableStore
    then: Callable[[str, QImage | None], None]
