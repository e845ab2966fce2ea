"""Hypothesis properties for key sanitising and format detection (issue 4).

tests/core/test_keys.py and tests/core/test_formats.py already check rendered keys for
arbitrary names, prefixes, templates and hashes, and that detection never raises. This
file adds what they leave out: names as Linux hands them over (arbitrary bytes), long
multi-folder prefixes against the 1024-byte and 255-bytes-per-name limits, every
documented unsafe character, extensions chosen from detected formats, signatures that
really are at the start, real Pillow-written images of each format, bytes appended after
a signature, and sentences that never echo the file's contents.
"""

from __future__ import annotations

import io
import os
import re
import struct
import unicodedata

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from app.core.formats import (
    ALL_FORMATS,
    ARW,
    AVIF,
    CR2,
    CR3,
    DNG,
    GIF,
    HEAD_SIZE,
    HEIC,
    HEIF,
    JPEG,
    NEF,
    NRW,
    ORF,
    PEF,
    PNG,
    RAF,
    RW2,
    SRW,
    TIFF,
    WEBP,
    describe_unrecognised,
    detect_format,
    key_extension,
)
from app.core.keys import (
    MAX_KEY_BYTES,
    MAX_SEGMENT_BYTES,
    KeyTemplate,
    KeyTemplateError,
    normalize_prefix,
    render_keys,
)
from app.core.models import ImageFormat
from tests.core.test_keys import assert_safe_key
from tests.helpers import corpus

# --- keys -------------------------------------------------------------------------------

# Characters the keys module documents as replaced by "_" (besides C0/C1/DEL controls and
# lone surrogates, which assert_safe_key checks by category).
DOCUMENTED_UNSAFE = frozenset(
    "\\\u061c\u200e\u200f\u2028\u2029\ufeff\ufffe\uffff"
    + "".join(map(chr, range(0x202A, 0x202F)))
    + "".join(map(chr, range(0x2066, 0x206A)))
)

TEMPLATES = [
    KeyTemplate(),
    KeyTemplate(original="{prefix}{sha256}{ext}", thumbnail="{prefix}t/{sha256}.jpg"),
    KeyTemplate(original="{prefix}{stem}/{sha8}{ext}", thumbnail="{prefix}{stem}/{sha8}-t.jpg"),
    KeyTemplate(original="{prefix}{stem}-{sha256}{ext}", thumbnail="{prefix}t/{stem}-{sha8}.jpg"),
]
hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)
# The spellings a key may keep for each format (README: "{ext} follows the content").
USUAL_EXTENSIONS = {
    JPEG: {".jpg", ".jpeg", ".jpe"},
    TIFF: {".tif", ".tiff"},
    HEIC: {".heic", ".heif"},
    HEIF: {".heic", ".heif"},
}

# A file name as Linux stores it: 1-255 bytes, anything but "/" and NUL, often not UTF-8.
# Python hands it over through os.fsdecode (surrogateescape).
linux_names = (
    st.binary(min_size=1, max_size=255)
    .filter(lambda raw: b"/" not in raw and b"\0" not in raw and raw not in (b".", b".."))
    .map(os.fsdecode)
)
# Some names that are long in bytes but valid, with multi-byte characters at the cut.
long_names = st.tuples(
    st.sampled_from(["a", "é", "€", "🪙", "e\u0301", "👨\u200d👩\u200d👧", "東"]),
    st.integers(1, 300),
    st.sampled_from([".jpg", ".JPEG", ".png", ".heic", "", ".tar.gz"]),
).map(lambda parts: parts[0] * parts[1] + parts[2])
# A folder name for a prefix: up to 255 bytes of anything (separators included).
folder_names = st.text(st.characters(exclude_categories=()), max_size=60) | st.tuples(
    st.sampled_from(["p", "é", "€", "🪙"]), st.integers(1, 63)
).map(lambda parts: parts[0] * parts[1])
long_prefixes = st.lists(folder_names, max_size=8).map("/".join)


def unsafe_chars(key: str) -> set[str]:
    return {
        char
        for char in key
        if char in DOCUMENTED_UNSAFE or unicodedata.category(char) in ("Cc", "Cs")
    }


