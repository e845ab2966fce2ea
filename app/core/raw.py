"""The preview a camera RAW file carries: the JPEG its camera made, which the thumbnail is
made from. (Developing the sensor data itself would take seconds per photo and need not
look like what the photographer saw on the camera.)

TIFF-based RAWs are read directly: their directories point at their JPEGs. RAF has its
own header saying where its JPEG is. Anything else (CR3; ORF, whose preview sits in the
maker notes) goes to LibRaw through rawpy.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from app.core import formats, tiff
from app.core.models import ImageFormat

NO_PREVIEW = "This RAW file has no embedded preview that could be read, so no thumbnail was made."
MAX_PREVIEW_BYTES = 64 * 1024 * 1024
_MAX_SEGMENTS = 256  # JPEG segments looked through for the frame header
_RAF_POINTER = 84  # big-endian offset and length of RAF's JPEG
# LibRaw's "flip" -> the EXIF orientation that says the same.
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}
# Frame types Pillow decodes: baseline, extended and progressive DCT. Lossless JPEG
# (C3), in which CR2 and DNG keep sensor data, looks like a JPEG too but is not a preview.
_DISPLAYABLE_FRAMES = frozenset({0xC0, 0xC1, 0xC2})


class NoPreview(Exception):
    """The RAW file carries no preview we can use; str() is the sentence to show."""


@dataclass(frozen=True, slots=True)
class Preview:
    data: bytes  # JPEG (PNG for the rare RAW whose preview is a bitmap)
    orientation: int | None  # the RAW's own when it records one; else the JPEG's EXIF


@dataclass(frozen=True, slots=True)
class _Candidate:
    offset: int
    length: int
    longest_side: int


def embedded_preview(file: IO[bytes], path: Path, fmt: ImageFormat, min_side: int) -> Preview:
    """The smallest embedded preview whose longest side is at least `min_side` (else the
    largest there is). Raises NoPreview."""
    read_at = tiff.file_reader(file)
    orientation = None
    candidates: list[_Candidate] = []
    if fmt is formats.RAF:
        candidates = _raf_previews(read_at)
    elif fmt is not formats.CR3:
        reader = tiff.TiffReader.open(read_at)
        if reader is not None:
            ifd0 = reader.ifd0()
            orientation = ifd0.number(tiff.ORIENTATION) if ifd0 is not None else None
            candidates = _tiff_previews(reader)
    if candidates:
        fitting = [c for c in candidates if c.longest_side >= min_side]
        best = (
            min(fitting, key=lambda c: c.longest_side)
            if fitting
            else max(candidates, key=lambda c: c.longest_side)
        )
        return Preview(read_at(best.offset, best.length), orientation)
    return _libraw_preview(path)


def _tiff_previews(reader: tiff.TiffReader) -> list[_Candidate]:
    spans = []
    for ifd in reader.ifds():
        offset, length = ifd.number(tiff.JPEG_OFFSET), ifd.number(tiff.JPEG_LENGTH)
        if offset and length:
            spans.append((offset, length))
        strips, counts = ifd.ints(tiff.STRIP_OFFSETS), ifd.ints(tiff.STRIP_BYTE_COUNTS)
        if ifd.number(tiff.COMPRESSION) in (6, 7) and len(strips) == len(counts) == 1:
            spans.append((strips[0], counts[0]))
    ifd0 = reader.ifd0()
    panasonic = ifd0.span(tiff.PANASONIC_JPEG) if ifd0 is not None else None
    if panasonic is not None:
        spans.append(panasonic)
    return _displayable(reader.read_at, spans)


def _raf_previews(read_at: tiff.ReadAt) -> list[_Candidate]:
    pointer = read_at(_RAF_POINTER, 8)
    if len(pointer) < 8:
        return []
    return _displayable(read_at, [struct.unpack(">II", pointer)])


def _displayable(read_at: tiff.ReadAt, spans: list[tuple[int, int]]) -> list[_Candidate]:
    found = []
    for offset, length in set(spans):
        if not 0 < length <= MAX_PREVIEW_BYTES:
            continue
        side = _jpeg_longest_side(read_at, offset, length)
        if side:
            found.append(_Candidate(offset, length, side))
    return found


def _jpeg_longest_side(read_at: tiff.ReadAt, start: int, length: int) -> int | None:
    """The longest side of a JPEG Pillow can decode, from its frame header; else None.
    Reads only the segment headers, however big the EXIF and ICC blocks before it."""
    if read_at(start, 2) != b"\xff\xd8":
        return None
    position, end = 2, min(length, MAX_PREVIEW_BYTES)
    for _ in range(_MAX_SEGMENTS):
        header = read_at(start + position, 9)
        if position + 4 > end or len(header) < 4 or header[0] != 0xFF:
            return None
        marker = header[1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        (segment,) = struct.unpack(">H", header[2:4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if marker not in _DISPLAYABLE_FRAMES or len(header) < 9:
                return None
            height, width = struct.unpack(">HH", header[5:9])
            return max(height, width) or None
        if marker == 0xDA:  # scan data before any frame header: not a usable JPEG
            return None
        position += 2 + segment
    return None


def _libraw_preview(path: Path) -> Preview:
    try:
        import rawpy
    except ImportError:
        raise NoPreview(NO_PREVIEW) from None
    try:
        with rawpy.imread(str(path)) as raw:
            thumb = raw.extract_thumb()
            flip = raw.sizes.flip
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise NoPreview(NO_PREVIEW) from exc
    orientation = _FLIP_TO_ORIENTATION.get(flip, 1)
    if memoryview(thumb.data).nbytes > MAX_PREVIEW_BYTES:  # type: ignore[arg-type]  # LibRaw: 512 MB
        raise NoPreview(NO_PREVIEW)
    if thumb.format == rawpy.ThumbFormat.JPEG:
        return Preview(bytes(thumb.data), orientation)
    from PIL import Image

    buffer = io.BytesIO()
    bitmap = Image.fromarray(thumb.data)  # type: ignore[arg-type]
    bitmap.save(buffer, "PNG", compress_level=1)
    return Preview(buffer.getvalue(), orientation)
