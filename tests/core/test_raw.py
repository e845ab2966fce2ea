"""Camera RAW files: told apart from TIFF by content, kept under their own extension and
content type, and thumbnailed from the preview the camera embedded, turned upright."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from app.core import formats, raw
from app.core.formats import HEAD_SIZE, detect_format, key_extension
from app.core.models import ImageFormat
from app.core.thumbnails import ThumbnailError, ThumbnailSpec, make_thumbnail
from tests.core.test_thumbnails import assert_upright_quadrants
from tests.helpers import rawfiles

SMALL = ThumbnailSpec(max_side=64)


def detected(path: Path) -> ImageFormat | None:
    with path.open("rb") as file:
        return detect_format(file.read(HEAD_SIZE), path.name)


RAWS: list[tuple[str, Callable[[Path], Path], ImageFormat, str]] = [
    ("IMG_1.CR2", rawfiles.cr2, formats.CR2, "image/x-canon-cr2"),
    (
        "DSC_1.NEF",
        lambda p: rawfiles.maker_raw(p, "NIKON CORPORATION"),
        formats.NEF,
        "image/x-nikon-nef",
    ),
    ("DSC_1.NRW", lambda p: rawfiles.maker_raw(p, "NIKON"), formats.NRW, "image/x-nikon-nrw"),
    ("DSC_1.ARW", lambda p: rawfiles.maker_raw(p, "SONY"), formats.ARW, "image/x-sony-arw"),
    (
        "IMGP1.PEF",
        lambda p: rawfiles.maker_raw(p, "PENTAX Corporation"),
        formats.PEF,
        "image/x-pentax-pef",
    ),
    ("SAM_1.SRW", lambda p: rawfiles.maker_raw(p, "SAMSUNG"), formats.SRW, "image/x-samsung-srw"),
    ("L100.DNG", rawfiles.dng_with_preview, formats.DNG, "image/x-adobe-dng"),
    ("real.dng", rawfiles.pidng_dng, formats.DNG, "image/x-adobe-dng"),
    ("P100.RW2", rawfiles.rw2, formats.RW2, "image/x-panasonic-rw2"),
    ("P100.ORF", rawfiles.orf_without_preview, formats.ORF, "image/x-olympus-orf"),
    ("DSCF1.RAF", rawfiles.raf, formats.RAF, "image/x-fuji-raf"),
    ("IMG_2.CR3", rawfiles.cr3_without_preview, formats.CR3, "image/x-canon-cr3"),
]


@pytest.mark.parametrize(("name", "make", "fmt", "content_type"), RAWS, ids=[r[0] for r in RAWS])
def test_each_raw_format_is_recognised_by_content_and_keeps_its_extension(
    tmp_path: Path, name: str, make: Callable[[Path], Path], fmt: ImageFormat, content_type: str
) -> None:
    path = make(tmp_path / name)
    assert detected(path) == fmt
    assert fmt.content_type == content_type
    assert key_extension(path.name, fmt) == path.suffix.lower()


def test_a_raw_file_with_a_misleading_name_is_still_a_raw_file(tmp_path: Path) -> None:
    path = rawfiles.cr2(tmp_path / "IMG_1.tif")
    assert detected(path) == formats.CR2
    assert key_extension(path.name, formats.CR2) == ".cr2"


def test_a_camera_tiff_names_its_maker_but_is_a_tiff(tmp_path: Path) -> None:
    assert detected(rawfiles.camera_tiff(tmp_path / "DSC_1.TIF")) == formats.TIFF


def test_a_nikon_raw_named_otherwise_is_a_nef(tmp_path: Path) -> None:
    assert detected(rawfiles.maker_raw(tmp_path / "coin.bin", "NIKON")) == formats.NEF


WITH_PREVIEWS: list[tuple[str, Callable[..., Path]]] = [
    ("a.cr2", rawfiles.cr2),
    ("a.nef", lambda p, orientation: rawfiles.maker_raw(p, "NIKON", orientation=orientation)),
    ("a.arw", lambda p, orientation: rawfiles.maker_raw(p, "SONY", orientation=orientation)),
    ("a.dng", rawfiles.dng_with_preview),
    ("a.rw2", rawfiles.rw2),
]


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize(("name", "make"), WITH_PREVIEWS, ids=[w[0] for w in WITH_PREVIEWS])
def test_the_thumbnail_is_the_embedded_preview_turned_as_the_raw_file_says(
    tmp_path: Path, name: str, make: Callable[..., Path], orientation: int
) -> None:
    path = make(tmp_path / name, orientation=orientation)
    image = Image.open(io.BytesIO(make_thumbnail(path, SMALL)))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert max(image.size) == 64
    assert image.width > image.height  # upright: the pictured scene is landscape
    assert_upright_quadrants(image)


def test_a_raf_thumbnail_follows_its_jpegs_own_orientation(tmp_path: Path) -> None:
    image = Image.open(io.BytesIO(make_thumbnail(rawfiles.raf(tmp_path / "a.raf"), SMALL)))
    assert_upright_quadrants(image)


def test_the_smallest_preview_that_is_big_enough_is_used(tmp_path: Path) -> None:
    path = rawfiles.cr2(tmp_path / "a.cr2")  # previews of 96x64 and 24x16
    with path.open("rb") as file:
        small = raw.embedded_preview(file, path, formats.CR2, min_side=20)
        big = raw.embedded_preview(file, path, formats.CR2, min_side=64)
        biggest = raw.embedded_preview(file, path, formats.CR2, min_side=4000)
    assert rawfiles.is_jpeg_of_size(small.data, (24, 16))
    assert rawfiles.is_jpeg_of_size(big.data, (96, 64))
    assert rawfiles.is_jpeg_of_size(biggest.data, (96, 64))  # nothing bigger: the largest


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("real.dng", rawfiles.pidng_dng),
        ("a.orf", rawfiles.orf_without_preview),
        ("a.cr3", rawfiles.cr3_without_preview),
    ],
)
def test_a_raw_file_without_a_usable_preview_fails_its_thumbnail_in_plain_words(
    tmp_path: Path, name: str, make: Callable[[Path], Path]
) -> None:
    with pytest.raises(ThumbnailError) as caught:
        make_thumbnail(make(tmp_path / name), SMALL)
    assert str(caught.value) == raw.NO_PREVIEW


def test_a_damaged_preview_says_so(tmp_path: Path) -> None:
    jpeg = rawfiles.preview_jpeg()
    path = rawfiles.maker_raw(tmp_path / "a.nef", "NIKON", preview=jpeg[: len(jpeg) // 3])
    with pytest.raises(ThumbnailError, match="embedded preview is damaged"):
        make_thumbnail(path, SMALL)


def test_a_directory_that_points_at_itself_ends_the_walk(tmp_path: Path) -> None:
    ifd0: rawfiles.Directory = [(271, 2, "NIKON"), (330, 4, (rawfiles.Sub(0),))]
    path = tmp_path / "loop.nef"
    path.write_bytes(rawfiles.tiff_bytes([ifd0], chain=(0, 0)))
    assert detected(path) == formats.TIFF  # no sensor data anywhere: an odd TIFF
    with pytest.raises(ThumbnailError):
        make_thumbnail(path, SMALL)


def test_a_preview_behind_big_metadata_blocks_is_found(tmp_path: Path) -> None:
    """Its frame header sat past the first 64 KiB, behind a 200 kB ICC profile in APP2
    segments, and the preview was missed."""
    buffer = io.BytesIO()
    upright = Image.open(io.BytesIO(rawfiles.preview_jpeg()))
    upright.save(buffer, "JPEG", quality=95, icc_profile=bytes(200_000))
    path = rawfiles.maker_raw(tmp_path / "a.nef", "NIKON", preview=buffer.getvalue())
    assert_upright_quadrants(Image.open(io.BytesIO(make_thumbnail(path, SMALL))))
