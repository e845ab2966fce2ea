"""What every command line command shares: exit codes, the one-sentence usage error,
and the destination flags (`--bucket`, `--prefix`, `--endpoint-url`, ...)."""

from __future__ import annotations

import argparse
import signal

from app.core.config import CHECKSUM_MODES, Destination, endpoint_problem

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: What stops a command cleanly (a second one ends it at once): Ctrl+C, and what a desktop
#: sends when the user logs out.
QUIT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class UsageError(Exception):
    """A configuration problem reported in one sentence, exit code 2."""


def add_destination_options(parser: argparse.ArgumentParser) -> None:
    """Where photos are: the same flags for every command that reaches a bucket."""
    parser.add_argument("--bucket", help="S3 bucket name (default: the local test bucket)")
    parser.add_argument("--prefix", default="", help="key prefix, e.g. coins/2024/")
    parser.add_argument("--endpoint-url", help="URL of an S3-compatible store (MinIO, R2, B2...)")
    parser.add_argument("--region", help="bucket region, e.g. eu-west-1")
    parser.add_argument("--profile", help="AWS profile from ~/.aws/config")
    parser.add_argument(
        "--checksums",
        choices=CHECKSUM_MODES,
        default="when_supported",
        help="use when_required for stores that reject default checksums",
    )


def destination_from_args(args: argparse.Namespace) -> Destination | None:
    """The remote destination the flags name, or None for the local test bucket."""
    problem = endpoint_problem(args.endpoint_url or "")
    if problem is not None:
        raise UsageError(problem)
    if not args.bucket:
        for flag in ("endpoint_url", "region", "profile"):
            if getattr(args, flag):
                option = "--" + flag.replace("_", "-")
                raise UsageError(f"{option} needs --bucket (without it, photos go locally).")
        return None
    return Destination(
        bucket=args.bucket,
        prefix=args.prefix,
        endpoint_url=args.endpoint_url,
        region=args.region,
        profile=args.profile,
        checksum_mode=args.checksums,
    )
