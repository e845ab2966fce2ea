"""Reading TIFF directories (IFDs): enough to tell camera RAW files from TIFF images and
to find the JPEG previews a RAW file carries. Most RAW formats (CR2, NEF, ARW, DNG, PEF,
SRW, ORF, RW2) are TIFF files underneath.

Only the bytes asked for are read, through `read_at(offset, length)`: the first bytes of
a file already in memory for detection, or the open file for a preview. Damaged or
hostile structures (loops, absurd counts, offsets past the end) end the walk quietly:
what could be read is what there is.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

ReadAt = Callable[[int, int], bytes]

# Bytes per value of each TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, ...).
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_INTEGER_FORMATS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I"}
_MAX_IFDS = 32
_MAX_ENTRIES = 1024
_MAX_VALUE_BYTES = 64 * 1024  # a tag value we read whole (text, offset lists)

MAKE = 271
ORIENTATION = 274
COMPRESSION = 259
PHOTOMETRIC = 262
STRIP_OFFSETS = 273
STRIP_BYTE_COUNTS = 279
JPEG_OFFSET = 513  # JPEGInterchangeFormat
JPEG_LENGTH = 514  # JPEGInterchangeFormatLength
SUB_IFDS = 330
DNG_VERSION = 50706
PANASONIC_JPEG = 46  # RW2: JpgFromRaw, the embedded JPEG as the tag's value


@dataclass(frozen=True, slots=True)
class Entry:
    type: int
    count: int
    field: bytes  # the 4-byte value, or the offset of a longer one


class Ifd:
    """One image file directory: tag -> entry, with typed reads of the values."""

    def __init__(self, tiff: TiffReader, entries: dict[int, Entry]) -> None:
        self._tiff = tiff
        self._entries = entries

    def __contains__(self, tag: int) -> bool:
        return tag in self._entries

    def span(self, tag: int) -> tuple[int, int] | None:
        """(offset, length) of the tag's value in the file."""
        entry = self._entries.get(tag)
        if entry is None or entry.type not in _TYPE_SIZES:
            return None
        length = entry.count * _TYPE_SIZES[entry.type]
        if length <= 4:
            return None  # inline: there is no separate stretch of the file to point at
        return self._tiff.unpack("I", entry.field)[0], length

    def ints(self, tag: int) -> tuple[int, ...]:
        entry = self._entries.get(tag)
        if entry is None or entry.type not in _INTEGER_FORMATS:
            return ()
        raw = self._raw(entry)
        size = _TYPE_SIZES[entry.type]
        count = min(entry.count, len(raw) // size)
        return self._tiff.unpack(_INTEGER_FORMATS[entry.type] * count, raw[: count * size])

    def number(self, tag: int) -> int | None:
        values = self.ints(tag)
        return values[0] if values else None

    def text(self, tag: int) -> str:
        entry = self._entries.get(tag)
        if entry is None or entry.type not in (1, 2, 7):
            return ""
        return self._raw(entry).split(b"\x00", 1)[0].decode("latin-1").strip()

    def _raw(self, entry: Entry) -> bytes:
        length = entry.count * _TYPE_SIZES[entry.type]
        if length <= 4:
            return entry.field[:length]
        if length > _MAX_VALUE_BYTES:
            return b""
        (offset,) = self._tiff.unpack("I", entry.field)
        return self._tiff.read_at(offset, length)


class TiffReader:
    """The directories of a classic TIFF (BigTIFF is not used by any RAW format here)."""

    def __init__(self, read_at: ReadAt, order: str, first_ifd: int) -> None:
        self.read_at = read_at
        self._order = order
        self._first = first_ifd

    @classmethod
    def open(cls, read_at: ReadAt) -> TiffReader | None:
        """A reader when the data starts like a TIFF-structured file, else None.

        The magic number is not checked: ORF ("IIRO") and RW2 ("IIU") change it.
        """
        header = read_at(0, 8)
        if len(header) < 8 or header[:2] not in (b"II", b"MM"):
            return None
        order = "<" if header[:2] == b"II" else ">"
        (first,) = struct.unpack(order + "I", header[4:8])
        return cls(read_at, order, first)

    def unpack(self, fmt: str, data: bytes) -> tuple[int, ...]:
        return struct.unpack(self._order + fmt, data)

    def ifd0(self) -> Ifd | None:
        return self._read_ifd(self._first)[0]

    def ifd_at(self, offset: int) -> Ifd | None:
        """The directory at `offset` (the EXIF IFD a tag points to, say)."""
        return self._read_ifd(offset)[0] if offset >= 8 else None

    def ifds(self) -> Iterator[Ifd]:
        """IFD0, the directories chained after it, and their SubIFDs; each once."""
        pending, seen = deque([self._first]), set[int]()
        while pending and len(seen) < _MAX_IFDS:
            offset = pending.popleft()
            if offset in seen or offset < 8:
                continue
            seen.add(offset)
            ifd, following = self._read_ifd(offset)
            if ifd is None:
                continue
            yield ifd
            pending.extend(ifd.ints(SUB_IFDS)[:_MAX_IFDS])
            if following:
                pending.append(following)

    def _read_ifd(self, offset: int) -> tuple[Ifd | None, int]:
        count_bytes = self.read_at(offset, 2)
        if len(count_bytes) < 2:
            return None, 0
        (count,) = self.unpack("H", count_bytes)
        if not 0 < count <= _MAX_ENTRIES:
            return None, 0
        body = self.read_at(offset + 2, count * 12 + 4)
        if len(body) < count * 12:
            return None, 0
        entries = {}
        for start in range(0, count * 12, 12):
            tag, kind, number = self.unpack("HHI", body[start : start + 8])
            entries[tag] = Entry(kind, number, body[start + 8 : start + 12])
        following = self.unpack("I", body[-4:])[0] if len(body) == count * 12 + 4 else 0
        return Ifd(self, entries), following


def file_reader(file: IO[bytes]) -> ReadAt:
    """read_at over an open file (short or empty past its end)."""

    def read_at(offset: int, length: int) -> bytes:
        if offset < 0 or length <= 0:
            return b""
        file.seek(offset)
        return file.read(length)

    return read_at


def bytes_reader(data: bytes) -> ReadAt:
    """read_at over bytes already in memory (short or empty past their end)."""

    def read_at(offset: int, length: int) -> bytes:
        return data[offset : offset + length] if offset >= 0 else b""

    return read_at
