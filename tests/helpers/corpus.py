"""Generate test images on the fly, so no binary blobs live in the repository.

Every function writes one file and returns its Path. Pictures that tests inspect use
large flat colour areas so JPEG loss cannot blur the answer.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ORIENTATION_TAG = 0x0112
GPS_IFD_TAG = 0x8825

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)

# What a viewer must see once an orientation tag is honoured: four coloured quadrants.
UPRIGHT_QUADRANTS = {
    "top_left": RED,
    "top_right": GREEN,
    "bottom_left": BLUE,
    "bottom_right": WHITE,
}

# The transpose that turns an upright picture into the pixels a camera stores with each
# orientation tag (the inverse of what a viewer applies; EXIF 2.3, tag 0x0112).
_STORED_FROM_UPRIGHT = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # the viewer rotates 90° clockwise
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,  # the viewer rotates 90° counter-clockwise
}


def _exif_bytes(
    orientation: int | None = None, gps: bool = False, taken: str | None = None
) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    if taken is not None:
        exif[0x8769] = {0x9003: taken}  # Exif IFD: DateTimeOriginal, "YYYY:MM:DD HH:MM:SS"
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    if gps:
        exif[GPS_IFD_TAG] = {
            1: "N",
            2: (48.0, 51.0, 29.0),
            3: "E",
            4: (2.0, 17.0, 40.0),
        }
    return exif.tobytes()


def quadrants(size: tuple[int, int]) -> Image.Image:
    """An upright RGB picture split into UPRIGHT_QUADRANTS."""
    width, height = size
    im = Image.new("RGB", size, WHITE)
    im.paste(RED, (0, 0, width // 2, height // 2))
    im.paste(GREEN, (width // 2, 0, width, height // 2))
    im.paste(BLUE, (0, height // 2, width // 2, height))
    return im


def _noisy_rgb(size: tuple[int, int], seed: int) -> Image.Image:
    """Smooth colour blobs plus a ramp plus grain: compresses and decodes like a photo."""
    width = size[0]
    rng = np.random.default_rng(seed)
    blobs = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), "RGB")
    pixels = np.asarray(blobs.resize(size, Image.Resampling.BICUBIC)) >> 1  # 0..127
    pixels += (np.arange(width) * 64 // max(width, 1)).astype(np.uint8)[None, :, None]  # +0..63
    grain = np.frombuffer(rng.bytes(pixels.size), np.uint8).reshape(pixels.shape)
    pixels += grain & 31  # +0..31: at most 221, so uint8 never wraps
    pixels += 16
    return Image.fromarray(pixels, "RGB")


def jpeg_photo(
    path: Path,
    size: tuple[int, int] = (64, 48),
    orientation: int | None = None,
    noisy: bool = True,
    exif_gps: bool = False,
    quality: int = 90,
    seed: int = 0,
    private_text: bytes | None = None,
    taken: str | None = None,
) -> Path:
    """A photo-like JPEG with a camera EXIF block (optionally orientation, GPS and the
    date taken, as EXIF writes it: "2019:07:14 09:30:00").

    private_text, when given, is stored both as a JPEG comment and inside XMP.
    """
    im = _noisy_rgb(size, seed) if noisy else quadrants(size)
    extra: dict[str, bytes] = {}
    if private_text is not None:
        extra = {"comment": private_text, "xmp": b"<x:xmpmeta>" + private_text + b"</x:xmpmeta>"}
    im.save(path, "JPEG", quality=quality, exif=_exif_bytes(orientation, exif_gps, taken), **extra)
    return path


LARGE_THUMBNAIL = 0x010002  # MPF's "Large Thumbnail (Full HD Equivalent)"


def camera_jpeg_with_mpf(
    path: Path,
    main: Image.Image,
    large: Image.Image,
    *,
    orientation: int | None = None,
    mp_type: int = LARGE_THUMBNAIL,
) -> Path:
    """A JPEG as cameras write it: the photo, then an MPF (CIPA DC-007) second image of
    type `mp_type`, by default the large preview cameras embed. Pillow writes the MPF
    with its second image "Undefined"; its MP entry's type is set here."""
    buffer = io.BytesIO()
    exif = _exif_bytes(orientation, False, None)
    main.save(buffer, "MPO", quality=90, exif=exif, save_all=True, append_images=[large])
    data = bytearray(buffer.getvalue())
    tiff = data.find(b"MPF\x00") + 4
    tag = data.find(b"\x02\xb0\x07\x00", tiff)  # MPEntry, UNDEFINED
    entries = tiff + struct.unpack_from("<L", data, tag + 8)[0]
    struct.pack_into("<L", data, entries + 16, mp_type)  # the second image's attribute
    path.write_bytes(bytes(data))
    return path