def check_keys(keys: tuple[str, str], prefix: str, sha: str) -> None:
    for key in keys:
        assert_safe_key(key)  # UTF-8, <= 1024 bytes, no "/"-start, no ""/"."/".." segments
        assert not unsafe_chars(key), key
        assert all(len(part.encode()) <= MAX_SEGMENT_BYTES for part in key.split("/")), key
        assert key.startswith(normalize_prefix(prefix))
        assert sha[:8] in key.removeprefix(normalize_prefix(prefix))


@settings(max_examples=300, deadline=None)
@given(
    name=linux_names | long_names,
    template=st.sampled_from(TEMPLATES),
    fmt=st.sampled_from(ALL_FORMATS),
    sha=hashes,
)
def test_names_from_the_file_system_always_give_safe_keys(
    name: str, template: KeyTemplate, fmt: ImageFormat, sha: str
) -> None:
    ext = key_extension(name, fmt)
    keys = render_keys(template, prefix="coins/2024", filename=name, sha256=sha, ext=ext)
    check_keys(keys, "coins/2024", sha)
    original, thumbnail = keys
    # The extension is kept: a usual spelling of the detected format, never the name's own
    # extension when that belongs to another format.
    assert original.endswith(ext)
    assert ext in USUAL_EXTENSIONS.get(fmt, {fmt.extension})
    assert thumbnail.endswith(".jpg")
    # Deterministic: the same photo always gets the same keys (duplicates are found).
    assert render_keys(template, prefix="coins/2024", filename=name, sha256=sha, ext=ext) == keys


@settings(max_examples=300, deadline=None)
@given(
    prefix=long_prefixes,
    name=linux_names | long_names,
    template=st.sampled_from(TEMPLATES),
    sha=hashes,
)
def test_long_prefixes_give_safe_keys_or_ask_for_a_shorter_prefix(
    prefix: str, name: str, template: KeyTemplate, sha: str
) -> None:
    try:
        keys = render_keys(template, prefix=prefix, filename=name, sha256=sha, ext=".jpeg")
    except KeyTemplateError as error:
        assert "please shorten the prefix" in str(error)
        # Only refused when the prefix really leaves no room: a folder name over 255
        # bytes, or too little of the 1024 bytes left for "x-<sha>.jpeg".
        folders = normalize_prefix(prefix).split("/")
        room = MAX_KEY_BYTES - len(normalize_prefix(prefix).encode())
        assert max(len(folder.encode()) for folder in folders) > MAX_SEGMENT_BYTES or room < 100
        return
    check_keys(keys, prefix, sha)
    assert keys[0].endswith(".jpeg")


@settings(max_examples=200, deadline=None)
@given(name=linux_names | long_names, first=hashes, second=hashes)
def test_distinct_contents_never_share_a_key_with_a_full_hash_template(
    name: str, first: str, second: str
) -> None:
    assume(first != second)
    template = TEMPLATES[3]  # {sha256} in the photo key
    a = render_keys(template, prefix="p", filename=name, sha256=first, ext=".png")
    b = render_keys(template, prefix="p", filename=name, sha256=second, ext=".png")
    assert a[0] != b[0]
    # Thumbnails with {sha8} differ whenever the first 8 hex digits do.
    assert (a[1] != b[1]) == (first[:8] != second[:8])


@settings(max_examples=200, deadline=None)
@given(stems=st.lists(linux_names | long_names, min_size=2, max_size=2, unique=True), sha=hashes)
def test_the_same_photo_under_two_names_keeps_the_hash_in_both_keys(
    stems: list[str], sha: str
) -> None:
    # Two names for one content: keys may differ by name, but both carry the same hash,
    # and each thumbnail key lives beside the same shortened stem as its photo.
    for name in stems:
        original, thumbnail = render_keys(
            KeyTemplate(), prefix="", filename=name, sha256=sha, ext=".jpg"
        )
        assert original.endswith(f"-{sha[:8]}.jpg")
        assert thumbnail == "thumbnails/" + original


