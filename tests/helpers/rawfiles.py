"""Camera RAW files for tests: real DNGs written by pidng, and TIFF-structured CR2, NEF,
ARW, PEF, SRW, RW2, ORF and DNG files built here with the tags that tell a RAW file from a
TIFF and point at its preview. Each preview is a real JPEG of corpus.quadrants, stored
turned the way a camera stores it, with the RAW's Orientation tag saying how to show it.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tests.helpers import corpus

CFA = 32803  # PhotometricInterpretation: colour filter array (sensor data)


@dataclass(frozen=True)
class Blob:
    """Data placed after the directories; the tag holds its offset (a LONG)."""

    data: bytes


@dataclass(frozen=True)
class Sub:
    """A reference to another directory of the same file (for SubIFDs)."""

    index: int


Value = int | tuple[int, ...] | str | bytes | Blob | tuple[Sub, ...]
Directory = list[tuple[int, int, Value]]  # (tag, TIFF type, value)


def tiff_bytes(
    directories: list[Directory],
    chain: tuple[int, ...] = (0,),
    *,
    order: str = "<",
    magic: bytes | None = None,
    after_header: bytes = b"",
) -> bytes:
    """A TIFF-structured file: the header, `after_header`, the directories (chained in the
    order `chain` gives), then every value longer than four bytes and every Blob."""
    mark = b"II" if order == "<" else b"MM"
    magic = magic if magic is not None else struct.pack(order + "H", 42)
    start = 8 + len(after_header)
    offsets = []
    for directory in directories:
        offsets.append(start)
        start += 2 + 12 * len(directory) + 4
    data = bytearray()

    def place(value: bytes) -> int:
        offset = start + len(data)
        data.extend(value + b"\x00" * (len(value) % 2))
        return offset

    following = {chain[i]: offsets[chain[i + 1]] for i in range(len(chain) - 1)}
    bodies = []
    for index, directory in enumerate(directories):
        body = bytearray(struct.pack(order + "H", len(directory)))
        for tag, kind, value in sorted(directory, key=lambda entry: entry[0]):
            kind, count, raw = _encode(order, kind, value, place, offsets)
            field = raw.ljust(4, b"\x00") if len(raw) <= 4 else struct.pack(order + "I", place(raw))
            body += struct.pack(order + "HHI", tag, kind, count) + field
        body += struct.pack(order + "I", following.get(index, 0))
        bodies.append(bytes(body))
    header = mark + magic + struct.pack(order + "I", offsets[chain[0]])
    return header + after_header + b"".join(bodies) + bytes(data)


def _encode(order, kind, value, place, offsets):  # type: ignore[no-untyped-def]
    if isinstance(value, Blob):
        return 4, 1, struct.pack(order + "I", place(value.data))
    if isinstance(value, str):
        raw = value.encode("latin-1") + b"\x00"
        return 2, len(raw), raw
    if isinstance(value, bytes):
        return 7, len(value), value
    if isinstance(value, tuple) and value and isinstance(value[0], Sub):
        return (
            4,
            len(value),
            struct.pack(order + "I" * len(value), *(offsets[s.index] for s in value)),
        )
    values = value if isinstance(value, tuple) else (value,)
    code = {3: "H", 4: "I"}[kind]
    return kind, len(values), struct.pack(order + code * len(values), *values)


def preview_jpeg(size: tuple[int, int] = (96, 64), orientation: int = 1) -> bytes:
    """corpus.quadrants(size), stored so that showing it with `orientation` is upright.
    No EXIF: the orientation lives in the RAW file, as cameras write it."""
    upright = corpus.quadrants(size)
    method = corpus._STORED_FROM_UPRIGHT.get(orientation)
    stored = upright.transpose(method) if method is not None else upright
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _sensor_ifd(compression: int = 1) -> Directory:
    return [
        (254, 4, 0),
        (256, 4, 16),
        (257, 4, 16),
        (258, 3, 16),
        (259, 3, compression),
        (262, 3, CFA),
        (273, 4, Blob(b"\x00" * 512)),
        (279, 4, 512),
    ]


def _preview_ifd(jpeg: bytes, *, as_strip: bool) -> Directory:
    if as_strip:
        return [(254, 4, 1), (259, 3, 6), (273, 4, Blob(jpeg)), (279, 4, len(jpeg))]
    return [(254, 4, 1), (259, 3, 6), (513, 4, Blob(jpeg)), (514, 4, len(jpeg))]


def maker_raw(path: Path, make: str, *, orientation: int = 1, preview: bytes | None = None) -> Path:
    """NEF/ARW/PEF/SRW shape: IFD0 names the camera, SubIFDs hold the preview JPEG and
    the sensor data."""
    jpeg = preview if preview is not None else preview_jpeg(orientation=orientation)
    ifd0: Directory = [
        (254, 4, 1),
        (271, 2, make),
        (272, 2, "TEST-1"),
        (274, 3, orientation),
        (330, 4, (Sub(1), Sub(2))),
    ]
    path.write_bytes(tiff_bytes([ifd0, _preview_ifd(jpeg, as_strip=False), _sensor_ifd(34713)]))
    return path


def camera_tiff(path: Path, make: str = "NIKON CORPORATION") -> Path:
    """A camera's TIFF output: the maker is named, but there is no sensor data."""
    image = corpus.quadrants((32, 16))
    image.save(path, "TIFF", tiffinfo={271: make, 272: "TEST-1"})
    return path


