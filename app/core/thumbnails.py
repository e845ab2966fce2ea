"""JPEG thumbnails for the upload pipeline: fast, upright, sRGB and free of metadata.

Safe to call from many threads at once: each call works on its own objects; the only
shared state is the one-time plugin set-up, done under a lock.

The output is an RGB JPEG with no EXIF, XMP, comment or ICC profile. Pixels are converted
to sRGB when the source embeds another profile (so they need no profile to look right).
"""

from __future__ import annotations

import ctypes
import io
import math
import os
import re
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from PIL import ExifTags, Image, ImageChops, ImageMath, UnidentifiedImageError

from app.core import formats, raw
from app.core.bigimages import (
    DAMAGED,
    DECODE_BUDGET,
    PARTIAL,
    PROGRESSIVE_BUDGET,
    TooBigToDecode,
    progressive_limit,
    streamed_thumbnail,
    too_large_message,
)
from app.core.models import ImageFormat

try:
    from PIL import ImageCms as _ImageCms
except ImportError:  # Pillow built without LittleCMS: colour profiles are then ignored.
    _ImageCms = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ThumbnailSpec:
    """The longest side of the thumbnail in pixels, and its JPEG quality."""

    max_side: int = 300
    quality: int = 85

    def __post_init__(self) -> None:
        if type(self.max_side) is not int or not 16 <= self.max_side <= 4096:
            raise ValueError(
                f"Thumbnail size must be a whole number from 16 to 4096 pixels, "
                f"not {self.max_side!r}."
            )
        if type(self.quality) is not int or not 1 <= self.quality <= 95:
            raise ValueError(
                f"Thumbnail JPEG quality must be a whole number from 1 to 95, not {self.quality!r}."
            )


PREVIEW_FORMATS = {"jpeg": (".jpg", "image/jpeg"), "webp": (".webp", "image/webp")}


@dataclass(frozen=True)
class PreviewSpec:
    """The display preview: longest side in pixels, quality, and format (jpeg or webp)."""

    max_side: int = 1600
    quality: int = 85
    format: str = "jpeg"

    def __post_init__(self) -> None:
        if type(self.max_side) is not int or not 320 <= self.max_side <= 8192:
            raise ValueError(
                f"Preview size must be a whole number from 320 to 8192 pixels, "
                f"not {self.max_side!r}."
            )
        if type(self.quality) is not int or not 1 <= self.quality <= 95:
            raise ValueError(
                f"Preview quality must be a whole number from 1 to 95, not {self.quality!r}."
            )
        if self.format not in PREVIEW_FORMATS:
            raise ValueError(f"Preview format must be jpeg or webp, not {self.format!r}.")

    @property
    def extension(self) -> str:
        return PREVIEW_FORMATS[self.format][0]

    @property
    def content_type(self) -> str:
        return PREVIEW_FORMATS[self.format][1]


@dataclass(frozen=True)
class Derivatives:
    """What one decode of a photo gives: its thumbnail, and its preview when asked for."""

    thumbnail: bytes
    preview: bytes | None = None


class ThumbnailError(Exception):
    """No thumbnail could be made; str() is a plain sentence to show the user."""


_WHITE = (255, 255, 255)
# Files up to this size are decoded from memory in one call (see _thumbnail).
IN_MEMORY_LIMIT = 64 * 1024 * 1024

# Pillow plugin names to try for each detected format (nothing else is attempted).
_PILLOW_FORMATS: dict[ImageFormat, tuple[str, ...]] = {
    formats.JPEG: ("JPEG",),
    formats.PNG: ("PNG",),
    formats.WEBP: ("WEBP",),
    formats.GIF: ("GIF",),
    formats.TIFF: ("TIFF",),
    formats.HEIC: ("HEIF",),
    formats.HEIF: ("HEIF", "AVIF"),
    formats.AVIF: ("AVIF",),
}

