"""Thumbnails as a user sees them: size, orientation, colours, privacy, and failures."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, JpegImagePlugin

from app.core.thumbnails import (
    DAMAGED,
    PARTIAL,
    PreviewSpec,
    ThumbnailError,
    ThumbnailSpec,
    make_derivatives,
    make_thumbnail,
)
from tests.helpers import corpus
from tests.helpers.corpus import BLUE, GREEN, RED, WHITE

BLACK = (0, 0, 0)
CYAN = (0, 255, 255)
SMALL = ThumbnailSpec(max_side=64)


def thumbnail(path: Path, spec: ThumbnailSpec = SMALL) -> Image.Image:
    data = make_thumbnail(path, spec)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    return image


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def colour_at(image: Image.Image, fx: float, fy: float) -> tuple[int, ...]:
    """The pixel at a fraction of the width and height."""
    pixel = image.getpixel((int(image.width * fx), int(image.height * fy)))
    assert isinstance(pixel, tuple)
    return pixel


def quadrant_colours(image: Image.Image) -> dict[str, tuple[int, ...]]:
    return {
        "top_left": colour_at(image, 0.25, 0.25),
        "top_right": colour_at(image, 0.75, 0.25),
        "bottom_left": colour_at(image, 0.25, 0.75),
        "bottom_right": colour_at(image, 0.75, 0.75),
    }


def assert_upright_quadrants(image: Image.Image) -> None:
    seen = quadrant_colours(image)
    for corner, expected in corpus.UPRIGHT_QUADRANTS.items():
        assert close_to(seen[corner], expected), f"{corner} is {seen[corner]}, not {expected}"


def halves(image: Image.Image) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return colour_at(image, 0.2, 0.5), colour_at(image, 0.8, 0.5)


# --- Size -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((640, 480), 100, (100, 75)),
        ((480, 640), 100, (75, 100)),
        ((400, 400), 300, (300, 300)),
        ((301, 17), 300, (300, 17)),
    ],
)
def test_longest_side_is_max_side(
    tmp_path: Path, size: tuple[int, int], max_side: int, expected: tuple[int, int]
) -> None:
    path = corpus.jpeg_photo(tmp_path / "photo.jpg", size)
    assert thumbnail(path, ThumbnailSpec(max_side=max_side)).size == expected


def test_panorama_keeps_its_shape(tmp_path: Path) -> None:
    image = thumbnail(corpus.panorama(tmp_path / "pano.jpg"), ThumbnailSpec())
    assert image.size == (300, 2)


def test_small_images_are_never_upscaled(tmp_path: Path) -> None:
    assert thumbnail(corpus.one_pixel(tmp_path / "dot.png"), ThumbnailSpec()).size == (1, 1)
    small = corpus.jpeg_photo(tmp_path / "small.jpg", (64, 48))
    assert thumbnail(small, ThumbnailSpec(max_side=300)).size == (64, 48)


def test_quality_setting_changes_the_output(tmp_path: Path) -> None:
    path = corpus.jpeg_photo(tmp_path / "photo.jpg", (256, 192))
    rough = make_thumbnail(path, ThumbnailSpec(max_side=256, quality=20))
    fine = make_thumbnail(path, ThumbnailSpec(max_side=256, quality=95))
    assert len(rough) < len(fine)


def test_jpeg_is_drafted_before_it_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path: DCT scaling must be requested while the image is still unloaded."""
    results = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(
        self: JpegImagePlugin.JpegImageFile, mode: str | None, size: tuple[int, int] | None
    ) -> object:
        result = original(self, mode, size)
        results.append(result)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    path = corpus.jpeg_photo(tmp_path / "big.jpg", (1600, 1200), orientation=6)
    assert thumbnail(path, ThumbnailSpec(max_side=100)).size == (75, 100)
    assert results, "draft() was never called"
    assert results[0] is not None, "draft() came too late: the JPEG was already decoded"
    _, box = results[0]
    assert box[2] < 1600 / 4  # decoded at 1/8 scale: 200x150 for a 100 px thumbnail