def realistic_12mp_jpeg(path: Path, seed: int = 0, orientation: int | None = None) -> Path:
    """A 4000x3000 photo-like JPEG at quality 90 (a few MB), in well under a second."""
    return jpeg_photo(path, (4000, 3000), orientation=orientation, quality=90, seed=seed)


def oriented_image(
    path: Path, orientation: int, size: tuple[int, int] = (64, 32), fmt: str = "JPEG"
) -> Path:
    """An image whose stored pixels are rotated/flipped so that a viewer honouring
    `orientation` sees quadrants(size) upright. Any tag value is written as is.

    fmt: JPEG, PNG (eXIf chunk), WEBP (lossless) or TIFF (tag 274).
    """
    upright = quadrants(size)
    method = _STORED_FROM_UPRIGHT.get(orientation)
    stored = upright.transpose(method) if method is not None else upright
    options: dict[str, object] = {}
    if fmt == "JPEG":
        options = {"quality": 95}
    elif fmt == "WEBP":
        options = {"lossless": True}
    stored.save(path, fmt, exif=_exif_bytes(orientation), **options)
    return path


def oriented_jpeg(path: Path, orientation: int, size: tuple[int, int] = (64, 32)) -> Path:
    return oriented_image(path, orientation, size, "JPEG")


def orientation_out_of_range_jpeg(path: Path, value: int = 9) -> Path:
    """An upright quadrants JPEG carrying a nonsense orientation value."""
    return oriented_jpeg(path, value)


def corrupt_exif_jpeg(path: Path) -> Path:
    """A valid JPEG whose APP1 Exif segment holds a broken TIFF structure."""
    quadrants((32, 16)).save(path, "JPEG", quality=95)
    data = path.read_bytes()
    # TIFF header pointing its first IFD far past the end, then an IFD claiming 65535 entries.
    payload = (
        b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 0x7FFFFFF0) + b"\xff\xff" + b"\x00" * 8
    )
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    path.write_bytes(data[:2] + segment + data[2:])
    return path


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def swapped_primaries_icc() -> bytes:
    """A minimal ICC v2 RGB profile whose red and green primaries are swapped (linear TRC).

    Pixels (255, 0, 0) tagged with it are really pure green: a crisp test that an embedded
    profile was honoured.
    """
    d50 = (0.9642, 1.0, 0.8249)
    srgb_red = (0.4361, 0.2225, 0.0139)  # sRGB colorants, adapted to D50
    srgb_green = (0.3851, 0.7169, 0.0971)
    srgb_blue = (0.1431, 0.0606, 0.7141)

    def xyz(values: tuple[float, float, float]) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(_s15f16(v) for v in values)

    name = b"Swapped red/green test profile\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(name)) + name + b"\0" * (8 + 3 + 67)
    linear = b"curv\0\0\0\0" + struct.pack(">I", 0)
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(d50)),
        (b"rXYZ", xyz(srgb_green)),
        (b"gXYZ", xyz(srgb_red)),
        (b"bXYZ", xyz(srgb_blue)),
        (b"rTRC", linear),
        (b"gTRC", linear),
        (b"bTRC", linear),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + b"".join(_s15f16(v) for v in d50)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def profiled_png(path: Path, icc_profile: bytes, size: tuple[int, int] = (32, 16)) -> Path:
    """A pure (255, 0, 0) PNG carrying the given ICC profile."""
    Image.new("RGB", size, RED).save(path, "PNG", icc_profile=icc_profile)
    return path


