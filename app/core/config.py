"""Where photos go and how the engine works: plain settings shared by the CLI and the GUI."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from app.core.keys import KeyTemplate, normalize_prefix
from app.core.retry import DEFAULT_RETRY, RetryPolicy
from app.core.sidecar import Item
from app.core.thumbnails import PreviewSpec, ThumbnailSpec
from app.core.wording import fix

CHECKSUM_MODES = ("when_supported", "when_required")
# Files in flight on the command line: many small ones hide a distant server's round
# trips (bench/network.py, 300 small scans over 40 ms: 7.3 s at 32, 7.0 s at 64). Large
# originals stream, with at most 16 parts in memory for all files together, so memory
# does not grow with it; small ones are at most 2 MiB each.
DEFAULT_CONCURRENCY = 64
# The window's default: its event loop shares the GIL with every worker, and 32 files in
# flight raised its p99 lag (bench/ui_lag.py: 21.6 ms at 8, 28-45 ms at 32) for no gain
# on a local disk; Settings can raise it to MAX_CONCURRENCY for a slow link.
WINDOW_CONCURRENCY = 8
MAX_CONCURRENCY = 64


@dataclass(frozen=True)
class Destination:
    """An S3 bucket (AWS or S3-compatible) and how to reach it.

    `access_key`/`secret_key` are only set when the user typed them in (the GUI keeps
    the secret in the OS keyring); otherwise boto3's standard credential chain applies.
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    checksum_mode: str = "when_supported"
    label: str | None = None  # a human name, e.g. "local test bucket"

    def __post_init__(self) -> None:
        if self.checksum_mode not in CHECKSUM_MODES:
            modes = ", ".join(CHECKSUM_MODES)
            raise ValueError(f"Unknown checksum mode {self.checksum_mode!r}; use one of {modes}.")
        object.__setattr__(self, "prefix", normalize_prefix(self.prefix))

    def spec(self) -> str:
        """Everything but the secret, as JSON: what the journal keeps of a destination."""
        return json.dumps({name: getattr(self, name) for name in _SPEC_FIELDS}, sort_keys=True)

    @classmethod
    def from_spec(cls, spec: str, secret_key: str | None = None) -> Destination | None:
        """The destination `spec()` wrote (None for one that does not parse)."""
        try:
            values = json.loads(spec)
            given = {name: values[name] for name in _SPEC_FIELDS if name in values}
            return cls(**given, secret_key=secret_key)
        except (ValueError, TypeError, AttributeError):
            return None

    @property
    def display_name(self) -> str:
        """What the window and the CLI call this destination."""
        where = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        if self.label:
            return f"{self.label} ({where})"
        if self.endpoint_url:
            return f"{where} at {self.endpoint_url}"
        return f"s3://{where}"


_SPEC_FIELDS = (
    "bucket",
    "prefix",
    "endpoint_url",
    "region",
    "profile",
    "access_key",
    "checksum_mode",
    "label",
)


@dataclass(frozen=True)
class EngineSettings:
    """How the pipeline works, independent of the destination.

    `retry` is how each storage operation is retried (tests shrink it to milliseconds);
    `verify_after_upload` reads every uploaded original back and compares its SHA-256.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    thumbnail: ThumbnailSpec = field(default_factory=ThumbnailSpec)
    preview: PreviewSpec | None = None  # a display preview beside each thumbnail (off)
    keys: KeyTemplate = field(default_factory=KeyTemplate)
    retry: RetryPolicy = DEFAULT_RETRY
    verify_after_upload: bool = False
    upload_limit: int | None = None  # bytes a second for the whole process (bandwidth.py)
    keep_gps: bool = False  # the GPS position goes into the metadata sidecars
    item: Item | None = None  # the item of every file sent (else its dropped folder's name)
    item_from_folder: bool = True  # a photo's item id defaults to its dropped folder's name

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"Concurrency must be between 1 and {MAX_CONCURRENCY}.")


_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def endpoint_problem(url: str) -> str | None:
    """Why an endpoint URL cannot work, in one sentence that says what to write instead;
    None when it can (an empty one means AWS)."""
    url = url.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is not None and parts.scheme in ("http", "https") and host:
        return None
    return f"The endpoint URL “{url}” does not start with http:// or https://. " + fix(
        "endpoint_scheme", suggestion=suggest_endpoint(url)
    )


def suggest_endpoint(url: str) -> str:
    """What the collector most likely meant: http:// for this computer, else https://."""
    rest = url.strip().split("://", 1)[-1].lstrip("/")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0] if not rest.startswith("[") else "[::1]"
    scheme = "http" if host.lower() in _LOOPBACK_HOSTS or host.startswith("127.") else "https"
    return f"{scheme}://{rest}"


def cpu_workers() -> int:
    """Threads for CPU-bound work (thumbnails): one per core, at least one."""
    return max(1, os.cpu_count() or 1)
