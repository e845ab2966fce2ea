"""Recognising supported image formats by their first bytes, never by file name."""

from __future__ import annotations

import codecs
import struct
from pathlib import PurePath

from app.core.models import ImageFormat

HEAD_SIZE = 64
"""Bytes to read from the start of a file for detect_format and describe_unrecognised."""

JPEG = ImageFormat("JPEG", "image/jpeg", ".jpg")
PNG = ImageFormat("PNG", "image/png", ".png")
WEBP = ImageFormat("WebP", "image/webp", ".webp")
GIF = ImageFormat("GIF", "image/gif", ".gif")
TIFF = ImageFormat("TIFF", "image/tiff", ".tiff")
HEIC = ImageFormat("HEIC", "image/heic", ".heic")
HEIF = ImageFormat("HEIF", "image/heif", ".heif")
AVIF = ImageFormat("AVIF", "image/avif", ".avif")

ALL_FORMATS = (JPEG, PNG, WEBP, GIF, TIFF, HEIC, HEIF, AVIF)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
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


def detect_format(head: bytes) -> ImageFormat | None:
    """The supported format whose signature starts `head`, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(_PNG_SIGNATURE):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(_TIFF_SIGNATURES):
        return TIFF
    if head[4:8] == b"ftyp":
        return _detect_iso_bmff(head)
    return None


def _detect_iso_bmff(head: bytes) -> ImageFormat | None:
    """HEIC/HEIF/AVIF from the ftyp box: major brand, then the compatible brands."""
    (box_size,) = struct.unpack(">I", head[:4])
    end = len(head) if box_size == 0 else min(box_size, len(head))  # 0 means "to end of file"
    major = head[8:12]
    compatible = [head[i : i + 4] for i in range(16, end - 3, 4)]
    for brand in (major, *compatible):
        if brand in _SPECIFIC_BRANDS:
            return _SPECIFIC_BRANDS[brand]
    if major in _GENERIC_HEIF_BRANDS or _GENERIC_HEIF_BRANDS.intersection(compatible):
        return HEIF
    return None  # an MP4/MOV video, a CR3 raw file, ...


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
    return "This file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, HEIC/HEIF, AVIF)."


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
        brand = head[8:12]
        if brand == b"crx ":
            return "a camera raw file, which is not supported"
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