def cr2(path: Path, *, orientation: int = 1, preview: bytes | None = None) -> Path:
    """CR2 shape: the "CR" marker after the header; IFD0 is the full-size preview JPEG as
    one strip (IFD1 a small one); the sensor data is lossless JPEG, as Canon writes it."""
    big = preview if preview is not None else preview_jpeg((96, 64), orientation)
    small = preview_jpeg((24, 16), orientation)
    lossless = b"\xff\xd8\xff\xc3\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00\xff\xd9"
    ifd0: Directory = [
        (259, 3, 6),
        (271, 2, "Canon"),
        (272, 2, "Canon EOS TEST"),
        (273, 4, Blob(big)),
        (274, 3, orientation),
        (279, 4, len(big)),
    ]
    ifd1: Directory = [(259, 3, 6), (513, 4, Blob(small)), (514, 4, len(small))]
    ifd3: Directory = [(259, 3, 6), (273, 4, Blob(lossless)), (279, 4, len(lossless))]
    path.write_bytes(
        tiff_bytes([ifd0, ifd1, ifd3], chain=(0, 1, 2), after_header=b"CR\x02\x00\x00\x00\x00\x00")
    )
    return path


def rw2(path: Path, *, orientation: int = 1) -> Path:
    """RW2 shape: magic 0x55; the preview JPEG is the value of tag 46 (JpgFromRaw); the
    sensor's size and borders in Panasonic's tags 2-7 (as a 16 MP Lumix writes them)."""
    jpeg = preview_jpeg(orientation=orientation)
    sensor: Directory = [(2, 3, 4816), (3, 3, 3464), (4, 3, 8), (5, 3, 8), (6, 3, 3456)]
    ifd0: Directory = [
        *sensor,
        (7, 3, 4600),
        (46, 7, jpeg),
        (271, 2, "Panasonic"),
        (274, 3, orientation),
    ]
    path.write_bytes(tiff_bytes([ifd0], magic=b"U\x00"))
    return path


def orf_without_preview(path: Path) -> Path:
    """ORF shape ("IIRO"); its preview would be in the maker notes, and here there is none."""
    ifd0: Directory = [(271, 2, "OLYMPUS IMAGING CORP."), *_sensor_ifd()[1:]]
    path.write_bytes(tiff_bytes([ifd0], magic=b"RO"))
    return path


def raf(path: Path) -> Path:
    """RAF shape: its own header; offsets 84 and 88 give the JPEG's place and length. The
    JPEG carries its own EXIF orientation, as Fujifilm writes it."""
    jpeg = corpus.oriented_jpeg(path.with_suffix(".tmp.jpg"), 6, (96, 64)).read_bytes()
    path.with_suffix(".tmp.jpg").unlink()
    header = b"FUJIFILMCCD-RAW 0201FF383501".ljust(84, b"\x00")
    header += struct.pack(">II", 100, len(jpeg))
    path.write_bytes(header.ljust(100, b"\x00") + jpeg + b"\x00" * 64)
    return path


def cr3_without_preview(path: Path) -> Path:
    """The start of a CR3 (ISO base media, brand "crx "), with nothing LibRaw can read."""
    path.write_bytes(struct.pack(">I", 24) + b"ftypcrx \x00\x00\x00\x01crx isom" + b"\x00" * 256)
    return path


def dng_with_preview(path: Path, *, orientation: int = 1) -> Path:
    """DNG shape as Adobe writes it: IFD0 is the preview (and says DNGVersion), the
    sensor data is in a SubIFD."""
    jpeg = preview_jpeg(orientation=orientation)
    ifd0: Directory = [
        *_preview_ifd(jpeg, as_strip=True),
        (271, 2, "Leica"),
        (274, 3, orientation),
        (330, 4, (Sub(1),)),
        (50706, 1, b"\x01\x04\x00\x00"),
    ]
    path.write_bytes(tiff_bytes([ifd0, _sensor_ifd()]))
    return path


def pidng_dng(path: Path, size: tuple[int, int] = (64, 32)) -> Path:
    """A real DNG (sensor data only, no preview), written by pidng."""
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CFAPattern, DNGVersion, Orientation, PhotometricInterpretation

    width, height = size
    pixels = np.random.default_rng(0).integers(0, 4095, size=(height, width)).astype(np.uint16)
    tags = DNGTags()
    for tag, value in (
        (Tag.ImageWidth, width),
        (Tag.ImageLength, height),
        (Tag.TileWidth, width),
        (Tag.TileLength, height),
        (Tag.Orientation, Orientation.Horizontal),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1),
        (Tag.BitsPerSample, 12),
        (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, CFAPattern.BGGR),
        (Tag.BlackLevel, 0),
        (Tag.WhiteLevel, 4095),
        (Tag.DNGVersion, DNGVersion.V1_4),
        (Tag.DNGBackwardVersion, DNGVersion.V1_2),
        (Tag.Make, "Test"),
        (Tag.Model, "Camera"),
    ):
        tags.set(tag, value)
    writer = RAW2DNG()
    writer.options(tags, path="", compress=False)
    writer.convert(pixels, filename=str(path.with_suffix("")))
    return path.with_suffix(".dng")


def is_jpeg_of_size(data: bytes, size: tuple[int, int]) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        return image.format == "JPEG" and image.size == size