def png_rgba(path: Path, size: tuple[int, int] = (40, 20)) -> Path:
    """Left half fully transparent (black underneath), right half opaque red."""
    width, height = size
    im = Image.new("RGBA", size, (0, 0, 0, 0))
    im.paste((255, 0, 0, 255), (width // 2, 0, width, height))
    im.save(path, "PNG")
    return path


def la_png(path: Path, size: tuple[int, int] = (40, 20)) -> Path:
    """Grey with alpha: left half transparent, right half opaque black."""
    width, height = size
    im = Image.new("LA", size, (0, 0))
    im.paste((0, 255), (width // 2, 0, width, height))
    im.save(path, "PNG")
    return path


def palette_png(path: Path, size: tuple[int, int] = (40, 20)) -> Path:
    """A palette PNG: left half uses the transparent index, right half opaque blue."""
    width, height = size
    im = Image.new("P", size, 0)
    im.putpalette([0, 0, 0, 0, 0, 255] + [0, 0, 0] * 254)
    im.paste(1, (width // 2, 0, width, height))
    im.save(path, "PNG", transparency=0)
    return path


def cmyk_jpeg(path: Path, size: tuple[int, int] = (40, 20)) -> Path:
    """A CMYK JPEG (Adobe style): left half pure cyan, right half pure black."""
    width, height = size
    im = Image.new("CMYK", size, (255, 0, 0, 0))
    im.paste((0, 0, 0, 255), (width // 2, 0, width, height))
    im.save(path, "JPEG", quality=95)
    return path


def gray16_png(path: Path, size: tuple[int, int] = (256, 8)) -> Path:
    """16-bit grayscale PNG with a left-to-right ramp over the full 0..65535 range."""
    width, height = size
    ramp = np.linspace(0, 65535, width, dtype=np.float64).astype(np.uint16)
    Image.fromarray(np.tile(ramp, (height, 1))).save(path, "PNG")
    return path


def gray16_trns_png(path: Path, size: tuple[int, int] = (40, 20)) -> Path:
    """16-bit grey PNG whose tRNS chunk makes value 0 transparent: the left half is 0, the
    right half near black (4096)."""
    width, height = size
    pixels = np.zeros((height, width), dtype=np.uint16)
    pixels[:, width // 2 :] = 4096
    Image.fromarray(pixels).save(path, "PNG", transparency=0)
    return path


def gray32_tiff(path: Path, size: tuple[int, int] = (256, 8), floating: bool = False) -> Path:
    """32-bit integer (mode I) or float (mode F) grayscale TIFF with a left-to-right ramp."""
    width, height = size
    if floating:
        ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)
    else:
        ramp = np.linspace(0, 1_000_000, width).astype(np.int32)
    Image.fromarray(np.tile(ramp, (height, 1))).save(path, "TIFF")
    return path


def bilevel_png(path: Path, size: tuple[int, int] = (32, 16)) -> Path:
    """A 1-bit PNG: left half black, right half white."""
    width, height = size
    im = Image.new("1", size, 0)
    im.paste(1, (width // 2, 0, width, height))
    im.save(path, "PNG")
    return path


def _frames() -> list[Image.Image]:
    return [Image.new("RGB", (32, 16), RED), Image.new("RGB", (32, 16), BLUE)]


def animated_gif(path: Path) -> Path:
    """Two frames: red, then blue."""
    first, *rest = _frames()
    first.save(path, "GIF", save_all=True, append_images=rest, duration=100, loop=0)
    return path


def animated_webp(path: Path) -> Path:
    """Two frames: red, then blue (lossless, so colours stay exact)."""
    first, *rest = _frames()
    first.save(path, "WEBP", save_all=True, append_images=rest, duration=100, lossless=True)
    return path


def webp(path: Path, size: tuple[int, int] = (32, 16)) -> Path:
    quadrants(size).save(path, "WEBP", lossless=True)
    return path


def gif(path: Path, size: tuple[int, int] = (32, 16)) -> Path:
    quadrants(size).save(path, "GIF")
    return path


def png(path: Path, size: tuple[int, int] = (32, 16)) -> Path:
    quadrants(size).save(path, "PNG")
    return path


def tiff(path: Path, size: tuple[int, int] = (32, 16)) -> Path:
    """An RGB TIFF in Intel byte order ("II*")."""
    quadrants(size).save(path, "TIFF")
    return path


def gray16_big_endian_tiff(path: Path, size: tuple[int, int] = (256, 8)) -> Path:
    """A 16-bit grey ramp TIFF in Motorola byte order ("MM*"), Pillow mode I;16B."""
    width, height = size
    ramp = np.linspace(0, 65535, width).astype(">u2")
    Image.frombytes("I;16B", size, np.tile(ramp, (height, 1)).tobytes()).save(path, "TIFF")
    return path


def avif(path: Path, size: tuple[int, int] = (32, 16), orientation: int | None = None) -> Path:
    """An AVIF whose viewer-facing picture is quadrants(size).

    Pillow turns the EXIF orientation into the file's irot/imir boxes when saving.
    """
    upright = quadrants(size)
    method = _STORED_FROM_UPRIGHT.get(orientation or 1)
    stored = upright.transpose(method) if method is not None else upright
    stored.save(path, "AVIF", quality=90, exif=_exif_bytes(orientation))
    return path


def heic_writable() -> bool:
    """True when pillow-heif is installed with an HEVC encoder."""
    try:
        import pillow_heif
    except ImportError:
        return False
    return bool(pillow_heif.libheif_info().get("HEIF"))


def heic(path: Path, size: tuple[int, int] = (64, 32), orientation: int | None = None) -> Path:
    """An HEIC whose viewer-facing picture is quadrants(size) (needs heic_writable())."""
    import pillow_heif

    upright = quadrants(size)
    method = _STORED_FROM_UPRIGHT.get(orientation or 1)
    stored = upright.transpose(method) if method is not None else upright
    heif = pillow_heif.from_pillow(stored)
    heif.save(path, quality=95, exif=_exif_bytes(orientation))
    return path


def truncated_jpeg(path: Path, keep: float = 0.5, seed: int = 0) -> Path:
    """A real noisy JPEG cut off part-way through its image data."""
    jpeg_photo(path, (256, 192), seed=seed)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def jpeg_missing_last_bytes(path: Path, missing: int = 8) -> Path:
    """A photo JPEG whose last `missing` bytes (its end marker and a little image data)
    are gone: the whole picture is there but for its last blocks."""
    jpeg_photo(path, (640, 480), seed=4)
    path.write_bytes(path.read_bytes()[:-missing])
    return path


def png_cut(path: Path, missing: int) -> Path:
    """A photo-like PNG without its last `missing` bytes: 12 takes only the IEND chunk;
    more cuts into the image data."""
    _noisy_rgb((400, 300), 5).save(path, "PNG")
    path.write_bytes(path.read_bytes()[:-missing])
    return path


def damaged_lzw_tiff(path: Path) -> Path:
    """An LZW TIFF with a run of 0xFF bytes inside its image data: libtiff's decoder fails
    ("Using code not yet in table") and would say so on stderr."""
    _noisy_rgb((200, 100), 2).save(path, "TIFF", compression="tiff_lzw")
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 200] = b"\xff" * 200
    path.write_bytes(bytes(data))
    return path


def png_garbage_after_signature(path: Path) -> Path:
    """The 8-byte PNG signature followed by random bytes."""
    rng = np.random.default_rng(1)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
    return path


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def blank_bilevel_png(path: Path, width: int, height: int) -> Path:
    """A real, valid all-black 1-bit PNG of any size, streamed row by row (tiny on disk)."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    idat = b"".join(parts) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return path


def decompression_bomb_png(path: Path, times_limit: float = 2.2) -> Path:
    """A valid PNG whose pixel count is `times_limit` x Image.MAX_IMAGE_PIXELS.

    Above 2x Pillow refuses to open it; between 1x and 2x it only warns.
    """
    limit = Image.MAX_IMAGE_PIXELS or 89_478_485
    side = int((limit * times_limit) ** 0.5) + 1
    return blank_bilevel_png(path, side, side)


def png_header_bomb(path: Path, side: int = 66070) -> Path:
    """A PNG of a few dozen bytes whose header claims side x side pixels (4,365 MP):
    decoding it would take gigabytes before finding that there is nothing there."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat))
    return path


def big_scan(path: Path, size: tuple[int, int], **save: object) -> Path:
    """A scan of `size` pixels, left half dark red, right half pale blue, written by
    libvips a strip at a time (a 300 MP PNG in about two seconds, never whole in memory).
    The format follows the suffix; `save` goes to libvips' saver (interlace=True, Q=80)."""
    import pyvips

    width, height = size
    blank = pyvips.Image.black(width, height).cast("uchar")
    left, right = blank.new_from_image([140, 20, 20]), blank.new_from_image([170, 200, 240])
    picture = (pyvips.Image.xyz(width, height)[0] < width // 2).ifthenelse(left, right)
    picture.write_to_file(str(path), **save)
    return path


def header_claiming_huge_jpeg(path: Path, side: int = 65500) -> Path:
    """A tiny real JPEG whose frame header (SOF0) claims side x side pixels."""
    jpeg_photo(path, (16, 16), seed=21)
    data = bytearray(path.read_bytes())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, side, side)  # height, width
    path.write_bytes(bytes(data))
    return path


def progressive_jpeg_claiming(path: Path, side: int) -> Path:
    """A tiny progressive JPEG whose frame header (SOF2) claims side x side pixels: a
    progressive decode keeps coefficients for all of them, whatever the scale."""
    Image.new("RGB", (16, 16), (200, 10, 10)).save(path, "JPEG", progressive=True)
    data = bytearray(path.read_bytes())
    sof = data.find(b"\xff\xc2")
    struct.pack_into(">HH", data, sof + 5, side, side)
    path.write_bytes(bytes(data))
    return path


def webp_header_only(path: Path) -> Path:
    """A WebP signature and an empty VP8 chunk: recognised, but nothing to decode."""
    path.write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 \x00\x00\x00\x00")
    return path


def text_named_jpg(path: Path) -> Path:
    """A plain-text file wearing a .jpg name."""
    path.write_text("These are my holiday notes, not a picture.\nDay 1: beach.\n", "utf-8")
    return path


def zero_byte(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def one_pixel(path: Path) -> Path:
    Image.new("RGB", (1, 1), RED).save(path, "PNG")
    return path


def panorama(path: Path, size: tuple[int, int] = (30000, 200)) -> Path:
    """A very wide JPEG (stripes, so it compresses small)."""
    width, height = size
    stripes = np.tile((np.arange(width) // 100 % 2 * 255).astype(np.uint8), (height, 1))
    Image.fromarray(stripes, "L").convert("RGB").save(path, "JPEG", quality=80)
    return path


def mixed_folder(folder: Path) -> dict[str, Path]:
    """A folder like a user's: good images of every format plus the usual junk."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "photo": jpeg_photo(folder / "photo.jpg", (320, 240), exif_gps=True),
        "rotated": oriented_jpeg(folder / "rotated.JPEG", 6),
        "png_is_jpeg": jpeg_photo(folder / "really_a_jpeg.png"),
        "rgba": png_rgba(folder / "transparent.png"),
        "palette": palette_png(folder / "palette.png"),
        "cmyk": cmyk_jpeg(folder / "print.jpg"),
        "gray16": gray16_png(folder / "scan16.png"),
        "gif": animated_gif(folder / "anim.gif"),
        "webp": animated_webp(folder / "anim.webp"),
        "tiff": tiff(folder / "scan.tif"),
        "avif": avif(folder / "modern.avif"),
        "one_pixel": one_pixel(folder / "dot.png"),
        "truncated": truncated_jpeg(folder / "cut.jpg"),
        "garbage_png": png_garbage_after_signature(folder / "broken.png"),
        "text": text_named_jpg(folder / "notes.jpg"),
        "empty": zero_byte(folder / "empty.jpg"),
        "corrupt_exif": corrupt_exif_jpeg(folder / "odd_exif.jpg"),
    }
    if heic_writable():
        files["heic"] = heic(folder / "phone.heic", orientation=6)
    return files


# --- Bad input: names, links and special files (issue 4) --------------------------------

EMOJI_NAME = "🪙 coin 1923 👨\u200d👩\u200d👧 🇬🇧.jpg"
NEWLINE_NAME = "obverse\nreverse.jpg"
ESCAPE_NAME = "\x1b[31mred\x1b[0m\ttab\rreturn.jpg"  # terminal colour codes, tab, CR
# NAME_MAX on Linux is 255 bytes: one name of ASCII, one of two-byte characters.
LONG_ASCII_NAME = "a" * 251 + ".jpg"
LONG_UNICODE_NAME = "é" * 125 + "x.jpg"  # 250 + 1 + 4 = 255 bytes
NON_UTF8_NAME = b"caf\xe9 d\xfcrer \xff.jpg"  # Latin-1 bytes: not valid UTF-8


def bytes_named(folder: Path, name: bytes, make: Callable[[Path], Path]) -> Path:
    """A file whose name is raw bytes (e.g. not valid UTF-8), made by `make`.

    Returns the str Path Python gives that file (os.fsdecode: undecodable bytes become
    lone surrogates, which os.fsencode turns back into the same bytes).
    """
    return make(Path(os.fsdecode(os.path.join(os.fsencode(folder), name))))


def fifo(path: Path) -> Path:
    """A named pipe: opening it for reading would block until a writer comes."""
    os.mkfifo(path)
    return path


def device_file(path: Path) -> tuple[Path, bool]:
    """A character device (1, 3) like /dev/null at `path`; True if it is a real node.

    Creating device nodes needs root (CAP_MKNOD); without it the file is a symlink to
    /dev/null instead, which the walker must report just the same.
    """
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, OSError, AttributeError):
        path.symlink_to("/dev/null")
        return path, False
    return path, True


def many_tiny_photos(folder: Path, count: int = 10_000) -> list[Path]:
    """`count` distinct tiny PNGs in one folder (IMG_00000.png, ...), about 70 bytes each.

    Written from one template by patching the pixel bytes, so 10,000 take well under a
    second instead of 10,000 Pillow encodes.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        raw = b"\x00" + index.to_bytes(6, "big")  # filter byte + 2 RGB pixels
        idat = zlib.compress(raw, 9)
        header = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)  # 2x1, 8-bit RGB
        path = folder / f"IMG_{index:05d}.png"
        path.write_bytes(
            b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b"")
        )
        paths.append(path)
    return paths


@dataclass(frozen=True)
class BadInputCorpus:
    """What bad_input_folder made.

    files: label -> path for everything the walker should report (good and bad);
    silent: paths in the folder that must produce no entry at all (a loop to an ancestor);
    real_device: whether `files["device"]` is a real device node (root) or a symlink.
    """

    root: Path
    files: dict[str, Path]
    silent: tuple[Path, ...]
    real_device: bool


def bad_input_folder(folder: Path) -> BadInputCorpus:
    """A dropped folder holding every kind of bad input issue 4 lists, plus good photos.

    Every image file has content of its own, so none is a duplicate of another.
    """
    folder.mkdir(parents=True, exist_ok=True)
    nested = folder / "nested"
    nested.mkdir()
    files: dict[str, Path] = {
        # Good photos, including ones with odd shapes, modes and metadata.
        "photo": jpeg_photo(folder / "photo.jpg", (320, 240), exif_gps=True),
        "png_is_jpeg": jpeg_photo(folder / "really_a_jpeg.png", seed=1),
        "one_pixel": one_pixel(folder / "dot.png"),
        "panorama": panorama(folder / "panorama.jpg"),
        "cmyk": cmyk_jpeg(folder / "print_cmyk.jpg"),
        "gray16_png": gray16_png(folder / "scan16.png"),
        "gray16_tiff": gray16_big_endian_tiff(folder / "scan16_motorola.tif"),
        "animated_gif": animated_gif(folder / "anim.gif"),
        "animated_webp": animated_webp(folder / "anim.webp"),
        "corrupt_exif": corrupt_exif_jpeg(folder / "odd_exif.jpg"),
        "orientation_9": orientation_out_of_range_jpeg(folder / "orientation_9.jpg", 9),
        "orientation_0": orientation_out_of_range_jpeg(folder / "orientation_0.jpg", 0),
        "orientation_65535": orientation_out_of_range_jpeg(folder / "orientation_65535.jpg", 65535),
        # Images whose original uploads but whose thumbnail cannot be made.
        "truncated": truncated_jpeg(folder / "cut.jpg"),
        "garbage_png": png_garbage_after_signature(folder / "broken.png"),
        "bomb_refused": decompression_bomb_png(folder / "bomb.png", 2.2),
        "bomb_warned": decompression_bomb_png(folder / "bomb_small.png", 1.5),
        "lying_jpeg": header_claiming_huge_jpeg(folder / "claims_65500px.jpg"),
        "png_bomb": png_header_bomb(folder / "claims_4365mp.png"),
        "webp_header_only": webp_header_only(folder / "hollow.webp"),
        # Not images at all.
        "empty": zero_byte(folder / "empty.jpg"),
        "text": text_named_jpg(folder / "notes.jpg"),
        # Names.
        "emoji": jpeg_photo(folder / EMOJI_NAME, seed=2),
        "newline": jpeg_photo(folder / NEWLINE_NAME, seed=3),
        "escape_sequence": jpeg_photo(folder / ESCAPE_NAME, seed=8),
        "long_ascii": jpeg_photo(folder / LONG_ASCII_NAME, seed=4),
        "long_unicode": jpeg_photo(nested / LONG_UNICODE_NAME, seed=5),
        "non_utf8": bytes_named(folder, NON_UTF8_NAME, lambda p: jpeg_photo(p, seed=6)),
        "non_utf8_damaged": bytes_named(
            folder, b"cut \xe9t\xe9.jpg", lambda p: truncated_jpeg(p, seed=7)
        ),
        # Links and special files.
        "self_link": folder / "self_loop.jpg",
        "link_loop_a": folder / "ping.jpg",
        "link_loop_b": folder / "pong.jpg",
        "broken_link": folder / "moved_away.jpg",
        "fifo": fifo(folder / "pipe.jpg"),
    }
    files["self_link"].symlink_to("self_loop.jpg")
    files["link_loop_a"].symlink_to("pong.jpg")
    files["link_loop_b"].symlink_to("ping.jpg")
    files["broken_link"].symlink_to("no_such_file.jpg")
    files["device"], real_device = device_file(folder / "device.jpg")
    files["device_link"] = folder / "dev_null_link.jpg"
    files["device_link"].symlink_to("/dev/null")
    # Folder links that loop back to an ancestor: cut silently, nothing listed twice.
    ancestor_loop = nested / "back_to_top"
    ancestor_loop.symlink_to(folder, target_is_directory=True)
    self_folder = folder / "here"
    self_folder.symlink_to(".", target_is_directory=True)
    return BadInputCorpus(
        root=folder,
        files=files,
        silent=(ancestor_loop, self_folder),
        real_device=real_device,
    )
