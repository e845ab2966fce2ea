"""Small previews per file, decoded off the GUI thread in the cache's own pool, LRU-bounded."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage

from app.core.models import FileSnapshot
from app.ui.background import Background, Outcome

log = logging.getLogger(__name__)


def _default_remake(path: Path) -> bytes:
    """A small JPEG of the original, for previews evicted from the cache."""
    from app.core.thumbnails import ThumbnailSpec, make_thumbnail

    return make_thumbnail(path, ThumbnailSpec(max_side=96))


def _default_large_remake(path: Path) -> bytes:
    """The detail pane's preview of the original, when its thumbnail's bytes are no
    longer held (a queue restored after a restart)."""
    from app.core.thumbnails import ThumbnailSpec, make_thumbnail

    return make_thumbnail(path, ThumbnailSpec(max_side=LARGE_SIDE))


LARGE_SIDE = 480  # the pane shows 240 logical px: crisp on a 2x screen


def shrink_image(image: QImage, side: int) -> QImage:
    """`image` scaled to fit `side` x `side`, in a format that paints fast."""
    if max(image.width(), image.height()) > side:
        image = image.scaled(
            side,
            side,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    wanted = (
        QImage.Format.Format_ARGB32_Premultiplied
        if image.hasAlphaChannel()
        else QImage.Format.Format_RGB32
    )
    if image.format() != wanted:
        image = image.convertToFormat(wanted)
    return image


def decode_preview(data: bytes, side: int) -> QImage | None:
    """Decode JPEG (or any Qt-readable) bytes into a preview of at most `side` px."""
    image = QImage.fromData(data)
    if image.isNull():
        return None
    return shrink_image(image, side)


@dataclass(frozen=True, slots=True)
class _Result:
    file_id: int
    token: int
    image: QImage | None


class PreviewCache(QObject):
    """Small preview images per file id, decoded off the GUI thread, LRU-bounded.

    The engine hands out a file's thumbnail bytes only once or twice; `offer` keeps a
    copy of the bytes of the most recent files (for `large_preview`) and decodes a
    `side`-px QImage in the cache's own thread pool. When a preview was evicted, the
    model calls `request` for a row on screen and the preview is re-made from the
    original file (`remake`; None disables this).

    Decoding runs through the cache's own Background (app.ui.background): workers only
    make QImages (fine off the GUI thread), and results are handled on the GUI thread.

    Signals:
        preview_ready(int): `preview_for(file_id)` now returns an image.
    """

    preview_ready = Signal(int)

    def __init__(
        self,
        *,
        side: int = 48,
        max_images: int = 4000,
        max_jpegs: int = 200,
        max_waiting: int = 64,
        remake: Callable[[Path], bytes] | None = _default_remake,
        large_remake: Callable[[Path], bytes] | None = _default_large_remake,
        workers: int = 2,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.side = side
        self._max_images = max_images
        self._max_jpegs = max_jpegs
        self._max_waiting = max_waiting
        self._remake = remake
        self._large_remake = large_remake
        self._large_asked: set[int] = set()
        self._workers = workers
        self._images: OrderedDict[int, QImage] = OrderedDict()
        self._jpegs: OrderedDict[int, bytes] = OrderedDict()
        self._decode_wanted: OrderedDict[int, bytes] = OrderedDict()
        self._remake_wanted: OrderedDict[int, Path] = OrderedDict()
        self._running: dict[int, int] = {}  # file id -> token of the job in flight
        self._tokens: dict[int, int] = {}  # latest token per id: stale results are dropped
        self._next_token = 0
        self._failed: set[int] = set()
        self._closed = False
        self._background = Background(workers=workers, name="preview")

    # -- public ----------------------------------------------------------------------

    def offer(self, snap: FileSnapshot) -> None:
        """Take a copy of `snap.thumbnail_jpeg` the first time it comes by."""
        data = snap.thumbnail_jpeg
        if data is None or self._closed:
            return
        file_id = snap.file_id
        held = self._jpegs.get(file_id)
        if held is not None and (held is data or held == data):
            self._jpegs.move_to_end(file_id)
            return
        self._hold_jpeg(file_id, data)
        self._failed.discard(file_id)
        self._remake_wanted.pop(file_id, None)
        self._decode_wanted[file_id] = data
        self._decode_wanted.move_to_end(file_id)
        while len(self._decode_wanted) > self._max_images:
            self._decode_wanted.popitem(last=False)
        self._tokens[file_id] = self._new_token()
        self._pump()

    def preview_for(self, file_id: int) -> QImage | None:
        image = self._images.get(file_id)
        if image is not None:
            self._images.move_to_end(file_id)
        return image

    def request(self, file_id: int, path: Path) -> None:
        """Ask for a preview that `preview_for` lacks (from held bytes or the original)."""
        if (
            self._closed
            or file_id in self._images
            or file_id in self._failed
            or file_id in self._running
            or file_id in self._decode_wanted
        ):
            return
        held = self._jpegs.get(file_id)
        if held is not None:
            self._decode_wanted[file_id] = held
        elif self._remake is not None:
            self._remake_wanted[file_id] = path
            self._remake_wanted.move_to_end(file_id)
            while len(self._remake_wanted) > self._max_waiting:
                self._remake_wanted.popitem(last=False)  # scrolled past: not wanted now
        else:
            return
        self._tokens[file_id] = self._new_token()
        self._pump()

    def large_preview(self, file_id: int) -> QImage | None:
        """The full thumbnail if its bytes are still held (the most recent files), else None."""
        data = self._jpegs.get(file_id)
        if data is None:
            return None
        image = QImage.fromData(data)
        return None if image.isNull() else image

    def request_large(self, file_id: int, path: Path) -> bool:
        """Make the pane's preview from the original when `large_preview` has none (its
        thumbnail's bytes are not held: a queue restored after a restart); once per file.
        `preview_ready` says when it is there. False when nothing will come."""
        if file_id in self._jpegs:
            return True
        if self._closed or self._large_remake is None or file_id in self._large_asked:
            return False
        self._large_asked.add(file_id)
        remake = self._large_remake
        self._background.submit(
            lambda: remake(path), then=lambda outcome: self._large_made(file_id, outcome)
        )
        return True

    def _large_made(self, file_id: int, outcome: Outcome[bytes]) -> None:
        if self._closed or file_id not in self._large_asked:
            return  # closed, or forgotten meanwhile
        if outcome.error is not None or not outcome.value:
            # (The original moved away, say.) Ready all the same: the pane stops saying
            # it is loading, and asks no more (request_large answers False now).
            log.debug("no large preview for file %s: %s", file_id, outcome.error)
            self.preview_ready.emit(file_id)
            return
        self._hold_jpeg(file_id, outcome.value)
        self.preview_ready.emit(file_id)

    def _hold_jpeg(self, file_id: int, data: bytes) -> None:
        """Keep a file's thumbnail bytes, the most recent `max_jpegs`; one evicted is made
        again by `request_large` if its file is shown in the pane again (whichever way
        its bytes came: from the engine, or made for the pane)."""
        self._jpegs[file_id] = data
        self._jpegs.move_to_end(file_id)
        while len(self._jpegs) > self._max_jpegs:
            evicted, _data = self._jpegs.popitem(last=False)
            self._large_asked.discard(evicted)

    def forget(self, file_ids: Iterable[int]) -> None:
        for file_id in file_ids:
            self._large_asked.discard(file_id)
            self._images.pop(file_id, None)
            self._jpegs.pop(file_id, None)
            self._decode_wanted.pop(file_id, None)
            self._remake_wanted.pop(file_id, None)
            self._tokens.pop(file_id, None)
            self._failed.discard(file_id)

    def close(self) -> None:
        """Stop the workers (waits for the few jobs running). Idempotent."""
        self._closed = True
        self._decode_wanted.clear()
        self._remake_wanted.clear()
        self._background.shutdown(wait=True)

    # -- internals -------------------------------------------------------------------

    def _new_token(self) -> int:
        self._next_token += 1
        return self._next_token

    def _pump(self) -> None:
        while len(self._running) < self._workers and not self._closed:
            if self._decode_wanted:
                file_id, data = self._decode_wanted.popitem(last=False)
                job: Callable[[], QImage | None] = _bound(decode_preview, data, self.side)
            elif self._remake_wanted and self._remake is not None:
                file_id, path = self._remake_wanted.popitem(last=True)  # latest request first
                job = _bound(_remake_preview, self._remake, path, self.side)
            else:
                return
            token = self._tokens.get(file_id, 0)
            self._running[file_id] = token
            self._background.submit(job, then=self._when_decoded(file_id, token))

    def _when_decoded(self, file_id: int, token: int) -> Callable[[Outcome[QImage | None]], None]:
        def decoded(outcome: Outcome[QImage | None]) -> None:
            if outcome.error is not None:  # an unreadable file: a placeholder, not a crash
                log.debug("no preview for file %s: %s", file_id, outcome.error)
            self._on_finished(_Result(file_id, token, outcome.value))

        return decoded

    def _on_finished(self, result: _Result) -> None:
        if self._closed:
            return
        if self._running.get(result.file_id) == result.token:
            del self._running[result.file_id]
        if self._tokens.get(result.file_id) == result.token:
            if result.image is None:
                self._failed.add(result.file_id)
            else:
                self._images[result.file_id] = result.image
                self._images.move_to_end(result.file_id)
                while len(self._images) > self._max_images:
                    self._images.popitem(last=False)
                self.preview_ready.emit(result.file_id)
        self._pump()


def _bound(fn: Callable[..., QImage | None], *args: Any) -> Callable[[], QImage | None]:
    return lambda: fn(*args)


def _remake_preview(remake: Callable[[Path], bytes], path: Path, side: int) -> QImage | None:
    return decode_preview(remake(path), side)
