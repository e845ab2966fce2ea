"""Big frames and scans get thumbnails in bounded memory; bombs are refused by what would
actually be decoded, with their size in the sentence."""

from __future__ import annotations

import base64
import io
import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from app.core.bigimages import BOMB_PIXELS, DECODE_BUDGET
from app.core.thumbnails import ThumbnailError, ThumbnailSpec, make_thumbnail
from tests.helpers import corpus
from tests.helpers.memory import PEAK_FUNCTION

REPO = Path(__file__).resolve().parents[2]
DARK_RED, PALE_BLUE = (140, 20, 20), (170, 200, 240)
MEMORY_BOUND = 300 * 1024 * 1024  # the process, while it makes a big scan's thumbnail


def halves_of(data: bytes) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        left = image.getpixel((image.width // 4, image.height // 2))
        right = image.getpixel((image.width * 3 // 4, image.height // 2))
        assert isinstance(left, tuple) and isinstance(right, tuple)
        return left, right, image.size


def close(actual: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return all(abs(a - e) <= 12 for a, e in zip(actual, expected, strict=True))


def failure(path: Path) -> str:
    with pytest.raises(ThumbnailError) as caught:
        make_thumbnail(path, ThumbnailSpec())
    return str(caught.value)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("times_limit", [1.5, 2.2], ids=["134 MP", "197 MP"])
def test_a_big_blank_png_pillow_would_refuse_gets_its_thumbnail(
    tmp_path: Path, times_limit: float
) -> None:
    """It used to be "too large to decode safely (... the limit is 89)"."""
    path = corpus.decompression_bomb_png(tmp_path / "blank.png", times_limit)
    with Image.open(io.BytesIO(make_thumbnail(path, ThumbnailSpec()))) as image:
        assert image.size == (300, 300)
        assert image.getpixel((150, 150)) == (0, 0, 0)


def test_a_png_that_only_claims_to_be_huge_is_refused(tmp_path: Path) -> None:
    path = corpus.png_header_bomb(tmp_path / "bomb.png")
    assert path.stat().st_size < 100
    assert failure(path) == (
        "The image is too large to decode safely (4365 megapixels; the limit is "
        f"{BOMB_PIXELS // 1_000_000})."
    )


def test_a_jpeg_too_big_even_at_an_eighth_of_its_size_is_refused(tmp_path: Path) -> None:
    path = corpus.header_claiming_huge_jpeg(tmp_path / "claims.jpg")  # 65500 x 65500
    assert failure(path).startswith("The image is too large to decode safely (4290 megapixels;")


def test_an_interlaced_scan_too_big_to_hold_whole_is_refused(tmp_path: Path) -> None:
    """libvips cannot stream an interlaced PNG: it would hold it whole. (One too big for
    Pillow's share of memory, that is: smaller ones Pillow decodes as before.)"""
    side = int((DECODE_BUDGET / 4) ** 0.5) + 200
    path = corpus.big_scan(tmp_path / "scan.png", (side, side), interlace=True, compression=1)
    assert "too large to decode safely" in failure(path)
    small = corpus.big_scan(tmp_path / "small.png", (900, 600), interlace=True)
    left, right, _ = halves_of(make_thumbnail(small, ThumbnailSpec()))
    assert close(left, DARK_RED) and close(right, PALE_BLUE)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [12000, 30000], ids=["144 MP", "900 MP"])
def test_a_progressive_jpeg_is_judged_at_its_full_size(tmp_path: Path, side: int) -> None:
    """Its decoder keeps every coefficient: 144 MP took gigabytes, draft or not."""
    path = corpus.progressive_jpeg_claiming(tmp_path / "p.jpg", side)
    assert failure(path) == (
        f"The image is too large to decode safely ({side * side // 1_000_000} megapixels; "
        "the limit is 89)."
    )


def test_an_image_too_wide_for_the_streaming_window_is_refused(tmp_path: Path) -> None:
    """libvips holds 64 rows at full width: 60,000,000 x 4 pixels aborted the process."""
    path = corpus.big_scan(tmp_path / "strip.png", (8_500_000, 4))
    assert failure(path) == (
        "The image is too wide to decode safely (8,500,000 pixels across; the limit is 349,525)."
    )


def test_a_big_deep_grey_scan_with_a_transparent_value_goes_to_libvips(tmp_path: Path) -> None:
    """Its converted copies and mask took 737 MB in Pillow for 32 MP; libvips streams it,
    transparent still over white."""
    path = corpus.gray16_trns_png(tmp_path / "grey.png", (5000, 4000))
    with Image.open(io.BytesIO(make_thumbnail(path, ThumbnailSpec()))) as image:
        assert image.getpixel((10, 10)) == (255, 255, 255)
        left, right = image.getpixel((10, 120)), image.getpixel((290, 120))
        assert left == (255, 255, 255) and isinstance(right, tuple) and right[0] < 40


@pytest.fixture(scope="module")
def big_scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("big")
    return {
        "139 MP JPEG": corpus.big_scan(folder / "frame.jpg", (13600, 10200), Q=85),
        "300 MP PNG": corpus.big_scan(folder / "page.png", (20000, 15000), compression=1),
        "300 MP TIFF": corpus.big_scan(folder / "page.tif", (20000, 15000), compression="lzw"),
    }


_CHILD = (
    PEAK_FUNCTION
    + """
import base64, json, sys
from pathlib import Path
from app.core import thumbnails as t
t.silence_decoder_warnings()
preview = t.PreviewSpec() if sys.argv[2:] else None
made = t.make_derivatives(Path(sys.argv[1]), t.ThumbnailSpec(), preview)
peak = peak_bytes()
print(json.dumps({
    "jpeg": base64.b64encode(made.thumbnail).decode(),
    "preview": base64.b64encode(made.preview or b"").decode(),
    "peak": peak,
}))
"""
)


def _memory_bound() -> None:  # in the child, before it starts
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_BOUND, MEMORY_BOUND))


def _derived_within_the_bound(path: Path, *preview: str) -> dict[str, bytes]:
    """Thumbnail (and preview) made in a process that may not allocate more than
    MEMORY_BOUND: decoding at full size (13600x10200 or 20000x15000 pixels, 3 bytes each
    and more) would fail there."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), *preview],
        cwd=REPO, preexec_fn=_memory_bound, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["peak"] <= MEMORY_BOUND
    return {name: base64.b64decode(result[name]) for name in ("jpeg", "preview")}


@pytest.mark.parametrize("case", ["139 MP JPEG", "300 MP PNG", "300 MP TIFF"])
def test_a_big_scan_gets_its_thumbnail_within_the_memory_bound(
    big_scans: dict[str, Path], case: str
) -> None:
    left, right, size = halves_of(_derived_within_the_bound(big_scans[case])["jpeg"])
    assert max(size) == 300
    assert close(left, DARK_RED) and close(right, PALE_BLUE), (left, right)


@pytest.mark.parametrize("case", ["139 MP JPEG", "300 MP PNG"])
def test_a_big_scan_gets_its_preview_too_within_the_memory_bound(
    big_scans: dict[str, Path], case: str
) -> None:
    made = _derived_within_the_bound(big_scans[case], "preview")
    left, right, size = halves_of(made["preview"])
    assert max(size) == 1600
    assert close(left, DARK_RED) and close(right, PALE_BLUE), (left, right)
    assert max(halves_of(made["jpeg"])[2]) == 300
