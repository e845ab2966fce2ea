"""What becomes of each kind of file: one of every format, RAW flavour, big scan and the
usual damage, uploaded with `python -m app upload --jsonl --preview-size 1600` to a local
rclone serve s3, and a Markdown table of the outcome (status, stored type, thumbnail,
preview, the sidecar's size and the reason).

    python bench/formats.py [--no-big]

Prints the table; asserts nothing. Takes about a minute (the big scans most of it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers import corpus, rawfiles  # noqa: E402
from tests.helpers.servers import RcloneS3  # noqa: E402

Maker = Callable[[Path], Path]


def _camera_jpeg(path: Path) -> Path:
    main = corpus._noisy_rgb((3000, 2000), 5)
    return corpus.camera_jpeg_with_mpf(path, main, main.resize((1920, 1280)), orientation=6)


def _preview() -> bytes:
    buffer = io.BytesIO()
    corpus._noisy_rgb((1600, 1066), 9).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


CASES: dict[str, tuple[str, Maker]] = {
    "JPEG, EXIF GPS": ("photo.jpg", lambda p: corpus.jpeg_photo(p, (1200, 900), exif_gps=True)),
    "JPEG, orientation 6": ("rotated.jpg", lambda p: corpus.oriented_jpeg(p, 6, (640, 320))),
    "JPEG with MPF preview": ("camera.jpg", _camera_jpeg),
    "JPEG named .png": ("really_a_jpeg.png", corpus.jpeg_photo),
    "CMYK JPEG": ("print.jpg", corpus.cmyk_jpeg),
    "PNG RGBA": ("transparent.png", corpus.png_rgba),
    "PNG palette": ("palette.png", corpus.palette_png),
    "PNG 16-bit grey": ("scan16.png", corpus.gray16_png),
    "PNG 16-bit grey + tRNS": ("grey_trns.png", corpus.gray16_trns_png),
    "GIF, animated": ("anim.gif", corpus.animated_gif),
    "WebP, animated": ("anim.webp", corpus.animated_webp),
    "TIFF": ("scan.tif", corpus.tiff),
    "AVIF": ("modern.avif", corpus.avif),
    "CR2 (Canon) with preview": ("IMG_0001.CR2", lambda p: rawfiles.cr2(p, preview=_preview())),
    "NEF (Nikon) with preview": (
        "DSC_0001.NEF",
        lambda p: rawfiles.maker_raw(p, "NIKON CORPORATION", preview=_preview()),
    ),
    "DNG with preview": ("scan.dng", rawfiles.dng_with_preview),
    "DNG without preview (pidng)": ("bare.dng", rawfiles.pidng_dng),
    "RW2 (Panasonic)": ("P1000001.RW2", rawfiles.rw2),
    "ORF without preview": ("P0000001.ORF", rawfiles.orf_without_preview),
    "RAF (Fujifilm)": ("DSCF0001.RAF", rawfiles.raf),
    "CR3 without preview": ("IMG_0002.CR3", rawfiles.cr3_without_preview),
    "JPEG cut in half": ("cut.jpg", corpus.truncated_jpeg),
    "JPEG missing its last 8 bytes": ("nearly.jpg", corpus.jpeg_missing_last_bytes),
    "PNG missing its end chunk": ("no_iend.png", lambda p: corpus.png_cut(p, 12)),
    "PNG garbage after signature": ("broken.png", corpus.png_garbage_after_signature),
    "PNG bomb (header 66070^2)": ("bomb.png", corpus.png_header_bomb),
    "text named .jpg": ("notes.jpg", corpus.text_named_jpg),
    "empty file": ("empty.jpg", corpus.zero_byte),
}
BIG: dict[str, tuple[str, Maker]] = {
    "JPEG 139 MP scan": ("a4.jpg", lambda p: corpus.big_scan(p, (13600, 10200), Q=85)),
    "PNG 300 MP scan": ("page.png", lambda p: corpus.big_scan(p, (20000, 15000), compression=1)),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-big", action="store_true", help="skip the 139 and 300 MP scans")
    args = parser.parse_args()
    cases = CASES if args.no_big else {**CASES, **BIG}
    if corpus.heic_writable():
        cases["HEIC, orientation 6"] = ("phone.heic", lambda p: corpus.heic(p, orientation=6))
    with tempfile.TemporaryDirectory(prefix="formats-") as tmp:
        folder = Path(tmp) / "Collection"
        folder.mkdir()
        labels = {}
        for label, (name, make) in cases.items():
            make(folder / name)
            labels[name] = label
        server = RcloneS3(Path(tmp) / "server")
        endpoint = server.start()
        try:
            bucket = endpoint.make_bucket()
            records = _upload(endpoint, bucket, folder)
            client = endpoint.client()
            print("| file | status | stored as | thumbnail | preview | sidecar size | reason |")
            print("|---|---|---|---|---|---|---|")
            for name, label in labels.items():
                rec = records[name]
                size = "—"
                if rec.get("metadata_key"):
                    body = client.get_object(Bucket=bucket, Key=rec["metadata_key"])["Body"]
                    sidecar = json.loads(body.read())
                    if sidecar.get("width"):
                        size = f"{sidecar['width']}x{sidecar['height']}"
                reason = rec.get("error") or rec.get("thumbnail_error") or ""
                preview = "yes" if (rec.get("derivatives") or {}).get("preview") else "—"
                print(
                    f"| {label} | {rec['status']} | {rec.get('content_type') or '—'} | "
                    f"{rec['thumbnail_status']} | {preview} | {size} | {reason} |"
                )
        finally:
            server.stop()
    return 0


def _upload(endpoint: object, bucket: str, folder: Path) -> dict[str, dict[str, object]]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": endpoint.access_key,  # type: ignore[attr-defined]
        "AWS_SECRET_ACCESS_KEY": endpoint.secret_key,  # type: ignore[attr-defined]
        "PHOTO_UPLOADER_DATA_DIR": str(folder.parent / "data"),
    }
    done = subprocess.run(
        [
            sys.executable, "-m", "app", "upload", str(folder), "--jsonl",
            "--bucket", bucket, "--endpoint-url", endpoint.url,  # type: ignore[attr-defined]
            "--preview-size", "1600",
        ],
        cwd=REPO, env=env, capture_output=True, text=True,
    )  # fmt: skip
    return {Path(r["path"]).name: r for r in map(json.loads, done.stdout.splitlines())}


if __name__ == "__main__":
    sys.exit(main())
