"""A large original cut off by kill -9 at about half, then the same command again: how
many bytes the server received in all (counted in a proxy in front of it).

The servers (SeaweedFS, then rclone serve s3) are run by this script, so they outlive the
app, as AWS, R2 or B2 would (the app's own local bucket dies with the app, and there a
restart starts over). Target: at most 1.15x the file's size in all, the object identical
to the file, no upload left open. rclone serve s3 assembles parts as they stream in and
fails an upload whose part was cut off mid-stream; the app then aborts it and sends the
file again, so rclone shows what starting over costs.

Usage: python bench/resume.py [--size-mb 1024] [--server seaweedfs|rclone|all]
                              [--keep-corpus DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.core.journal import JOURNAL_FILE, open_journal  # noqa: E402
from app.core.localserver.process import free_loopback_port  # noqa: E402
from app.core.pipeline.multipart import part_count  # noqa: E402
from app.core.store import parts_from_text  # noqa: E402
from tests.helpers.servers import RcloneS3, S3Endpoint, SeaweedS3  # noqa: E402

TARGET = 1.15


class CountingProxy:
    """Forwards TCP from a loopback port to the server, counting the bytes sent to it."""

    def __init__(self, target_port: int) -> None:
        self.port = free_loopback_port()
        self._target = target_port
        self._lock = threading.Lock()
        self.received = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._target))
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(1 << 20):
                sink.sendall(data)
                if upstream:
                    with self._lock:
                        self.received += len(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()


def make_file(path: Path, size: int) -> Path:
    if path.exists() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(b"\xff\xd8\xff\xe0")  # a JPEG's signature (no thumbnail can be made)
        left = size - 4
        while left > 0:
            chunk = os.urandom(min(left, 16 << 20))
            out.write(chunk)
            left -= len(chunk)
    return path


def stored_parts(data_dir: Path, name: str) -> int:
    path = data_dir / JOURNAL_FILE
    if not path.exists():
        return 0
    journal = open_journal("bench", path, for_reading=True)
    try:
        rows = journal.queue("cli", finished_limit=0).result()
    finally:
        journal.close().result()
    return max((len(parts_from_text(r.parts)) for r in rows if r.path.name == name), default=0)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def run_against(name: str, endpoint: S3Endpoint, big: Path, work: Path) -> bool:
    """One kill -9 and restart against a server that lives on; prints what it took."""
    size, total_parts = big.stat().st_size, part_count(big.stat().st_size)
    port = int(endpoint.url.rsplit(":", 1)[1].strip("/"))
    proxy = CountingProxy(port)
    data = work / f"data-{name}"
    try:
        bucket = endpoint.make_bucket(f"resume-{name}")
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=endpoint.access_key,
            AWS_SECRET_ACCESS_KEY=endpoint.secret_key,
            AWS_EC2_METADATA_DISABLED="true",
            PHOTO_UPLOADER_DATA_DIR=str(data),
            PHOTO_UPLOADER_CONFIG_DIR=str(work / "config"),
        )
        command = [sys.executable, "-m", "app", "upload", str(big.parent), "--bucket", bucket,
                   "--endpoint-url", f"http://127.0.0.1:{proxy.port}", "--jsonl"]  # fmt: skip
        print(f"\n{name}: {big.name}, {size / 1e9:.2f} GB in {total_parts} parts")
        started = time.perf_counter()
        first = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)  # fmt: skip
        while stored_parts(data, big.name) < total_parts // 2:
            if first.poll() is not None:
                print("  the first run ended before it could be cut off:", first.stderr.read())
                return False
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        before, kept = proxy.received, stored_parts(data, big.name)
        print(f"  kill -9 after {time.perf_counter() - started:.1f} s: "
              f"{before / 1e9:.3f} GB received, {kept} parts recorded")  # fmt: skip
        started = time.perf_counter()
        again = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
        if again.returncode != 0:
            print(f"  the second run failed (exit {again.returncode}):", again.stdout[-800:])
            return False
        total = proxy.received
        print(f"  second run {time.perf_counter() - started:.1f} s: "
              f"{(total - before) / 1e9:.3f} GB received")  # fmt: skip
        client = endpoint.client()
        listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        (key,) = [  # (not its sidecar, atlas-scan-<hash>.jpg.json)
            o["Key"]
            for o in listed
            if o["Key"].startswith("atlas-scan") and not o["Key"].endswith(".json")
        ]
        digest = hashlib.sha256()
        for chunk in client.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(8 << 20):
            digest.update(chunk)
        same = digest.hexdigest() == sha256_of(big)
        left_open = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        ratio = total / size
        print(f"  in all {total / 1e9:.3f} GB for a {size / 1e9:.3f} GB file: {ratio:.3f}x "
              f"(from byte 0 again: {(before + size) / size:.2f}x)")  # fmt: skip
        print(f"  object identical to the file: {same}; uploads left open: {len(left_open)}")
        met = ratio <= TARGET and same and not left_open
        print(f"  target <= {TARGET}x in all, object identical: {'met' if met else 'NOT met'}")
        return met
    finally:
        proxy.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--server", choices=["seaweedfs", "rclone", "all"], default="all")
    parser.add_argument("--keep-corpus", help="reuse/keep the large file here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-resume-"))
    corpus = Path(args.keep_corpus) if args.keep_corpus else work / "corpus"
    big = make_file(corpus / "resume" / "atlas-scan.jpg", args.size_mb * 1024 * 1024)
    servers = ["seaweedfs", "rclone"] if args.server == "all" else [args.server]
    try:
        for name in servers:
            server = SeaweedS3(work / "weed") if name == "seaweedfs" else RcloneS3(work / "rclone")
            endpoint = server.start()
            try:
                run_against(name, endpoint, big, work)
            finally:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
