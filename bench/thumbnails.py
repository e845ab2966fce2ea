"""Time make_thumbnail against the seed's Pillow order and vipsthumbnail on 12 MP JPEGs,
the display preview made with the thumbnail (one decode) against a second decode, the
camera's MPF preview as a thumbnail source, then big frames, scans and RAW files: time
and peak memory, each in a process of its own.

    python bench/thumbnails.py [--count N] [--rounds R] [--no-big]

Prints milliseconds per file and megabytes; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageOps

from app.core.thumbnails import PreviewSpec, ThumbnailSpec, make_derivatives, make_thumbnail
from tests.helpers import corpus, rawfiles
from tests.helpers.memory import PEAK_FUNCTION

TARGET_RATIO = 0.4
SPEC = ThumbnailSpec(max_side=300, quality=85)


def seed_thumbnail(path: Path) -> bytes:
    """The original order: transpose (which decodes at full size), then shrink."""
    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((300, 300))
        buffer = io.BytesIO()
        upright.save(buffer, "JPEG", quality=85)
        return buffer.getvalue()


def ours(path: Path) -> bytes:
    return make_thumbnail(path, SPEC)


def vips_runner(vips: str, out_dir: Path) -> Callable[[Path], bytes]:
    def run(path: Path) -> bytes:
        out = out_dir / f"{path.stem}.jpg"
        subprocess.run([vips, str(path), "-s", "300", "-o", f"{out}[Q=85]"], check=True)
        return out.read_bytes()

    return run


def time_per_file(work: Callable[[Path], bytes], files: list[Path], rounds: int) -> list[float]:
    work(files[0])  # warm-up: imports, plugin registration, page cache
    timings = []
    for _ in range(rounds):
        for path in files:
            start = time.perf_counter()
            work(path)
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10, help="number of 12 MP JPEGs")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the files")
    parser.add_argument("--no-big", action="store_true", help="skip the big scans and RAW files")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="thumb-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        files = [
            corpus.realistic_12mp_jpeg(
                folder / f"photo{i:02}.jpg", seed=i, orientation=6 if i % 3 == 0 else None
            )
            for i in range(args.count)
        ]
        megabytes = sum(f.stat().st_size for f in files) / len(files) / 1e6
        rotated = sum(1 for i in range(args.count) if i % 3 == 0)
        print(
            f"{len(files)} JPEGs, 4000x3000, {megabytes:.1f} MB average, {rotated} with "
            f"orientation 6 (generated in {time.perf_counter() - started:.1f} s); "
            f"{args.rounds} round(s); thumbnails {SPEC.max_side} px, quality {SPEC.quality}"
        )

        methods: dict[str, Callable[[Path], bytes]] = {
            "ours (make_thumbnail)": ours,
            "seed (exif_transpose, thumbnail)": seed_thumbnail,
        }
        vips = shutil.which("vipsthumbnail")
        if vips:
            out_dir = folder / "vips"
            out_dir.mkdir()
            methods["vipsthumbnail (process per file)"] = vips_runner(vips, out_dir)
        else:
            print("vipsthumbnail is not installed: skipping it")

        medians: dict[str, float] = {}
        print(f"\n{'method':36} {'median ms':>10} {'mean ms':>9}")
        for name, work in methods.items():
            timings = time_per_file(work, files, args.rounds)
            medians[name] = statistics.median(timings)
            print(f"{name:36} {medians[name]:10.1f} {statistics.mean(timings):9.1f}")

        threads = os.cpu_count() or 1
        with ThreadPoolExecutor(threads) as pool:
            started = time.perf_counter()
            list(pool.map(ours, files))
            rate = len(files) / (time.perf_counter() - started)
        print(f"{'ours, ' + str(threads) + ' threads':36} {1000 / rate:10.1f} ms per file (wall)")

        ours_ms = medians["ours (make_thumbnail)"]
        ratio = ours_ms / medians["seed (exif_transpose, thumbnail)"]
        print(f"\nours / seed: {ratio:.2f} (medians)")
        if vips:
            print(f"ours / vips: {ours_ms / medians['vipsthumbnail (process per file)']:.2f}")
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        print(f"target ours <= {TARGET_RATIO}x seed: {verdict}")
        mine = Image.open(io.BytesIO(ours(files[0])))
        theirs = Image.open(io.BytesIO(seed_thumbnail(files[0])))
        print(f"first file (orientation 6): ours {mine.size}, seed {theirs.size}")
        preview_cases(files, args.rounds)
        mpf_case(folder, args.count, args.rounds)
        if not args.no_big:
            big_cases(folder, vips)
    return 0


PREVIEW = PreviewSpec()


def preview_cases(files: list[Path], rounds: int) -> None:
    """The preview from the thumbnail's decode, against decoding the photo twice."""

    def one_decode(path: Path) -> bytes:
        made = make_derivatives(path, SPEC, PREVIEW)
        return made.thumbnail + (made.preview or b"")

    def two_decodes(path: Path) -> bytes:
        preview = make_thumbnail(path, ThumbnailSpec(max_side=PREVIEW.max_side, quality=85))
        return make_thumbnail(path, SPEC) + preview

    print(f"\ndisplay preview {PREVIEW.max_side} px JPEG q{PREVIEW.quality} with the thumbnail")
    print(f"{'method':36} {'median ms':>10}")
    medians = {}
    for name, work in {
        "thumbnail only": ours,
        "thumbnail + preview, one decode": one_decode,
        "thumbnail + preview, two decodes": two_decodes,
    }.items():
        medians[name] = statistics.median(time_per_file(work, files, rounds))
        print(f"{name:36} {medians[name]:10.1f}")
    one = medians["thumbnail + preview, one decode"]
    two = medians["thumbnail + preview, two decodes"]
    print(f"one decode / two decodes: {one / two:.2f}")


