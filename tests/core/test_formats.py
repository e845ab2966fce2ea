"""Format detection by content, key extensions, and the words shown for non-images."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import formats
from app.core.formats import (
    AVIF,
    GIF,
    HEAD_SIZE,
    HEIC,
    HEIF,
    JPEG,
    PNG,
    TIFF,
    WEBP,
    describe_unrecognised,
    detect_format,
    key_extension,
)
from app.core.models import ImageFormat
from tests.helpers import corpus


def head_of(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(HEAD_SIZE)


GENERATED: list[tuple[str, Callable[[Path], Path], ImageFormat]] = [
    ("photo.jpg", corpus.jpeg_photo, JPEG),
    ("print.jpg", corpus.cmyk_jpeg, JPEG),
    ("plain.png", corpus.png, PNG),
    ("alpha.png", corpus.png_rgba, PNG),
    ("still.webp", corpus.webp, WEBP),
    ("moving.webp", corpus.animated_webp, WEBP),
    ("still.gif", corpus.gif, GIF),
    ("moving.gif", corpus.animated_gif, GIF),
    ("intel.tif", corpus.tiff, TIFF),
    ("motorola.tif", corpus.gray16_big_endian_tiff, TIFF),
    ("modern.avif", corpus.avif, AVIF),
]


@pytest.mark.parametrize(("name", "make", "expected"), GENERATED, ids=[g[0] for g in GENERATED])
def test_detects_real_files_of_each_format(
    tmp_path: Path, name: str, make: Callable[[Path], Path], expected: ImageFormat
) -> None:
    assert detect_format(head_of(make(tmp_path / name))) == expected


@pytest.mark.skipif(not corpus.heic_writable(), reason="pillow-heif cannot encode HEIC here")
def test_detects_real_heic(tmp_path: Path) -> None:
    assert detect_format(head_of(corpus.heic(tmp_path / "phone.heic"))) == HEIC


def test_detection_ignores_the_file_name(tmp_path: Path) -> None:
    path = corpus.jpeg_photo(tmp_path / "holiday.png")
    assert detect_format(head_of(path)) == JPEG


def ftyp(major: bytes, *compatible: bytes, declared_size: int | None = None) -> bytes:
    size = 16 + 4 * len(compatible) if declared_size is None else declared_size
    box = struct.pack(">I", size) + b"ftyp" + major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return box + b"\x00\x00\x00\x08free"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xdb" + b"\x00" * 20, JPEG),
        (b"GIF87a\x01\x00\x01\x00", GIF),
        (b"GIF89a\x01\x00\x01\x00", GIF),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", WEBP),
        (b"II*\x00\x08\x00\x00\x00", TIFF),
        (b"MM\x00*\x00\x00\x00\x08", TIFF),
        (b"II+\x00\x08\x00\x00\x00", TIFF),  # BigTIFF
        (ftyp(b"heic", b"mif1", b"heic"), HEIC),
        (ftyp(b"heix", b"mif1"), HEIC),
        (ftyp(b"hevc", b"msf1"), HEIC),
        (ftyp(b"mif1", b"mif1", b"heic"), HEIC),  # generic major brand, specific compatible one
        (ftyp(b"mif1", b"mif1", b"miaf"), HEIF),
        (ftyp(b"msf1", b"msf1"), HEIF),
        (ftyp(b"avif", b"avif", b"mif1", b"miaf"), AVIF),
        (ftyp(b"avis", b"avis", b"msf1"), AVIF),
        (ftyp(b"mif1", b"mif1", b"avif"), AVIF),
        (ftyp(b"mif1", b"heic", declared_size=0), HEIC),  # size 0: box runs to end of file
        (ftyp(b"mif1", b"heic", declared_size=4096), HEIC),  # box longer than the head
    ],
)
def test_detects_signatures(head: bytes, expected: ImageFormat) -> None:
    assert detect_format(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\xff\xd8",  # a JPEG signature cut short
        b"\x89PNG\r\n",
        b"GIF88a",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",  # a sound file
        b"Hello, this is text",
        b"%PDF-1.7\n",
        b"PK\x03\x04\x14\x00",
        b"BM\x36\x00\x0c\x00\x00\x00\x00\x00",
        ftyp(b"isom", b"isom", b"mp41"),  # MP4 video
        ftyp(b"qt  ", b"qt  "),  # QuickTime video
        ftyp(b"heic")[:10],  # an ftyp box cut inside the major brand
    ],
)
def test_rejects_non_images(head: bytes) -> None:
    assert detect_format(head) is None


@given(st.binary(max_size=HEAD_SIZE * 2))
def test_detection_and_description_never_fail(head: bytes) -> None:
    assert detect_format(head) in (None, *formats.ALL_FORMATS)
    sentence = describe_unrecognised(head)
    assert sentence.startswith("This file is") and sentence.endswith(".")


@pytest.mark.parametrize(
    ("filename", "fmt", "expected"),
    [
        ("IMG_0001.JPG", JPEG, ".jpg"),
        ("IMG_0001.JPEG", JPEG, ".jpeg"),
        ("scan.jpe", JPEG, ".jpe"),
        ("photo.png", JPEG, ".jpg"),  # really a JPEG: the key says so
        ("photo", JPEG, ".jpg"),
        (".jpg", JPEG, ".jpg"),
        ("archive.tar.gz", PNG, ".png"),
        ("Scan.TIF", TIFF, ".tif"),
        ("scan.tiff", TIFF, ".tiff"),
        ("scan.jpg", TIFF, ".tiff"),
        ("IMG_1234.HEIC", HEIC, ".heic"),
        ("IMG_1234.heif", HEIC, ".heif"),
        ("burst.HEIC", HEIF, ".heic"),
        ("image.heif", HEIF, ".heif"),
        ("image.avif", HEIF, ".heif"),
        ("clip.webp", WEBP, ".webp"),
        ("anim.GIF", GIF, ".gif"),
        ("new.avif", AVIF, ".avif"),
        ("new.heic", AVIF, ".avif"),
        ("/some/dir.jpg/picture.png", PNG, ".png"),
    ],
)
def test_key_extension(filename: str, fmt: ImageFormat, expected: str) -> None:
    assert key_extension(filename, fmt) == expected


def test_format_constants_are_well_formed() -> None:
    for fmt in formats.ALL_FORMATS:
        assert fmt.content_type.startswith("image/")
        assert fmt.extension.startswith(".") and fmt.extension == fmt.extension.lower()
    assert (JPEG.content_type, JPEG.extension) == ("image/jpeg", ".jpg")
    assert (TIFF.content_type, TIFF.extension) == ("image/tiff", ".tiff")
    assert (HEIC.content_type, HEIF.content_type) == ("image/heic", "image/heif")


@pytest.mark.parametrize(
    ("head", "words"),
    [
        (b"", "This file is empty (0 bytes)."),
        (b"Day 1: beach.\nDay 2: rain.\n", "(it looks like text)"),
        ("Holiday notes: Grü".encode()[:-1], "(it looks like text)"),  # cut mid-character
        ("\ufeffBOM-marked notes".encode(), "(it looks like text)"),
        ("UTF-16 notes".encode("utf-16"), "(it looks like text)"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "PDF document"),
        (ftyp(b"isom", b"mp41"), "video"),
        (
            b"\x00\x01\x02\x03\xfe\xff" * 10,
            "(JPEG, PNG, WebP, GIF, TIFF, HEIC/HEIF, AVIF, or a camera RAW file)",
        ),
    ],
)
def test_describe_unrecognised(head: bytes, words: str) -> None:
    assert words in describe_unrecognised(head)


def test_description_of_a_text_file_named_jpg(tmp_path: Path) -> None:
    head = head_of(corpus.text_named_jpg(tmp_path / "notes.jpg"))
    assert detect_format(head) is None
    assert describe_unrecognised(head) == "This file is not a supported image (it looks like text)."