def test_a_prefix_folder_name_over_255_bytes_is_explained() -> None:
    with pytest.raises(KeyTemplateError, match="folder name in the prefix is longer than 255"):
        render_keys(KeyTemplate(), prefix="€" * 86, filename="a.jpg", sha256="0" * 64, ext=".jpg")
    # 255 bytes exactly is fine.
    original, _ = render_keys(
        KeyTemplate(), prefix="€" * 85, filename="a.jpg", sha256="0" * 64, ext=".jpg"
    )
    assert original == "€" * 85 + "/a-00000000.jpg"


# --- format detection ---------------------------------------------------------------------


def magic_of(head: bytes) -> set[ImageFormat]:
    """An independent reading of the signatures (the spec, not the implementation)."""
    found: set[ImageFormat] = set()
    if head[:3] == b"\xff\xd8\xff":
        found.add(JPEG)
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        found.add(PNG)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        found.add(GIF)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        found.add(WEBP)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        found |= {TIFF, CR2, DNG, NEF, NRW, ARW, PEF, SRW}  # RAWs told apart inside
    if head[:16] == b"FUJIFILMCCD-RAW ":
        found.add(RAF)
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        found.add(ORF)
    if head[:4] == b"IIU\x00":
        found.add(RW2)
    if head[4:8] == b"ftyp" and head[8:12] == b"crx ":
        found.add(CR3)
    elif head[4:8] == b"ftyp":
        size = int.from_bytes(head[:4], "big")
        box = head[: size or len(head)]
        brands = {box[8:12]} | {box[i : i + 4] for i in range(16, len(box) - 3, 4)}
        if brands & {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}:
            found.add(HEIC)
        if brands & {b"avif", b"avis"}:
            found.add(AVIF)
        if brands & {b"mif1", b"msf1"}:
            found.add(HEIF)
    return found


SIGNATURE_PREFIXES = [
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"RIFF\x00\x00\x00\x00WEBP",
    b"II*\x00",
    b"MM\x00*",
    b"II+\x00",
    b"MM\x00+",
    b"\xff\xd8",  # near misses
    b"\x89PNG",
    b"GIF88a",
    b"RIFF\x00\x00\x00\x00WAVE",
    b"II*",
    b"%PDF-",
    b"PK\x03\x04",
    b"BM",
]
_BRAND_BYTES = b"heicheixhevcmif1msf1avifavisisommp41qt  crx miaf\0\0\0\0"
BRANDS = [_BRAND_BYTES[i : i + 4] for i in range(0, len(_BRAND_BYTES), 4)]


@st.composite
def ftyp_boxes(draw: st.DrawFn) -> bytes:
    major = draw(st.sampled_from(BRANDS))
    compatible = draw(st.lists(st.sampled_from(BRANDS), max_size=8))
    size = 16 + 4 * len(compatible)
    declared = draw(st.sampled_from([size, size, 0, size + 4096, size - 4, 12]))
    return struct.pack(">I", declared) + b"ftyp" + major + b"\0\0\0\0" + b"".join(compatible)


heads = st.one_of(
    st.binary(max_size=HEAD_SIZE * 2),
    st.tuples(st.sampled_from(SIGNATURE_PREFIXES), st.binary(max_size=HEAD_SIZE)).map(b"".join),
    st.tuples(ftyp_boxes(), st.binary(max_size=HEAD_SIZE)).map(b"".join),
)


@settings(max_examples=500, deadline=None)
@given(heads)
def test_detection_only_names_a_format_whose_signature_is_at_the_start(head: bytes) -> None:
    fmt = detect_format(head)
    if fmt is None:
        assert not magic_of(head), head  # and no signature went unrecognised
    else:
        assert fmt in magic_of(head), (fmt, head)