# What a viewer does to the stored pixels for each EXIF orientation (1 = nothing).
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
# Decoder messages that mean the data is damaged ("could not create decoder object": a
# WebP whose header promises data that is not there).
_DAMAGE_WORDS = (
    "truncated",
    "broken data stream",
    "end of file",
    "premature end",
    "could not create decoder",
)

# A cut JPEG is whole enough when only its last row of blocks (at most 16 pixel rows for
# 4:2:0) lacks data; the probe drops this many bytes, well inside one such row.
_LAST_BLOCK_ROWS = 16
_JPEG_PROBE_BYTES = 32

# Messages from inside a decoder, which mean damage but say it in a programmer's words.
_DECODER_JARGON = re.compile(r"decoder|encoder|error -?\d+|\bcode -?\d+|tile|buffer", re.I)

_setup_lock = threading.Lock()
_pillow_initialised = False
_heif_attempted = False


def make_thumbnail(path: Path, spec: ThumbnailSpec) -> bytes:
    """JPEG bytes of an upright thumbnail whose longest side is at most spec.max_side.

    Never upscales. Raises ThumbnailError (with a plain-language message) for anything
    that is not a readable supported image.
    """
    return make_derivatives(path, spec).thumbnail


def make_derivatives(
    path: Path, spec: ThumbnailSpec, preview: PreviewSpec | None = None
) -> Derivatives:
    """The thumbnail (as make_thumbnail) and, with `preview`, the display preview, both
    from one decode: the picture is decoded at the larger size, turned upright and made
    sRGB once, and the thumbnail is made from that."""
    try:
        file = path.open("rb")
    except OSError as exc:
        raise ThumbnailError(f"The file could not be read: {_short_reason(exc, path)}.") from exc
    with file:
        try:
            head = file.read(formats.HEAD_SIZE)
            fmt = formats.detect_format(head, path.name)
            if fmt is None:
                raise ThumbnailError(formats.describe_unrecognised(head))
            if fmt.raw:
                return _raw_thumbnail(file, path, fmt, spec, preview)
            file.seek(0)
            source = _whole_if_small(file)
            try:
                return _thumbnail(source, _available_pillow_formats(fmt), spec, preview)
            except (TooBigToDecode, Image.DecompressionBombError):
                return _streamed(path, fmt, spec, preview)
            except Exception as exc:
                if not _is_cut_short(exc):
                    raise
                if fmt is formats.JPEG and isinstance(source, io.BytesIO):
                    return _thumbnail_of_cut_jpeg(source.getvalue(), spec, preview)
                raise ThumbnailError(PARTIAL) from exc
        except ThumbnailError:
            raise
        except raw.NoPreview as exc:
            raise ThumbnailError(str(exc)) from exc
        except Exception as exc:  # any decoder failure becomes a readable sentence
            raise _explain(exc, path) from exc


def _streamed(
    path: Path, fmt: ImageFormat, spec: ThumbnailSpec, preview: PreviewSpec | None
) -> Derivatives:
    """Too big for Pillow to decode whole: libvips, in bounded memory (app.core.bigimages).
    With a preview, libvips makes that (upright, sRGB), and both come from it."""
    try:
        if preview is None:
            return Derivatives(streamed_thumbnail(path, fmt, spec.max_side, spec.quality))
        larger = streamed_thumbnail(path, fmt, max(preview.max_side, spec.max_side), 95)
    except (TooBigToDecode, ValueError) as exc:
        raise ThumbnailError(str(exc)) from exc
    return _thumbnail(io.BytesIO(larger), ("JPEG",), spec, preview, orientation=1)


def _is_cut_short(exc: Exception) -> bool:
    """Whether the decoder ran out of data (rather than finding it damaged)."""
    text = str(exc).lower()
    return isinstance(exc, EOFError) or "truncated" in text or "premature end" in text


