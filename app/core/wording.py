"""Where the collector fixes something: a Settings field in the window, a flag on the
command line.

Core sentences that end in what to do ask `fix(...)` for those words; the command line
switches its process to its own words once, at start (`use(Surface.CLI)`). The window is
the default. Both are separate processes, so one setting per process is enough.
"""

from __future__ import annotations

import enum


class Surface(enum.Enum):
    WINDOW = "window"
    CLI = "cli"


#: what -> (the window's words, the command line's words); each a whole sentence
_FIXES: dict[str, tuple[str, str]] = {
    "bucket": ("Check the bucket name in Settings.", "Check the name given to --bucket."),
    "region": ("Set its region in Settings.", "Give its region with --region."),
    "request_region": (
        "Set the bucket's region in Settings.",
        "Give the bucket's region with --region.",
    ),
    "checksums": (
        "If it rejects checksums, set Checksums to “when required” in Settings.",
        "If it rejects checksums, run again with --checksums when_required.",
    ),
    "credentials": (
        "Enter keys in Settings, pick a profile, or set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY.",
        "Pick a profile with --profile, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
    ),
    "endpoint_scheme": (
        "Write the endpoint URL with its scheme, e.g. {suggestion}.",
        "Give --endpoint-url with its scheme, e.g. {suggestion}.",
    ),
}

_surface = Surface.WINDOW


def use(surface: Surface) -> Surface:
    """Speak to `surface` from now on; returns the one before (to restore it)."""
    global _surface
    before, _surface = _surface, surface
    return before


def surface() -> Surface:
    return _surface


def fix(what: str, **values: str) -> str:
    """The sentence that says where to fix `what`, for the current surface."""
    window, cli = _FIXES[what]
    return (cli if _surface is Surface.CLI else window).format(**values)