@settings(max_examples=300, deadline=None)
@given(box=ftyp_boxes(), tail=st.binary(max_size=HEAD_SIZE))
def test_heif_family_follows_the_brand_rules(box: bytes, tail: bytes) -> None:
    """A specific brand (major first, then compatible) wins; a generic one means HEIF."""
    head = (box + tail)[:HEAD_SIZE]
    size = int.from_bytes(head[:4], "big")
    within = head[: size or len(head)]
    ordered = [within[8:12]] + [within[i : i + 4] for i in range(16, len(within) - 3, 4)]
    # The HEIF brands of ISO/IEC 23008-12 that name a codec; mif1/msf1 are generic.
    specific = {
        **dict.fromkeys([b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"], HEIC),
        **dict.fromkeys([b"avif", b"avis"], AVIF),
    }
    expected = next((specific[b] for b in ordered if b in specific), None)
    if expected is None and {b"mif1", b"msf1"} & set(ordered):
        expected = HEIF
    if head[8:12] == b"crx ":
        expected = CR3  # Canon's RAW, whatever else it claims
    assert detect_format(head) == expected


# Real images as Pillow writes them, in every supported format and many modes and options.
_PILLOW_CASES: list[tuple[ImageFormat, str, list[str], list[dict[str, object]]]] = [
    (
        JPEG,
        "JPEG",
        ["L", "RGB", "CMYK"],
        [{}, {"quality": 5}, {"progressive": True}, {"exif": b"Exif\0\0MM\0*\0\0\0\x08\0\0"}],
    ),
    (PNG, "PNG", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"], [{}, {"optimize": True}]),
    (GIF, "GIF", ["L", "P", "RGB"], [{}, {"interlace": False}]),
    (WEBP, "WEBP", ["RGB", "RGBA"], [{}, {"lossless": True}, {"quality": 1}]),
    (
        TIFF,
        "TIFF",
        ["1", "L", "RGB", "RGBA", "CMYK", "I;16", "I;16B", "F"],
        [{}, {"compression": "tiff_lzw"}, {"compression": "tiff_deflate"}, {"big_tiff": True}],
    ),
    (AVIF, "AVIF", ["RGB", "RGBA"], [{}, {"quality": 10}]),
]
if corpus.heic_writable():
    _PILLOW_CASES.append((HEIC, "HEIF", ["RGB", "RGBA"], [{}, {"quality": 10}]))


@st.composite
def real_images(draw: st.DrawFn) -> tuple[ImageFormat, bytes]:
    fmt, pillow_name, modes, options = draw(st.sampled_from(_PILLOW_CASES))
    mode = draw(st.sampled_from(modes))
    size = (draw(st.integers(1, 48)), draw(st.integers(1, 48)))
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGB")
    image = image.convert("L").convert(mode) if mode.startswith(("I", "F")) else image.convert(mode)
    if pillow_name == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    image.save(buffer, pillow_name, **draw(st.sampled_from(options)))
    return fmt, buffer.getvalue()


def signature_length(fmt: ImageFormat, data: bytes) -> int:
    """How many leading bytes make up the format's signature."""
    if fmt in (HEIC, HEIF, AVIF):
        return int.from_bytes(data[:4], "big")  # the whole ftyp box
    return {JPEG: 3, PNG: 8, GIF: 6, WEBP: 12, TIFF: 4}[fmt]


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(image=real_images(), tail=st.binary(max_size=HEAD_SIZE))
def test_real_images_are_detected_and_appended_bytes_change_nothing(
    image: tuple[ImageFormat, bytes], tail: bytes
) -> None:
    fmt, data = image
    event(fmt.name)
    assert detect_format(data[:HEAD_SIZE]) == fmt
    assert detect_format(data) == fmt
    signature = data[: signature_length(fmt, data)]
    assert detect_format(signature) == fmt
    assert detect_format((signature + tail)[:HEAD_SIZE]) == fmt
    assert detect_format(data + tail) == fmt


# One sentence, from a closed set: a file's own bytes never end up in the message.
_SENTENCE = re.compile(
    r"This file is (?:empty \(0 bytes\)|not a supported image \((?:it looks like "
    r"(?:text|a PDF document|a ZIP archive or an office document|a Photoshop document"
    r"|an icon file|a BMP image, which is not supported|a video)"
    r"|JPEG, PNG, WebP, GIF, TIFF, HEIC/HEIF, AVIF, or a camera RAW file)\))\."
)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        heads,
        st.text(max_size=HEAD_SIZE).map(str.encode),
        st.text(max_size=HEAD_SIZE).map(lambda text: text.encode("utf-16")),
    )
)
def test_describe_unrecognised_is_always_one_plain_sentence(head: bytes) -> None:
    sentence = describe_unrecognised(head)
    assert _SENTENCE.fullmatch(sentence), sentence
    assert sentence.count(".") == 1 and sentence.endswith(".")
    assert sentence.isprintable()