def _thumbnail_of_cut_jpeg(
    data: bytes, spec: ThumbnailSpec, preview: PreviewSpec | None
) -> Derivatives:
    """A JPEG that ends a few bytes early (its end marker lost, say) still holds the whole
    picture but for its last blocks: end it and decode it, as Pillow's truncated-image
    mode would (that mode is process-wide, so it is not switched on). One cut further up
    would show a smear where the picture should be: that fails as PARTIAL.

    Where the data ends is found by decoding it twice at the thumbnail's draft scale, once
    with its last bytes dropped: the rows that change are the rows those bytes drew. (A
    progressive JPEG that lacks only fine detail the thumbnail's scale never decodes
    changes nowhere, and rightly passes.)"""
    ending = b"\xff\xd9"
    whole = _small_decode(data + ending, spec)
    shorter = _small_decode(data[: -max(1, min(_JPEG_PROBE_BYTES, len(data) // 4))] + ending, spec)
    if whole is None or shorter is None or whole.size != shorter.size:
        raise ThumbnailError(PARTIAL)
    changed = ImageChops.difference(whole, shorter).getbbox()
    if changed is not None:
        rows_per_pixel = whole.info["full_height"] / whole.height
        if (whole.height - changed[1]) * rows_per_pixel > _LAST_BLOCK_ROWS:
            raise ThumbnailError(PARTIAL)
    # (Not from an MPF preview, which comes after the photo: where the file was cut.)
    return _thumbnail(io.BytesIO(data + ending), ("JPEG",), spec, preview, camera_preview=False)


def _small_decode(data: bytes, spec: ThumbnailSpec) -> Image.Image | None:
    """Decoded at the draft scale the thumbnail itself uses."""
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG",)) as image:
            full_height = image.height
            image.draft("RGB", _fitted_size(image.size, spec.max_side))
            small = image.convert("RGB")
    except Exception:
        return None
    small.info["full_height"] = full_height
    return small


def _raw_thumbnail(
    file: IO[bytes],
    path: Path,
    fmt: ImageFormat,
    spec: ThumbnailSpec,
    preview: PreviewSpec | None,
) -> Derivatives:
    """From the camera's own preview, turned as the RAW file says (its preview JPEG is
    stored as the sensor saw it, often without orientation of its own)."""
    largest = max(spec.max_side, preview.max_side if preview else 0)
    embedded = raw.embedded_preview(file, path, fmt, largest)
    try:
        return _thumbnail(
            io.BytesIO(embedded.data),
            ("JPEG", "PNG"),
            spec,
            preview,
            orientation=embedded.orientation,
        )
    except ThumbnailError:
        raise
    except TooBigToDecode as exc:
        raise ThumbnailError(str(exc)) from exc
    except Exception as exc:
        raise ThumbnailError(
            "This RAW file's embedded preview is damaged, so no thumbnail could be made."
        ) from exc


def _thumbnail(
    file: IO[bytes],
    pillow_formats: tuple[str, ...],
    spec: ThumbnailSpec,
    preview: PreviewSpec | None = None,
    *,
    orientation: int | None = None,
    camera_preview: bool = True,
) -> Derivatives:
    """`orientation`, when given, is used instead of the image's own EXIF orientation.
    `camera_preview`: a JPEG's MPF preview may stand in for the photo (_to_large_preview)."""
    largest = max(spec.max_side, preview.max_side if preview else 0)
    with Image.open(file, formats=pillow_formats) as source:
        icc_profile = source.info.get("icc_profile")
        if source.format == "MPO" and orientation is None and camera_preview:
            main_orientation = _orientation(source)
            if _to_large_preview(source, largest):
                orientation = main_orientation  # the photo's, and its colours: see there
        declared = source.width * source.height
        if isinstance(file, io.BytesIO):
            # One decoder call for the whole file: the GIL stays released throughout,
            # instead of being taken back every 64 KiB while upload threads want it
            # (measured under load: 146 -> 88 ms per 12 MP JPEG).
            source.decodermaxblock = max(source.decodermaxblock, len(file.getbuffer()) + 1)
        if source.format in ("JPEG", "MPO"):
            # DCT-domain downscaling while decoding: the big win. It only works before
            # the image is loaded, hence before any transpose. The target is computed in
            # stored orientation; max_side bounds both sides, so orientations 5-8 (which
            # swap width and height) need the same draft size. Drafting to the final size
            # rather than 2x it (1/8 instead of 1/4 scale for 12 MP) measured 42 vs 55 ms,
            # 52 vs 55 dB PSNR against a full-size LANCZOS reference: invisible at 300 px.
            source.draft("RGB", _fitted_size(source.size, largest))
        _check_decode_size(source, declared)  # after draft: what is decoded
        image = _resizable(source)
        image.thumbnail((largest, largest), Image.Resampling.LANCZOS)
        # Orientation is read only after decoding: Pillow's TIFF plugin rotates while
        # loading and then drops the tag (pillow-heif does the same at open).
        if orientation != 1 and orientation not in _ORIENTATION_TRANSPOSE:
            orientation = _orientation(source)  # none given (or out of range): the EXIF's
        method = _ORIENTATION_TRANSPOSE.get(orientation)
        if method is not None:
            image = image.transpose(method)
        image = _to_srgb(image, icc_profile)
        image.info = {}  # a save would otherwise copy a source comment
    if preview is None:
        return Derivatives(_encoded(image, "JPEG", spec.quality))
    shown = _encoded(_fitted(image, preview.max_side), preview.format.upper(), preview.quality)
    return Derivatives(_encoded(_fitted(image, spec.max_side), "JPEG", spec.quality), shown)


def _fitted(image: Image.Image, max_side: int) -> Image.Image:
    """The image, or a copy shrunk to fit `max_side` (the larger of thumbnail and preview
    was decoded; the other is made from it)."""
    if max(image.size) <= max_side:
        return image
    smaller = image.copy()
    smaller.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return smaller


def _to_large_preview(source: Image.Image, largest: int) -> bool:
    """Move to the camera's large preview in the JPEG's MPF (about 1920 px on most
    cameras) when it is at least `largest` and has the photo's shape: decoding it is
    about 8x faster than drafting the photo (bench/thumbnails.py) and looks the same at
    thumbnail size. It is stored as the photo is, so the photo's orientation and colour
    profile apply. A preview of another shape (cropped, rotated) is not used."""
    width, height = source.size
    entries = (getattr(source, "mpinfo", None) or {}).get(0xB002) or []
    for index, entry in enumerate(entries[1:], start=1):
        kind = str(entry.get("Attribute", {}).get("MPType", ""))
        if not kind.startswith("Large Thumbnail"):
            continue  # (a stereo pair's other view, a depth map, a gain map: not this)
        try:
            source.seek(index)
        except (EOFError, OSError, ValueError):  # not in the file (it was cut short, say)
            source.seek(0)
            break
        w, h = source.size
        if max(w, h) >= largest and abs(w * height - h * width) <= 0.01 * width * h:
            return True
        source.seek(0)
    return False


def _encoded(image: Image.Image, pillow_format: str, quality: int) -> bytes:
    """No EXIF, XMP or ICC profile: the pixels are sRGB already."""
    buffer = io.BytesIO()
    if pillow_format == "JPEG":
        image.save(buffer, "JPEG", quality=quality, optimize=True)
    else:
        image.save(buffer, pillow_format, quality=quality, method=4)
    return buffer.getvalue()


def silence_decoder_warnings() -> None:
    """Keep Pillow's decoder warnings (corrupt EXIF, large images) off the user's terminal.

    make_thumbnail reports those conditions itself, in plain words. Warning filters are
    process-wide and not thread-safe to change, so entry points call this once at start.
    """
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    _silence_libtiff()


def _silence_libtiff() -> None:
    """libtiff prints its own warnings and errors to stderr ("Using code not yet in
    table.", 400 lines in a run of odd TIFFs); the failure still reaches us as a decoder
    error, which we put in words. Its handlers are process-wide C state, so they are
    turned off once, in the copy of libtiff that Pillow loaded (found by name in our
    memory map: Linux; elsewhere nothing changes)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "libtiff" in line.rsplit("/", 1)[-1]}
    except OSError:
        return
    for library_path in paths:
        try:
            library = ctypes.CDLL(library_path)
        except OSError:
            continue
        for name in ("TIFFSetWarningHandler", "TIFFSetErrorHandler"):
            handler_setter = getattr(library, name, None)
            if handler_setter is not None:
                handler_setter.restype = ctypes.c_void_p
                handler_setter.argtypes = [ctypes.c_void_p]
                handler_setter(None)


def _whole_if_small(file: IO[bytes]) -> IO[bytes]:
    """The file in memory when it is small enough (photos), else the file itself."""
    size = os.fstat(file.fileno()).st_size
    if size > IN_MEMORY_LIMIT:
        return file
    return io.BytesIO(file.read())


def _available_pillow_formats(fmt: ImageFormat) -> tuple[str, ...]:
    """Pillow plugins for fmt, registering pillow-heif on the first HEIC/HEIF file."""
    global _pillow_initialised, _heif_attempted
    wanted = _PILLOW_FORMATS[fmt]
    with _setup_lock:
        if not all(name in Image.OPEN for name in wanted):
            # JPEG and PNG need only Pillow's first five plugins; all its forty-odd (30 ms
            # of imports, holding the GIL as an upload starts) only for the other formats.
            Image.preinit()
        if not all(name in Image.OPEN for name in wanted) and not _pillow_initialised:
            Image.init()
            _pillow_initialised = True
        if "HEIF" in wanted and not _heif_attempted:
            _heif_attempted = True
            try:
                import pillow_heif

                pillow_heif.register_heif_opener()
            except (ImportError, OSError):
                pass  # reported below as missing support
    names = tuple(name for name in wanted if name in Image.OPEN)
    if not names:
        raise ThumbnailError(f"{fmt.name} support is not installed, so no thumbnail could be made.")
    return names


def _fitted_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _check_decode_size(source: Image.Image, declared: int) -> None:
    """Pillow holds an image whole, up to 4 bytes a pixel, deep grey with its converted
    copies (and a transparency mask) more: what would not fit DECODE_BUDGET goes to
    libvips instead. A progressive JPEG keeps its coefficients for the whole declared
    size however small the draft: past PROGRESSIVE_BUDGET it is refused (libvips would
    need the same). (Pillow's own check, Image.MAX_IMAGE_PIXELS, is process-wide and
    judges the declared size, so it is left alone; past twice its limit Pillow refuses at
    open, which leads to libvips too.)"""
    if source.format in ("JPEG", "MPO") and source.info.get("progressive"):
        coefficients = declared * _coefficient_bytes_per_pixel(source)
        if coefficients > PROGRESSIVE_BUDGET:
            raise TooBigToDecode(too_large_message(declared, progressive_limit()))
    pixels = source.width * source.height
    per_pixel = 4
    if source.mode.startswith("I;16") or source.mode in ("I", "F"):
        per_pixel = 17 if "transparency" in source.info else 8
    if pixels * per_pixel > DECODE_BUDGET:
        raise TooBigToDecode(too_large_message(pixels))


def _coefficient_bytes_per_pixel(source: Image.Image) -> float:
    """Two bytes per DCT coefficient, for each component at its sampling."""
    layers = getattr(source, "layer", None) or [("", 1, 1, 0)] * 3
    widest = max(h for _, h, _, _ in layers) * max(v for _, _, v, _ in layers)
    return 2 * sum(h * v for _, h, v, _ in layers) / widest


def _resizable(image: Image.Image) -> Image.Image:
    """Load the image in a mode that resizes well.

    Pillow resizes P and 1 with nearest-neighbour only, cannot resize 16-bit grey, and
    "transparency" keys (exact colour matches) do not survive resampling.
    """
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        return _deep_grey_to_l(image)
    if image.mode in ("P", "PA") or "transparency" in image.info:
        return image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image.mode == "1":
        return image.convert("L")
    image.load()
    return image


def _deep_grey_to_l(image: Image.Image) -> Image.Image:
    """Scale 16/32-bit grey to 8 bits (Pillow's own convert("L") clips at 255).

    16-bit images use their full 0..65535 range; 32-bit int and float images, which have
    no fixed range, are stretched from their darkest to their brightest value.
    """
    floats = image.convert("F")
    if image.mode.startswith("I;16"):
        low, high = 0.0, 65535.0
    else:
        low, high = cast(tuple[float, float], floats.getextrema())  # one band: (min, max)
    scale = 255.0 / (high - low) if high > low else 0.0
    offset = -low * scale
    grey = floats.point(lambda v: v * scale + offset).convert("L")
    grey.info.pop("transparency", None)
    key = image.info.get("transparency")
    if isinstance(key, int):  # a 16-bit grey PNG's tRNS: one value that is transparent
        visible = ImageMath.lambda_eval(lambda px: (px["a"] != key) * 255, a=image.convert("I"))
        grey.putalpha(visible.convert("L"))  # "LA": put over white like any other alpha
    return grey


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation 1-8; damaged EXIF or out-of-range values count as upright."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # EXIF is optional metadata: never fail a thumbnail over it
        return 1
    return value if isinstance(value, int) and value in _ORIENTATION_TRANSPOSE else 1


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """RGB pixels in sRGB: transparency over white, embedded profile applied."""
    if image.mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    if icc_profile and image.mode in ("RGB", "L", "CMYK"):
        converted = _apply_profile(image, icc_profile)
        if converted is not None:
            return converted
    return image if image.mode == "RGB" else image.convert("RGB")


def _apply_profile(image: Image.Image, icc_profile: bytes) -> Image.Image | None:
    """Convert from the embedded profile to sRGB; None when that is not needed or fails."""
    if _ImageCms is None:
        return None
    try:
        source = _ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if _ImageCms.getProfileDescription(source).strip().startswith("sRGB"):
            return None
        return _ImageCms.profileToProfile(
            image, source, _ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except (_ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # a broken profile: fall back to plain conversion


def _explain(exc: Exception, path: Path) -> ThumbnailError:
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        match = re.search(r"\((\d+) pixels\)", str(exc))
        return ThumbnailError(too_large_message(int(match.group(1)) if match else None))
    if isinstance(exc, TooBigToDecode):
        return ThumbnailError(str(exc))
    if isinstance(exc, UnidentifiedImageError):
        return ThumbnailError(
            "The file starts like an image but its contents are damaged, "
            "so no thumbnail could be made."
        )
    if isinstance(exc, MemoryError):
        return ThumbnailError("There was not enough memory to make this thumbnail.")
    reason = _short_reason(exc, path)
    if isinstance(exc, EOFError) or any(w in reason.lower() for w in _DAMAGE_WORDS):
        return ThumbnailError(DAMAGED)
    if _DECODER_JARGON.search(reason):
        return ThumbnailError(DAMAGED)  # "decoder error -2" tells a collector nothing
    return ThumbnailError(f"The image could not be decoded: {reason}.")


def _short_reason(exc: BaseException, path: Path) -> str:
    """First line of the message, without the full path, at most 120 characters."""
    text = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or ""
    lines = text.strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    reason = reason.replace(str(path), path.name).rstrip(".")
    return reason if len(reason) <= 120 else reason[:117] + "..."
