"""Recognising supported image formats by their first bytes, never by file name alone.

Camera RAW files are told apart from TIFF by their markers (CR2, ORF, RW2), by IFD0's
tags (DNGVersion; the camera maker together with sensor data in some directory) or by
their own headers (RAF, CR3). The file name only picks between Nikon's NEF and NRW,
which look the same inside.
"""

from __future__ import annotations

import codecs
import struct
from pathlib import PurePath

from app.core import tiff
from app.core.models import ImageFormat

HEAD_SIZE = 256 * 1024
"""Bytes to read from the start of a file for detect_format and describe_unrecognised:
enough for the directories of a TIFF-based RAW file, which sit at its start."""

JPEG = ImageFormat("JPEG", "image/jpeg", ".jpg")
PNG = ImageFormat("PNG", "image/png", ".png")
WEBP = ImageFormat("WebP", "image/webp", ".webp")
GIF = ImageFormat("GIF", "image/gif", ".gif")
TIFF = ImageFormat("TIFF", "image/tiff", ".tiff")
HEIC = ImageFormat("HEIC", "image/heic", ".heic")
HEIF = ImageFormat("HEIF", "image/heif", ".heif")
AVIF = ImageFormat("AVIF", "image/avif", ".avif")

CR2 = ImageFormat("Canon CR2", "image/x-canon-cr2", ".cr2", raw=True)
CR3 = ImageFormat("Canon CR3", "image/x-canon-cr3", ".cr3", raw=True)
NEF = ImageFormat("Nikon NEF", "image/x-nikon-nef", ".nef", raw=True)
NRW = ImageFormat("Nikon NRW", "image/x-nikon-nrw", ".nrw", raw=True)
ARW = ImageFormat("Sony ARW", "image/x-sony-arw", ".arw", raw=True)
DNG = ImageFormat("DNG", "image/x-adobe-dng", ".dng", raw=True)
ORF = ImageFormat("Olympus ORF", "image/x-olympus-orf", ".orf", raw=True)
RW2 = ImageFormat("Panasonic RW2", "image/x-panasonic-rw2", ".rw2", raw=True)
PEF = ImageFormat("Pentax PEF", "image/x-pentax-pef", ".pef", raw=True)
RAF = ImageFormat("Fujifilm RAF", "image/x-fuji-raf", ".raf", raw=True)
SRW = ImageFormat("Samsung SRW", "image/x-samsung-srw", ".srw", raw=True)

RAW_FORMATS = (CR2, CR3, NEF, NRW, ARW, DNG, ORF, RW2, PEF, RAF, SRW)
ALL_FORMATS = (JPEG, PNG, WEBP, GIF, TIFF, HEIC, HEIF, AVIF, *RAW_FORMATS)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RAF_SIGNATURE = b"FUJIFILMCCD-RAW "
# Olympus and Panasonic change TIFF's magic number; Canon marks CR2 after the header.
_ORF_SIGNATURES = (b"IIRO", b"IIRS", b"MMOR")
_RW2_SIGNATURE = b"IIU\x00"
_CR2_MARKER = b"CR\x02"
# IFD0's Make, upper case, for makers whose RAW files are plain TIFF structure inside.
_MAKERS = (("NIKON", NEF), ("SONY", ARW), ("PENTAX", PEF), ("RICOH", PEF), ("SAMSUNG", SRW))
# Sensor data: a colour filter array or linear raw (PhotometricInterpretation), or a
# maker's own raw compression (Sony ARW, Nikon NEF, Samsung SRW). A camera's TIFF output
# carries the maker too, but none of these.
_RAW_PHOTOMETRIC = frozenset({32803, 34892})
_RAW_COMPRESSION = frozenset({32767, 32769, 32770, 34713, 34892})
# Classic TIFF ("*" = 42) and BigTIFF ("+" = 43), in both byte orders.
_TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

# ISO-BMFF brands (ftyp box). Specific codec brands win over the generic container ones.
_SPECIFIC_BRANDS = {
    b"heic": HEIC,
    b"heix": HEIC,
    b"hevc": HEIC,
    b"hevx": HEIC,
    b"heim": HEIC,
    b"heis": HEIC,
    b"avif": AVIF,
    b"avis": AVIF,
}
_GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})

_EXTENSION_ALIASES = {
    JPEG: frozenset({".jpg", ".jpeg", ".jpe"}),
    TIFF: frozenset({".tif", ".tiff"}),
    HEIC: frozenset({".heic", ".heif"}),
    HEIF: frozenset({".heic", ".heif"}),
}


def extension_aliases(fmt: ImageFormat) -> frozenset[str]:
    """Other names a file of this format is commonly given (".jpeg" for JPEG)."""
    return _EXTENSION_ALIASES.get(fmt, frozenset())