# --- Orientation ----------------------------------------------------------------------


@pytest.mark.parametrize("stored_size", [(64, 32), (640, 320)], ids=["small", "drafted"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_comes_out_upright(
    tmp_path: Path, orientation: int, stored_size: tuple[int, int]
) -> None:
    path = corpus.oriented_jpeg(tmp_path / "o.jpg", orientation, stored_size)
    with Image.open(path) as source:
        swapped = orientation >= 5
        assert source.size == (stored_size[::-1] if swapped else stored_size)
    image = thumbnail(path)
    assert image.size == (64, 32)  # landscape, as the viewer sees it
    assert_upright_quadrants(image)


@pytest.mark.parametrize("orientation", [2, 6, 7])
@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_orientation_in_other_formats(tmp_path: Path, fmt: str, orientation: int) -> None:
    """Pillow itself rotates TIFFs while loading: that must not be done twice."""
    image = thumbnail(corpus.oriented_image(tmp_path / "o", orientation, (64, 32), fmt))
    assert image.size == (64, 32)
    assert_upright_quadrants(image)


@pytest.mark.parametrize("value", [0, 9, 255, 65535])
def test_out_of_range_orientation_is_ignored(tmp_path: Path, value: int) -> None:
    image = thumbnail(corpus.orientation_out_of_range_jpeg(tmp_path / "odd.jpg", value))
    assert image.size == (64, 32)
    assert_upright_quadrants(image)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF")
def test_damaged_exif_does_not_cost_the_thumbnail(tmp_path: Path) -> None:
    image = thumbnail(corpus.corrupt_exif_jpeg(tmp_path / "odd_exif.jpg"))
    assert image.size == (32, 16)
    assert_upright_quadrants(image)


@pytest.mark.parametrize("orientation", [None, 3, 6, 8])
def test_avif_orientation(tmp_path: Path, orientation: int | None) -> None:
    image = thumbnail(corpus.avif(tmp_path / "o.avif", (64, 32), orientation))
    assert image.size == (64, 32)
    assert_upright_quadrants(image)


@pytest.mark.skipif(not corpus.heic_writable(), reason="pillow-heif cannot encode HEIC here")
@pytest.mark.parametrize("orientation", [None, 6, 8])
def test_heic_orientation(tmp_path: Path, orientation: int | None) -> None:
    image = thumbnail(corpus.heic(tmp_path / "o.heic", (64, 32), orientation))
    assert image.size == (64, 32)
    assert_upright_quadrants(image)


# --- Colours and modes ----------------------------------------------------------------

MakeImage = Callable[[Path], Path]


@pytest.mark.parametrize(
    ("make", "left", "right"),
    [
        (corpus.png_rgba, WHITE, RED),  # transparent half shows white, not black
        (corpus.la_png, WHITE, BLACK),
        (corpus.gray16_trns_png, WHITE, BLACK),  # was black where transparent
        (corpus.palette_png, WHITE, BLUE),
        (corpus.cmyk_jpeg, CYAN, BLACK),
        (corpus.bilevel_png, BLACK, WHITE),
    ],
    ids=["rgba", "la", "16-bit grey trns", "palette", "cmyk", "1-bit"],
)
def test_modes_convert_to_the_colours_a_viewer_sees(
    tmp_path: Path, make: MakeImage, left: tuple[int, ...], right: tuple[int, ...]
) -> None:
    seen_left, seen_right = halves(thumbnail(make(tmp_path / "image")))
    assert close_to(seen_left, left), seen_left
    assert close_to(seen_right, right), seen_right


@pytest.mark.parametrize(
    "make",
    [
        corpus.gray16_png,
        corpus.gray16_big_endian_tiff,
        corpus.gray32_tiff,
        lambda path: corpus.gray32_tiff(path, floating=True),
    ],
    ids=["16-bit png", "16-bit big-endian tiff", "32-bit int tiff", "32-bit float tiff"],
)
def test_deep_grey_ramps_are_scaled_not_clipped(tmp_path: Path, make: MakeImage) -> None:
    image = thumbnail(make(tmp_path / "ramp"), ThumbnailSpec(max_side=256))
    levels = [colour_at(image, fx, 0.5)[0] for fx in (0.0, 0.25, 0.5, 0.75, 0.999)]
    assert levels == sorted(levels)
    assert levels[0] < 20 and levels[-1] > 235
    assert 100 < levels[2] < 156, levels  # mid-grey in the middle, not already white


@pytest.mark.parametrize("make", [corpus.animated_gif, corpus.animated_webp], ids=["gif", "webp"])
def test_animations_use_the_first_frame(tmp_path: Path, make: MakeImage) -> None:
    image = thumbnail(make(tmp_path / "anim"))
    assert image.size == (32, 16)
    assert close_to(colour_at(image, 0.5, 0.5), RED)


@pytest.mark.parametrize("make", [corpus.webp, corpus.tiff, corpus.gif, corpus.png])
def test_other_formats_are_upright_quadrants(tmp_path: Path, make: MakeImage) -> None:
    image = thumbnail(make(tmp_path / "image"))
    assert image.size == (32, 16)
    assert_upright_quadrants(image)


def test_embedded_colour_profile_is_applied(tmp_path: Path) -> None:
    """(255, 0, 0) in a profile whose red primary is green must show green."""
    path = corpus.profiled_png(tmp_path / "odd.png", corpus.swapped_primaries_icc())
    image = thumbnail(path)
    assert close_to(colour_at(image, 0.5, 0.5), GREEN)
    assert "icc_profile" not in image.info


def test_srgb_profile_keeps_colours_and_is_dropped(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = thumbnail(corpus.profiled_png(tmp_path / "srgb.png", srgb))
    assert close_to(colour_at(image, 0.5, 0.5), RED, tolerance=4)
    assert "icc_profile" not in image.info


# --- Privacy --------------------------------------------------------------------------


def test_no_metadata_survives(tmp_path: Path) -> None:
    path = corpus.jpeg_photo(tmp_path / "p.jpg", exif_gps=True, private_text=b"MY-HOME-ADDRESS")
    with Image.open(path) as source:  # the test means something only if the source has it
        assert source.getexif().get_ifd(0x8825)
    data = make_thumbnail(path, ThumbnailSpec())
    for secret in (b"Exif", b"TestCam", b"MY-HOME-ADDRESS", b"xmpmeta"):
        assert secret not in data
    image = Image.open(io.BytesIO(data))
    assert not image.getexif()
    assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)


# --- Failures, in words ---------------------------------------------------------------


def failure(path: Path) -> str:
    with pytest.raises(ThumbnailError) as caught:
        make_thumbnail(path, SMALL)
    message = str(caught.value)
    assert message.endswith(".")
    assert "Traceback" not in message
    assert not re.search(r"\b[A-Z]\w+(Error|Exception|Warning)\b", message), message
    assert str(path.parent) not in message
    return message


def test_a_jpeg_cut_in_half_says_only_part_of_it_could_be_read(tmp_path: Path) -> None:
    assert failure(corpus.truncated_jpeg(tmp_path / "cut.jpg")) == PARTIAL


@pytest.mark.parametrize("missing", [2, 8, 200])
def test_a_jpeg_missing_only_its_last_bytes_gets_a_thumbnail(tmp_path: Path, missing: int) -> None:
    """It held the whole picture but for its last blocks; it used to be "truncated"."""
    image = thumbnail(corpus.jpeg_missing_last_bytes(tmp_path / "end.jpg", missing))
    assert image.size == (64, 48)
    whole = thumbnail(corpus.jpeg_photo(tmp_path / "whole.jpg", (640, 480), seed=4))
    assert close_to(colour_at(image, 0.5, 0.9), colour_at(whole, 0.5, 0.9), tolerance=12)


def test_a_png_missing_only_its_end_chunk_gets_a_thumbnail(tmp_path: Path) -> None:
    assert thumbnail(corpus.png_cut(tmp_path / "end.png", 12)).size == (64, 48)


def test_a_png_cut_inside_its_image_data_says_only_part_could_be_read(tmp_path: Path) -> None:
    assert failure(corpus.png_cut(tmp_path / "cut.png", 5000)) == PARTIAL


def test_a_decoder_error_is_said_in_plain_words(tmp_path: Path) -> None:
    assert failure(corpus.damaged_lzw_tiff(tmp_path / "scan.tif")) == DAMAGED  # not "-2"


def test_libtiff_says_nothing_on_the_terminal(tmp_path: Path) -> None:
    """Its own stderr lines ("Using code not yet in table.") used to reach the user."""
    path = corpus.damaged_lzw_tiff(tmp_path / "scan.tif")
    script = (
        "import sys; from pathlib import Path\n"
        "from app.core.thumbnails import *\n"
        "silence_decoder_warnings()\n"
        "try:\n    make_thumbnail(Path(sys.argv[1]), ThumbnailSpec())\n"
        "except ThumbnailError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == DAMAGED
    assert done.stderr == ""


def test_png_with_garbage_after_signature(tmp_path: Path) -> None:
    assert "damaged" in failure(corpus.png_garbage_after_signature(tmp_path / "broken.png"))


def test_text_named_jpg(tmp_path: Path) -> None:
    message = failure(corpus.text_named_jpg(tmp_path / "notes.jpg"))
    assert message == "This file is not a supported image (it looks like text)."


def test_empty_file(tmp_path: Path) -> None:
    assert failure(corpus.zero_byte(tmp_path / "empty.jpg")) == "This file is empty (0 bytes)."


def test_missing_file(tmp_path: Path) -> None:
    assert "could not be read" in failure(tmp_path / "gone.jpg")


def test_missing_heif_support_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = corpus.avif(tmp_path / "modern.avif")
    monkeypatch.delitem(Image.OPEN, "AVIF")
    assert failure(path) == "AVIF support is not installed, so no thumbnail could be made."


SIGNATURES = [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"II*\x00", b"MM\x00*"]


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's "Corrupt EXIF data" and the like
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(signature=st.sampled_from(SIGNATURES), body=st.binary(max_size=400))
def test_garbage_behind_a_signature_only_ever_raises_thumbnail_error(
    tmp_path: Path, signature: bytes, body: bytes
) -> None:
    path = tmp_path / "fuzz.img"
    path.write_bytes(signature + body)
    try:
        make_thumbnail(path, SMALL)
    except ThumbnailError as error:
        assert str(error)


# --- Spec and threads -----------------------------------------------------------------


def test_spec_defaults() -> None:
    assert ThumbnailSpec() == ThumbnailSpec(max_side=300, quality=85)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"max_side": 15}, "16 to 4096"),
        ({"max_side": 4097}, "16 to 4096"),
        ({"max_side": 300.0}, "whole number"),
        ({"quality": 0}, "1 to 95"),
        ({"quality": 96}, "1 to 95"),
        ({"quality": True}, "whole number"),
    ],
)
def test_spec_validation(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ThumbnailSpec(**kwargs)  # type: ignore[arg-type]


def test_concurrent_calls_match_sequential_ones(tmp_path: Path) -> None:
    paths = [
        corpus.jpeg_photo(tmp_path / "a.jpg", (800, 600), orientation=6),
        corpus.oriented_jpeg(tmp_path / "b.jpg", 8, (640, 320)),
        corpus.png_rgba(tmp_path / "c.png"),
        corpus.animated_webp(tmp_path / "d.webp"),
        corpus.gray16_png(tmp_path / "e.png"),
        corpus.truncated_jpeg(tmp_path / "f.jpg"),
    ]

    def attempt(path: Path) -> bytes | str:
        try:
            return make_thumbnail(path, SMALL)
        except ThumbnailError as error:
            return str(error)

    expected = [attempt(path) for path in paths]
    with ThreadPoolExecutor(max_workers=6) as pool:
        for _ in range(3):
            assert list(pool.map(attempt, paths * 4)) == expected * 4


# --- The display preview, from the same decode ------------------------------------------


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_a_preview_comes_with_the_thumbnail_upright_and_without_metadata(
    tmp_path: Path, fmt: str
) -> None:
    path = corpus.oriented_jpeg(tmp_path / "o.jpg", 6, (3200, 1600))
    made = make_derivatives(path, ThumbnailSpec(), PreviewSpec(format=fmt))
    assert made.preview is not None
    with Image.open(io.BytesIO(made.preview)) as preview:
        assert preview.format == fmt.upper()
        assert preview.size == (1600, 800)  # landscape, as the viewer sees it
        assert not preview.info.get("exif") and not preview.info.get("icc_profile")
        assert_upright_quadrants(preview.convert("RGB"))
    with Image.open(io.BytesIO(made.thumbnail)) as thumb:
        assert (thumb.format, thumb.size) == ("JPEG", (300, 150))
        assert_upright_quadrants(thumb)


def test_the_preview_and_thumbnail_come_from_one_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = corpus.jpeg_photo(tmp_path / "p.jpg", (2400, 1800))
    opened: list[object] = []
    real_open = Image.open

    def counting_open(*args: object, **kwargs: object) -> Image.Image:
        opened.append(args[0])
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Image, "open", counting_open)
    made = make_derivatives(path, ThumbnailSpec(), PreviewSpec())
    assert len(opened) == 1 and made.preview is not None


