"""Thumbnails of images too big to decode whole: big scans and medium-format frames.

libvips (pyvips) shrinks JPEGs while decoding and streams PNG and TIFF through a small
window of rows, so a 300 MP scan needs about a hundred megabytes instead of a gigabyte.
The bomb guard judges what would actually be decoded: a JPEG decodes at 1/8 scale, so
its limit is memory; a format decoded at full size must declare at most BOMB_PIXELS,
and one that must be held whole to decode (an interlaced PNG) must fit DECODE_BUDGET.
"""

from __future__ import annotations

import threading
from pathlib import Path

from app.core import formats
from app.core.models import ImageFormat

#: Memory one decode may take (Pillow's, or libvips' for what it cannot stream).
DECODE_BUDGET = 128 * 1024 * 1024
#: A progressive JPEG holds two bytes a coefficient for its whole declared size.
PROGRESSIVE_BUDGET = 2 * DECODE_BUDGET
#: The most pixels a format that cannot be decoded at reduced scale may declare.
BOMB_PIXELS = 1_000_000_000
#: libvips streams a window of about this many rows at full width.
_WINDOW_ROWS = 64
_SHRINK_ON_LOAD = 8  # libjpeg decodes at 1/8 scale; libvips streams what follows
_WHITE = [255, 255, 255]
PARTIAL = "Only part of the image could be read (the file ends too soon), so no thumbnail was made."
DAMAGED = "The image data is damaged, so no thumbnail could be made."

_setup_lock = threading.Lock()
_vips_ready: bool | None = None


class TooBigToDecode(Exception):
    """No thumbnail: the image would not fit the memory bound; str() is the sentence."""


def too_large_message(pixels: int | None, limit: int = BOMB_PIXELS) -> str:
    if pixels is None:
        return "The image is too large to decode safely."
    return (
        f"The image is too large to decode safely ({_megapixels(pixels)} megapixels; "
        f"the limit is {_megapixels(limit)})."
    )


def progressive_limit(bytes_per_pixel: float = 3) -> int:
    """The most pixels a progressive JPEG may declare (4:2:0: 3 bytes a pixel)."""
    return int(PROGRESSIVE_BUDGET / bytes_per_pixel)


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.0f}" if pixels >= 1e6 else f"{pixels / 1e6:.2g}"


def streamed_thumbnail(path: Path, fmt: ImageFormat, max_side: int, quality: int) -> bytes:
    """JPEG bytes of an upright sRGB thumbnail, no metadata, made by libvips in bounded
    memory. Raises TooBigToDecode, or ValueError with a sentence for damaged data."""
    pyvips = _vips()
    if pyvips is None:
        raise TooBigToDecode(too_large_message(None))
    try:
        header = pyvips.Image.new_from_file(str(path), access="sequential")
        _guard(header, fmt)
        thumb = pyvips.Image.thumbnail(
            str(path), max_side, height=max_side, size="down", fail_on="truncated"
        )
        if thumb.hasalpha():
            thumb = thumb.flatten(background=_WHITE)
        if thumb.interpretation != "srgb" or thumb.format != "uchar":
            thumb = thumb.colourspace("srgb").cast("uchar")
        if thumb.bands > 3:
            thumb = thumb.extract_band(0, n=3)
        return bytes(thumb.jpegsave_buffer(Q=quality, keep="none", optimize_coding=True))
    except pyvips.Error as exc:
        text = str(exc).lower()
        cut = "truncated" in text or "premature" in text or "end of" in text
        raise ValueError(PARTIAL if cut else DAMAGED) from exc


def _guard(header: object, fmt: ImageFormat) -> None:
    width, height = header.width, header.height  # type: ignore[attr-defined]
    bands = header.bands  # type: ignore[attr-defined]
    pixels = width * height
    widest = DECODE_BUDGET // (_WINDOW_ROWS * bands * 2)  # up to 16 bits a sample
    if width > widest:
        raise TooBigToDecode(
            f"The image is too wide to decode safely ({width:,} pixels across; "
            f"the limit is {widest:,})."
        )
    if fmt is formats.JPEG and _get(header, "interlaced") == 1:  # progressive
        if pixels > progressive_limit():  # as app.core.thumbnails judges it (4:2:0)
            raise TooBigToDecode(too_large_message(pixels, progressive_limit()))
        return
    if fmt is formats.JPEG:
        needed = pixels // (_SHRINK_ON_LOAD**2) * max(bands, 3)
        if needed > DECODE_BUDGET:
            limit = DECODE_BUDGET * _SHRINK_ON_LOAD**2 // max(bands, 3)
            raise TooBigToDecode(too_large_message(pixels, limit))
        return
    if pixels > BOMB_PIXELS:
        raise TooBigToDecode(too_large_message(pixels))
    interlaced = fmt is formats.PNG and _get(header, "interlaced") == 1
    if interlaced and pixels * bands * 2 > DECODE_BUDGET:  # held whole, maybe 16-bit
        raise TooBigToDecode(too_large_message(pixels, DECODE_BUDGET // (bands * 2)))


def declared_size(path: Path) -> tuple[int, int] | None:
    """The width and height the file's header declares (read by libvips, nothing
    decoded), for images too big for Pillow to open; None when it cannot tell."""
    pyvips = _vips()
    if pyvips is None:
        return None
    try:
        header = pyvips.Image.new_from_file(str(path), access="sequential")
        return int(header.width), int(header.height)
    except pyvips.Error:
        return None


def _get(image: object, field: str) -> object:
    try:
        return image.get(field) if image.get_typeof(field) else None  # type: ignore[attr-defined]
    except Exception:
        return None


def _vips():  # type: ignore[no-untyped-def]
    """pyvips, set up once: no operation cache (each thumbnail is made once), or None
    when libvips cannot be loaded here."""
    global _vips_ready
    with _setup_lock:
        if _vips_ready is False:
            return None
        try:
            import pyvips
        except (ImportError, OSError):
            _vips_ready = False
            return None
        if not _vips_ready:
            pyvips.cache_set_max(0)
            _vips_ready = True
        return pyvips
