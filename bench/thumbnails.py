"""Time make_thumbnail against the seed's Pillow order and vipsthumbnail on 12 MP JPEGs.

    python bench/thumbnails.py [--count N] [--rounds R]

Prints milliseconds per file; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
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

from app.core.thumbnails import ThumbnailSpec, make_thumbnail
from tests.helpers import corpus

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
