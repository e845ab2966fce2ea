"""Share links: a presigned GET of an original, and what such a link means, said plainly.

A link is signed on this computer (no request is made); anyone who has it can open the
original until it expires. What else the collector should know is worked out here once,
for the CLI and the window alike: GPS still inside the original, temporary credentials
that end the link early, and a local test bucket no one else can reach.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from app.core.errors import StoreError
from app.core.formats import HEAD_SIZE, detect_format
from app.core.photofacts import read_photo_facts

#: The choices offered, and the longest a SigV4 presigned URL may live (7 days).
EXPIRY_CHOICES = {"1h": 3600, "1d": 86_400, "7d": 7 * 86_400}
DEFAULT_EXPIRY = "1d"


class SharingStore(Protocol):
    def object_size(self, key: str) -> int | None: ...
    def get_bytes(self, key: str, limit: int) -> bytes | None: ...
    def share_url(self, key: str, seconds: int) -> str: ...
    def credentials_expire_at(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class ShareLink:
    key: str
    url: str
    expires_at: float  # epoch seconds; the earlier of the link's and the credentials'
    cautions: tuple[str, ...]  # sentences to show beside the link


def parse_expiry(text: str) -> int:
    """Seconds for "1h", "1d" or "7d"; ValueError with a sentence for anything else."""
    if text not in EXPIRY_CHOICES:
        choices = ", ".join(EXPIRY_CHOICES)
        raise ValueError(f"A link can last {choices}, not “{text}”.")
    return EXPIRY_CHOICES[text]


def make_share_link(
    store: SharingStore,
    key: str,
    seconds: int,
    *,
    local_bucket: bool = False,
    sidecar_has_gps: bool = False,
    now: float | None = None,
) -> ShareLink:
    """Sign a link to `key` (which must exist) good for `seconds`, with its cautions."""
    if store.object_size(key) is None:
        raise StoreError(f"There is no photo at {key} in this bucket.")
    now = time.time() if now is None else now
    url = store.share_url(key, seconds)
    expires_at = now + seconds
    cautions = [
        "Anyone with this link can open the original until "
        f"{_when(expires_at)}; it cannot be taken back before then."
    ]
    credentials_end = store.credentials_expire_at()
    if credentials_end is not None:
        if math.isnan(credentials_end):
            cautions.append(
                "It is signed with temporary credentials (SSO or STS): it stops working "
                "when they expire, which may be sooner."
            )
        elif credentials_end < expires_at:
            expires_at = credentials_end
            cautions.append(
                "It is signed with temporary credentials (SSO or STS), so it stops working "
                f"when they expire, at {_when(credentials_end)}."
            )
    if sidecar_has_gps or original_has_gps(store, key):
        cautions.append(
            "This photo still holds the GPS position where it was taken: whoever opens the "
            "link can see where that was."
        )
    if local_bucket:
        cautions.append(
            "This link points to the local test bucket: it works only on this computer, "
            "and only while Photo Uploader is running."
        )
    return ShareLink(key, url, expires_at, tuple(cautions))


def original_has_gps(store: SharingStore, key: str) -> bool:
    """Whether the original's own metadata holds a GPS position (read from its head)."""
    head = store.get_bytes(key, HEAD_SIZE)
    if not head:
        return False
    fmt = detect_format(head, PurePosixPath(key).name)
    if fmt is None:
        return False
    with tempfile.TemporaryDirectory(prefix="photo-uploader-") as tmp:
        path = Path(tmp) / "head"
        path.write_bytes(head)
        return read_photo_facts(path, fmt).gps is not None


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(epoch))
