"""Originals fetched from the bucket to this computer: into a folder the collector
chose (several at once), or to a temporary folder to open one in the desktop's viewer.

A file already there is never overwritten: a name that is taken gets " (2)", " (3)"...
before its extension, the name claimed by creating the file exclusively, so two
downloads of photos with the same name in one folder cannot take the same one either.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from app.core.errors import StoreError

#: How many names are tried before giving up ("photo (999).jpg").
MAX_TRIES = 999


class DownloadingStore(Protocol):
    def download_to(self, key: str, target: Path) -> bool: ...


@dataclass(frozen=True, slots=True)
class Downloaded:
    key: str
    path: Path
    renamed: bool  # its own name was taken: it got another


def local_name(key: str) -> str:
    """A file name for the original at `key`: its last segment, made safe for a local
    file system (no separators, not "." or "..", not empty)."""
    name = PurePosixPath(key).name.replace("\\", "_").replace(os.sep, "_")
    return name if name not in ("", ".", "..") else "photo"


def download_new(store: DownloadingStore, key: str, folder: Path) -> Downloaded:
    """Download `key` into `folder` under its own name, or the first free "name (N)";
    StoreError when it is no longer in the bucket (nothing is left behind then)."""
    name = local_name(key)
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    for attempt in range(1, MAX_TRIES + 1):
        target = folder / (name if attempt == 1 else f"{stem} ({attempt}){suffix}")
        try:
            target.open("xb").close()  # the name is ours now (or someone else's: next)
        except FileExistsError:
            continue
        try:
            found = store.download_to(key, target)
        except BaseException:
            target.unlink(missing_ok=True)  # (cut off: no half file under a good name)
            raise
        if not found:
            target.unlink(missing_ok=True)
            raise StoreError(f"{key} is no longer in the bucket.")
        return Downloaded(key, target, attempt > 1)
    raise OSError(f"No free name for {name} in {folder}.")