def test_a_small_photo_gets_a_preview_of_its_own_size_never_upscaled(tmp_path: Path) -> None:
    path = corpus.jpeg_photo(tmp_path / "small.jpg", (800, 600))
    made = make_derivatives(path, ThumbnailSpec(), PreviewSpec())
    assert made.preview is not None
    with Image.open(io.BytesIO(made.preview)) as preview:
        assert preview.size == (800, 600)


def test_a_colour_profile_is_applied_to_the_preview_too(tmp_path: Path) -> None:
    path = corpus.profiled_png(tmp_path / "p.png", corpus.swapped_primaries_icc(), (1000, 500))
    made = make_derivatives(path, ThumbnailSpec(), PreviewSpec())
    assert made.preview is not None
    with (
        Image.open(io.BytesIO(made.preview)) as preview,
        Image.open(io.BytesIO(made.thumbnail)) as thumb,
    ):
        assert "icc_profile" not in preview.info
        assert close_to(colour_at(preview, 0.5, 0.5), colour_at(thumb, 0.5, 0.5), 12)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"max_side": 100}, "from 320 to 8192"),
        ({"quality": 0}, "from 1 to 95"),
        ({"format": "png"}, "jpeg or webp"),
    ],
)
def test_a_preview_setting_out_of_range_is_one_sentence(
    changes: dict[str, object], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        PreviewSpec(**changes)  # type: ignore[arg-type]


# --- The camera's own large preview (MPF) as the source ---------------------------------

GREY = (128, 128, 128)


def _stored(orientation: int, size: tuple[int, int], corner: tuple[int, int, int]) -> Image.Image:
    """Quadrants as a camera stores them for `orientation`; the bottom-right quadrant
    (as a viewer sees it) in `corner`, so a thumbnail tells which image it came from."""
    upright = corpus.quadrants(size)
    upright.paste(corner, (size[0] // 2, size[1] // 2, size[0], size[1]))
    method = {6: Image.Transpose.ROTATE_90, 1: None}[orientation]
    return upright.transpose(method) if method is not None else upright


@pytest.mark.parametrize("orientation", [1, 6])
def test_a_camera_jpeg_thumbnail_comes_from_its_large_preview_turned_as_the_photo(
    tmp_path: Path, orientation: int
) -> None:
    main = _stored(orientation, (3000, 2000), WHITE)
    large = _stored(orientation, (1920, 1280), GREY)  # stored as the photo is
    path = corpus.camera_jpeg_with_mpf(tmp_path / "c.jpg", main, large, orientation=orientation)
    image = thumbnail(path, ThumbnailSpec())
    assert image.size == (300, 200)  # upright, as the viewer sees the photo
    assert close_to(colour_at(image, 0.25, 0.25), RED)
    assert close_to(colour_at(image, 0.75, 0.25), GREEN)
    assert close_to(colour_at(image, 0.75, 0.75), GREY)  # from the preview


@pytest.mark.parametrize(
    ("large_size", "mp_type", "spec", "why"),
    [
        ((1920, 1080), corpus.LARGE_THUMBNAIL, ThumbnailSpec(), "another shape (16:9 crop)"),
        ((240, 160), corpus.LARGE_THUMBNAIL, ThumbnailSpec(), "smaller than the thumbnail"),
        ((1920, 1280), 0x020002, ThumbnailSpec(), "a stereo pair's other view"),
        ((1920, 1280), corpus.LARGE_THUMBNAIL, ThumbnailSpec(max_side=2400), "too small"),
    ],
)
def test_a_camera_preview_that_would_not_do_is_not_used(
    tmp_path: Path,
    large_size: tuple[int, int],
    mp_type: int,
    spec: ThumbnailSpec,
    why: str,
) -> None:
    main = _stored(1, (3000, 2000), WHITE)
    large = _stored(1, large_size, GREY)
    path = corpus.camera_jpeg_with_mpf(tmp_path / "c.jpg", main, large, mp_type=mp_type)
    image = thumbnail(path, spec)
    assert close_to(colour_at(image, 0.75, 0.75), WHITE), why  # from the photo itself


def test_a_display_preview_comes_from_the_camera_preview_only_when_it_is_big_enough(
    tmp_path: Path,
) -> None:
    main = _stored(1, (4000, 2000), WHITE)
    large = _stored(1, (1920, 960), GREY)
    path = corpus.camera_jpeg_with_mpf(tmp_path / "c.jpg", main, large)
    for spec, from_preview in ((PreviewSpec(max_side=1600), True), (PreviewSpec(2400), False)):
        made = make_derivatives(path, ThumbnailSpec(), spec)
        assert made.preview is not None
        with Image.open(io.BytesIO(made.preview)) as shown:
            assert shown.width == spec.max_side
            corner = colour_at(shown.convert("RGB"), 0.75, 0.75)
            assert close_to(corner, GREY if from_preview else WHITE)


def test_a_camera_jpeg_cut_short_in_its_preview_is_thumbnailed_from_the_photo(
    tmp_path: Path,
) -> None:
    main = _stored(1, (3000, 2000), WHITE)
    large = _stored(1, (1920, 1280), GREY)
    whole = corpus.camera_jpeg_with_mpf(tmp_path / "c.jpg", main, large).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) - 2000])  # the preview, last in the file, is cut
    image = thumbnail(cut, ThumbnailSpec())
    assert close_to(colour_at(image, 0.75, 0.75), WHITE)


def test_a_preview_smaller_than_the_thumbnail_is_the_size_asked(tmp_path: Path) -> None:
    path = corpus.jpeg_photo(tmp_path / "p.jpg", (3000, 2000))
    made = make_derivatives(path, ThumbnailSpec(max_side=1024), PreviewSpec(max_side=640))
    assert made.preview is not None
    with (
        Image.open(io.BytesIO(made.preview)) as shown,
        Image.open(io.BytesIO(made.thumbnail)) as thumb,
    ):
        assert (shown.size, thumb.size) == ((640, 427), (1024, 683))