def detect_format(head: bytes, name: str = "") -> ImageFormat | None:
    """The supported format whose signature starts `head`, or None. `name` (the file's
    name) only tells NRW from NEF."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(_PNG_SIGNATURE):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(_RAF_SIGNATURE):
        return RAF
    if head.startswith(_ORF_SIGNATURES):
        return ORF
    if head.startswith(_RW2_SIGNATURE):
        return RW2
    if head.startswith(_TIFF_SIGNATURES[2:]):
        return TIFF  # BigTIFF: no RAW format uses it
    if head.startswith(_TIFF_SIGNATURES):
        return _detect_tiff_raw(head, name) or TIFF
    if head[4:8] == b"ftyp":
        return _detect_iso_bmff(head)
    return None


def _detect_tiff_raw(head: bytes, name: str) -> ImageFormat | None:
    """The RAW format of a TIFF-structured file, or None for a TIFF image."""
    if head.startswith(b"II*\x00") and head[8:11] == _CR2_MARKER:
        return CR2
    reader = tiff.TiffReader.open(tiff.bytes_reader(head))
    ifd0 = reader.ifd0() if reader is not None else None
    if reader is None or ifd0 is None:
        return None  # its directory lies further in: an ordinary TIFF writer's layout
    if tiff.DNG_VERSION in ifd0:
        return DNG
    make = ifd0.text(tiff.MAKE).upper()
    fmt = next((fmt for maker, fmt in _MAKERS if make.startswith(maker)), None)
    if fmt is None or not _holds_sensor_data(reader):
        return None
    if fmt is NEF and PurePath(name).suffix.lower() == ".nrw":
        return NRW
    return fmt


def _holds_sensor_data(reader: tiff.TiffReader) -> bool:
    return any(
        ifd.number(tiff.PHOTOMETRIC) in _RAW_PHOTOMETRIC
        or ifd.number(tiff.COMPRESSION) in _RAW_COMPRESSION
        for ifd in reader.ifds()
    )


def _detect_iso_bmff(head: bytes) -> ImageFormat | None:
    """HEIC/HEIF/AVIF from the ftyp box: major brand, then the compatible brands."""
    (box_size,) = struct.unpack(">I", head[:4])
    end = len(head) if box_size == 0 else min(box_size, len(head))  # 0 means "to end of file"
    major = head[8:12]
    if major == b"crx ":
        return CR3
    compatible = [head[i : i + 4] for i in range(16, end - 3, 4)]
    for brand in (major, *compatible):
        if brand in _SPECIFIC_BRANDS:
            return _SPECIFIC_BRANDS[brand]
    if major in _GENERIC_HEIF_BRANDS or _GENERIC_HEIF_BRANDS.intersection(compatible):
        return HEIF
    return None  # an MP4/MOV video, ...


def key_extension(filename: str, fmt: ImageFormat) -> str:
    """The extension an object key should carry for this file.

    The file's own extension (lower-cased) when it is a usual spelling for the detected
    format, so "IMG_1.JPEG" keeps ".jpeg"; otherwise the format's canonical extension, so a
    "photo.png" that is really a JPEG becomes ".jpg".
    """
    own = PurePath(filename).suffix.lower()
    if own == fmt.extension or own in _EXTENSION_ALIASES.get(fmt, ()):
        return own
    return fmt.extension


def describe_unrecognised(head: bytes) -> str:
    """A plain sentence saying what a file that is not a supported image seems to be."""
    if not head:
        return "This file is empty (0 bytes)."
    kind = _known_other_kind(head)
    if kind is None and _looks_like_text(head):
        kind = "text"
    if kind is not None:
        return f"This file is not a supported image (it looks like {kind})."
    return (
        "This file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, HEIC/HEIF, AVIF, "
        "or a camera RAW file)."
    )


_OTHER_SIGNATURES = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or an office document"),
    (b"8BPS", "a Photoshop document"),
    (b"\x00\x00\x01\x00", "an icon file"),
)


def _known_other_kind(head: bytes) -> str | None:
    for signature, kind in _OTHER_SIGNATURES:
        if head.startswith(signature):
            return kind
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":  # reserved fields
        return "a BMP image, which is not supported"
    if head[4:8] == b"ftyp":
        return "a video"
    return None


def _looks_like_text(head: bytes) -> bool:
    """UTF-8 (or BOM-marked UTF-16) with no control characters besides whitespace."""
    encoding = "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    try:
        # Incremental decoding tolerates a multi-byte character cut off at HEAD_SIZE.
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return bool(text) and all(ch.isprintable() or ch in "\t\n\r\f" for ch in text)