def mpf_case(folder: Path, count: int, rounds: int) -> None:
    """Camera JPEGs carry a large preview (MPF, about 1920 px): make_thumbnail drafts it
    instead of the photo. The same photos without it, for the difference."""
    with_mpf, plain = [], []
    for i in range(count):
        main = corpus._noisy_rgb((6000, 4000), 40 + i)
        large = main.resize((1920, 1280), Image.Resampling.BILINEAR)
        with_mpf.append(corpus.camera_jpeg_with_mpf(folder / f"camera{i:02}.jpg", main, large))
        main.save(folder / f"plain{i:02}.jpg", "JPEG", quality=90)
        plain.append(folder / f"plain{i:02}.jpg")
    plain_ms = statistics.median(time_per_file(ours, plain, rounds))
    mpf_ms = statistics.median(time_per_file(ours, with_mpf, rounds))
    differences = []
    for a_path, b_path in zip(plain, with_mpf, strict=True):
        with Image.open(io.BytesIO(ours(a_path))) as a, Image.open(io.BytesIO(ours(b_path))) as b:
            pairs = list(zip(a.tobytes(), b.tobytes(), strict=True))
            differences.append(sum(abs(x - y) for x, y in pairs) / len(pairs))
    print(f"\n{count} camera JPEGs, 24 MP, with and without a 1920x1280 MPF preview")
    print(f"{'thumbnail, photo drafted (no MPF)':36} {plain_ms:10.1f} ms")
    print(f"{'thumbnail, from the MPF preview':36} {mpf_ms:10.1f} ms")
    print(
        f"MPF / photo: {mpf_ms / plain_ms:.2f}; mean difference between the two thumbnails "
        f"{statistics.mean(differences):.2f} of 255 per channel"
    )


# -- big frames, scans and RAW files: each in a fresh process, for its peak memory --------

_CHILD = (
    PEAK_FUNCTION
    + """
import json, sys, time
from pathlib import Path
how, path = sys.argv[1], Path(sys.argv[2])
started = time.perf_counter()
try:
    if how == "ours":
        from app.core.thumbnails import ThumbnailSpec, make_thumbnail, silence_decoder_warnings
        silence_decoder_warnings()
        make_thumbnail(path, ThumbnailSpec())
    else:  # the seed's way: Pillow decodes it whole (its size limit lifted to show the cost)
        import io
        from PIL import Image, ImageOps
        Image.MAX_IMAGE_PIXELS = None
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((300, 300))
            upright.convert("RGB").save(io.BytesIO(), "JPEG", quality=85)
    outcome = "ok"
except Exception as exc:
    outcome = type(exc).__name__ + ": " + str(exc)[:70]
peak = peak_bytes() / 1024**2
ms = (time.perf_counter() - started) * 1000
print(json.dumps({"ms": ms, "peak_mb": peak, "outcome": outcome}))
"""
)
_BASELINE = PEAK_FUNCTION + "from app.core import thumbnails\nprint(peak_bytes() / 1024**2)"


def _child(how: str, path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, how, str(path)],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout) if done.returncode == 0 else {"outcome": done.stderr[-70:]}


def _vips_child(vips: str, path: Path, out: Path) -> dict[str, object]:
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", vips, str(path), "-s", "300", "-o", f"{out}[Q=85]"],
        capture_output=True, text=True,
    )  # fmt: skip
    ms = (time.perf_counter() - started) * 1000
    peak = int(done.stderr.strip().splitlines()[-1]) / 1024 if done.returncode == 0 else None
    return {"ms": ms, "peak_mb": peak, "outcome": "ok" if done.returncode == 0 else "failed"}


def big_cases(folder: Path, vips: str | None) -> None:
    started = time.perf_counter()
    preview = io.BytesIO()
    corpus._noisy_rgb((6000, 4000), 7).save(preview, "JPEG", quality=90)
    scan = corpus.big_scan
    cases = {
        "102 MP JPEG frame (11656x8742)": scan(folder / "frame.jpg", (11656, 8742), Q=90),
        "139 MP JPEG scan (13600x10200)": scan(folder / "a4.jpg", (13600, 10200), Q=90),
        "300 MP PNG scan (20000x15000)": scan(folder / "page.png", (20000, 15000), compression=6),
        "300 MP TIFF scan, LZW": scan(folder / "page.tif", (20000, 15000), compression="lzw"),
        "CR2, 24 MP preview inside": rawfiles.cr2(folder / "IMG_1.CR2", preview=preview.getvalue()),
    }
    baseline = float(subprocess.run(
        [sys.executable, "-c", _BASELINE], cwd=Path(__file__).resolve().parent.parent,
        capture_output=True, text=True,
    ).stdout)  # fmt: skip
    print(
        f"\nbig frames, scans and RAW (generated in {time.perf_counter() - started:.1f} s); "
        f"one process per file; peak = VmHWM (max RSS); ours after imports: {baseline:.0f} MB"
    )
    print(f"{'file':32} {'method':22} {'ms':>8} {'peak MB':>8}  outcome")
    for label, path in cases.items():
        runs = {"ours": _child("ours", path), "seed (Pillow, whole)": _child("seed", path)}
        if vips:
            runs["vipsthumbnail"] = _vips_child(vips, path, folder / "vips" / "big.jpg")
        for method, result in runs.items():
            ms, peak = result.get("ms"), result.get("peak_mb")
            ms_text = f"{ms:8.0f}" if isinstance(ms, float) else f"{'-':>8}"
            peak_text = f"{peak:8.0f}" if isinstance(peak, float) else f"{'-':>8}"
            print(f"{label:32} {method:22} {ms_text} {peak_text}  {result['outcome']}")


if __name__ == "__main__":
    sys.exit(main())
