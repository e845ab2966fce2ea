"""Upload throughput: `python -m app upload` (thumbnails included) against the anchors.

Same files, same local `rclone serve s3`, one run, each tool into its own bucket:
  - ours:        python -m app upload DIR --bucket ... (hash, duplicate check, thumbnail,
                 original, thumbnail, index)
  - s5cmd:       s5cmd cp 'DIR/*' s3://bucket/        (upload only)
  - aws cli:     aws s3 cp DIR s3://bucket/ --recursive (upload only)
  - ours, upload path only: the same engine in-process with thumbnails switched off,
                 to separate the engine's own overhead from the cost of thumbnails
  - seed:        the seed's approach: one file at a time, transpose then thumbnail,
                 boto3 upload_file for the original and put_object for the thumbnail

Usage: python bench/throughput.py [--count 100] [--keep-corpus DIR]
Target: ours at most 1.5x s5cmd's time.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from app.core.config import Destination, EngineSettings  # noqa: E402
from app.core.engine import Engine  # noqa: E402
from app.core.localserver import LocalS3Server, S3Credentials  # noqa: E402
from app.core.thumbnails import Derivatives  # noqa: E402
from bench.apprun import app_env  # noqa: E402
from tests.helpers import corpus  # noqa: E402

TARGET_RATIO = 1.5


def make_corpus(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob("photo_*.jpg"))
    if len(existing) >= count:
        return existing[:count]
    print(f"generating {count} photos of 12 MP in {folder} ...", flush=True)
    return [corpus.realistic_12mp_jpeg(folder / f"photo_{n:03d}.jpg", seed=n) for n in range(count)]


def timed(label: str, command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        print(f"{label}: FAILED (exit {result.returncode})\n{result.stderr[-2000:]}")
        return float("nan")
    return elapsed


def seed_approach(endpoint: str, creds: S3Credentials, bucket: str, files: list[Path]) -> float:
    """The seed's flow, sequential: read, transpose, thumbnail, upload_file, put thumbnail."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    start = time.perf_counter()
    for path in files:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im.thumbnail((300, 300))
            out = io.BytesIO()
            im.convert("RGB").save(out, "JPEG", quality=85)
        client.upload_file(str(path), bucket, path.name)
        client.put_object(Bucket=bucket, Key=f"thumbnails/{path.name}", Body=out.getvalue())
    return time.perf_counter() - start


def engine_without_thumbnails(
    endpoint: str, creds: S3Credentials, bucket: str, folder: Path
) -> float:
    """Our pipeline minus thumbnails (a stand-in thumbnailer returns a few bytes)."""

    async def run() -> float:
        destination = Destination(
            bucket=bucket,
            endpoint_url=endpoint,
            access_key=creds.access_key,
            secret_key=creds.secret_key,
        )
        engine = Engine(
            destination,
            EngineSettings(),
            thumbnailer=lambda path, spec, preview: Derivatives(b"thumb"),
        )
        start = time.perf_counter()
        try:
            engine.pipeline.add_paths([folder])
            await engine.pipeline.wait_idle()
            return time.perf_counter() - start
        finally:
            await engine.aclose()

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--keep-corpus", type=Path, help="reuse/keep generated photos here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    try:
        photos_dir = args.keep_corpus or work / "photos"
        files = make_corpus(photos_dir, args.count)
        if args.keep_corpus:  # only the first --count files
            photos_dir = work / "selected"
            photos_dir.mkdir()
            for f in files:
                os.link(f, photos_dir / f.name)
        total_mb = sum(f.stat().st_size for f in files) / 1e6
        creds = S3Credentials("bench-key", "bench-secret-key")
        server = LocalS3Server(work / "server", creds)
        (work / "server").mkdir()
        server.start()
        try:
            for bucket in ("ours", "s5cmd", "awscli", "seed", "nothumbs"):
                server.ensure_bucket(bucket)
            env = app_env()
            env.update(
                AWS_ACCESS_KEY_ID=creds.access_key,
                AWS_SECRET_ACCESS_KEY=creds.secret_key,
                AWS_DEFAULT_REGION="us-east-1",
                PHOTO_UPLOADER_DATA_DIR=str(work / "app-data"),
            )
            url = server.endpoint_url
            results: dict[str, float] = {}
            results["ours (python -m app upload, thumbnails included)"] = timed(
                "ours",
                [
                    sys.executable,
                    "-m",
                    "app",
                    "upload",
                    str(photos_dir),
                    "--bucket",
                    "ours",
                    "--endpoint-url",
                    url,
                    "--jsonl",
                ],
                env,
            )
            s5cmd = shutil.which("s5cmd")
            if s5cmd:
                results["s5cmd cp (upload only)"] = timed(
                    "s5cmd",
                    [s5cmd, "--endpoint-url", url, "cp", f"{photos_dir}/*", "s3://s5cmd/"],
                    env,
                )
            aws = shutil.which("aws")
            if aws:
                results["aws s3 cp --recursive (upload only)"] = timed(
                    "aws",
                    [
                        aws,
                        "s3",
                        "cp",
                        str(photos_dir),
                        "s3://awscli/",
                        "--recursive",
                        "--endpoint-url",
                        url,
                        "--only-show-errors",
                    ],
                    env,
                )
            results["ours, upload path only (in-process, no thumbnails)"] = (
                engine_without_thumbnails(url, creds, "nothumbs", photos_dir)
            )
            results["seed's approach (sequential, transpose then thumbnail)"] = seed_approach(
                url, creds, "seed", files
            )
        finally:
            server.stop()

        print(f"\n{len(files)} photos, {total_mb:.0f} MB, to rclone serve s3 on loopback")
        width = max(map(len, results))
        for label, seconds in results.items():
            print(f"  {label:<{width}}  {seconds:6.2f} s  {total_mb / seconds:7.1f} MB/s")
        ours = next(iter(results.values()))
        print()
        for label, seconds in list(results.items())[1:]:
            print(f"  ours / {label}: {ours / seconds:.2f}x")
        s5 = results.get("s5cmd cp (upload only)")
        if s5:
            verdict = "met" if ours <= TARGET_RATIO * s5 else "NOT met"
            print(f"\ntarget ours <= {TARGET_RATIO}x s5cmd: {verdict} ({ours / s5:.2f}x)")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
