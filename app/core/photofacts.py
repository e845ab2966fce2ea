"""What a photo's own metadata says about it, for its sidecar: size, when it was taken,
with what camera, and (only when asked for) where. Read from the header and EXIF, never
by decoding pixels; whatever cannot be read is None, never an error.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core import formats, tiff
from app.core.bigimages import declared_size
from app.core.models import ImageFormat

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_MAKE, _MODEL, _ORIENTATION = 271, 272, 274
_TAKEN, _TAKEN_OFFSET, _LENS = 36867, 36881, 42036
_SUBFILE_TYPE, _WIDTH, _LENGTH = 254, 256, 257
_PIXEL_X, _PIXEL_Y = 40962, 40963  # in the EXIF IFD
_EXIF_DATE = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^[+-]\d{2}:\d{2}$")


@dataclass(frozen=True, slots=True)
class PhotoFacts:
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    taken_at: str | None = None  # ISO 8601, with the offset when the camera recorded one
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    gps: dict[str, float] | None = None  # latitude, longitude (degrees), altitude (m)

    def camera(self) -> dict[str, str | None]:
        return {"make": self.make, "model": self.model, "lens": self.lens}


def read_photo_facts(path: Path, fmt: ImageFormat) -> PhotoFacts:
    """The facts the file's header and EXIF give (RAW files: their TIFF directories)."""
    try:
        if fmt.raw:
            return _raw_facts(path, fmt)
        return _pillow_facts(path)
    except Exception:  # metadata is optional: a photo is uploaded without it
        return PhotoFacts()


def _pillow_facts(path: Path) -> PhotoFacts:
    from PIL import Image

    try:
        image = Image.open(path)  # header only
    except Image.DecompressionBombError:  # (Pillow's process-wide limit, left as it is)
        width, height = declared_size(path) or (None, None)
        return PhotoFacts(width=width, height=height)  # a big scan: libvips reads its size
    with image:
        exif = image.getexif()
        detail = exif.get_ifd(_EXIF_IFD)
        gps = exif.get_ifd(_GPS_IFD)
        return PhotoFacts(
            width=image.width,
            height=image.height,
            orientation=_orientation(exif.get(_ORIENTATION)),
            taken_at=taken_at(detail.get(_TAKEN), detail.get(_TAKEN_OFFSET)),
            make=_text(exif.get(_MAKE)),
            model=_text(exif.get(_MODEL)),
            lens=_text(detail.get(_LENS)),
            gps=_gps(gps),
        )


def _raw_facts(path: Path, fmt: ImageFormat) -> PhotoFacts:
    if fmt in (formats.CR3, formats.RAF):
        return PhotoFacts()  # not TIFF inside: no directories to read here
    with path.open("rb") as file:
        reader = tiff.TiffReader.open(tiff.file_reader(file))
        ifd0 = reader.ifd0() if reader is not None else None
        if reader is None or ifd0 is None:
            return PhotoFacts()
        pointer = ifd0.number(_EXIF_IFD)
        detail = reader.ifd_at(pointer) if pointer else None
        width, height = _rw2_frame(ifd0) if fmt is formats.RW2 else _full_frame(reader, detail)
        return PhotoFacts(
            width=width,
            height=height,
            orientation=_orientation(ifd0.number(_ORIENTATION)),
            taken_at=taken_at(
                detail.text(_TAKEN) if detail else None,
                detail.text(_TAKEN_OFFSET) if detail else None,
            ),
            make=_text(ifd0.text(_MAKE)),
            model=_text(ifd0.text(_MODEL)),
            lens=_text(detail.text(_LENS)) if detail else None,
        )


# Panasonic's own IFD0 tags (RW2 has no ImageWidth): the sensor and its borders.
_RW2_SENSOR_WIDTH, _RW2_SENSOR_HEIGHT = 0x0002, 0x0003
_RW2_TOP, _RW2_LEFT, _RW2_BOTTOM, _RW2_RIGHT = 0x0004, 0x0005, 0x0006, 0x0007


def _rw2_frame(ifd0: tiff.Ifd) -> tuple[int | None, int | None]:
    """The picture inside the sensor's borders (as exiftool's ImageWidth/ImageHeight),
    else the whole sensor."""
    top, left, bottom, right = (
        ifd0.number(tag) or 0 for tag in (_RW2_TOP, _RW2_LEFT, _RW2_BOTTOM, _RW2_RIGHT)
    )
    if right > left and bottom > top:
        return right - left, bottom - top
    return ifd0.number(_RW2_SENSOR_WIDTH), ifd0.number(_RW2_SENSOR_HEIGHT)


def _full_frame(reader: tiff.TiffReader, detail: tiff.Ifd | None) -> tuple[int | None, int | None]:
    """The largest full-resolution directory's size (NewSubfileType 0: not a preview),
    else what the EXIF says; as stored, like a JPEG's, before orientation."""
    sizes = [
        (width, height)
        for ifd in reader.ifds()
        if not ifd.number(_SUBFILE_TYPE)
        and (width := ifd.number(_WIDTH))
        and (height := ifd.number(_LENGTH))
    ]
    if sizes:
        return max(sizes, key=lambda size: size[0] * size[1])
    if detail is not None and detail.number(_PIXEL_X) and detail.number(_PIXEL_Y):
        return detail.number(_PIXEL_X), detail.number(_PIXEL_Y)
    return None, None


def taken_at(value: object, offset: object = None) -> str | None:
    """EXIF "2024:05:01 14:03:22" (+ "+02:00") as ISO 8601; None when not a date."""
    match = _EXIF_DATE.match(str(value or "").strip())
    if match is None or match.group(1) == "0000":
        return None
    year, month, day, hour, minute, second = match.groups()
    text = f"{year}-{month}-{day}T{hour}:{minute}:{second}"
    zone = str(offset or "").strip()
    return text + zone if _OFFSET.match(zone) else text


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).replace("\x00", "").strip() if value is not None else ""
    return text or None


def _orientation(value: object) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _gps(gps: Any) -> dict[str, float] | None:
    try:
        latitude = _degrees(gps[2], gps.get(1))
        longitude = _degrees(gps[4], gps.get(3))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    place = {"latitude": round(latitude, 7), "longitude": round(longitude, 7)}
    with contextlib.suppress(KeyError, TypeError, ValueError, ZeroDivisionError):
        place["altitude"] = round(float(gps[6]) * (-1 if gps.get(5) == b"\x01" else 1), 2)
    return place


def _degrees(parts: Any, ref: object) -> float:
    degrees, minutes, seconds = (float(part) for part in parts)
    value = degrees + minutes / 60 + seconds / 3600
    return -value if str(ref).strip().upper() in ("S", "W") else value
