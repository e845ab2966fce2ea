"""Which moments are worth a desktop notification: a batch that finished, and a file
that failed while the collector looks elsewhere. Plain Python (no Qt), fed with the
pipeline's snapshots; the window decides whether to show them (not while it has focus).

A batch runs from the moment a file starts until the queue has been idle for a little
while: a copy stand's shots arriving one after another end as one notification, not one
per photo. Failures are told at once, once per batch; the batch's summary counts them.

Snapshots are coalesced, so a file that finishes quickly (a duplicate, an empty file) may
only ever be seen finished: it counts too, but for files that came back finished from an
earlier session (`start_counting` names them), which are not news.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from app.core.models import FileSnapshot, FileState
from app.core.policy import thumbnail_failed, went_wrong

QUIET_SECONDS = 5.0  # idle this long: the batch is over


@dataclass(frozen=True, slots=True)
class Notice:
    title: str
    body: str
    failed: bool = False


class BatchNotices:
    """Snapshots in, notices out. `seen` takes the pipeline's snapshots (on the loop);
    `due(now)` says whether a batch just ended, and how."""

    def __init__(self, quiet: float = QUIET_SECONDS) -> None:
        self._quiet = quiet
        self._active: set[int] = set()
        self._done: set[int] = set()  # counted (or not news): a repeat is not counted again
        self._counting = False  # files only ever seen finished count (start_counting)
        self._ended: Counter[FileState] = Counter()
        self._thumbnails_failed = 0  # in the bucket without their thumbnail
        self._parts_failed = 0  # in the bucket, but its index entry or metadata file failed
        self._failure_told = False
        self._idle_since: float | None = None

    def start_counting(self, restored: Iterable[int]) -> None:
        """The queue an earlier session left is back (`restored`: its file ids): from
        now on, a file seen only finished is one that finished quickly, and counts."""
        self._done.update(restored)
        self._counting = True

    def forget(self, file_ids: Iterable[int]) -> None:
        """Files removed from the queue: whatever they were doing, they are not waited
        for (a file removed while it ran never sends its last state)."""
        for file_id in file_ids:
            self._active.discard(file_id)
            self._done.add(file_id)

    def seen(self, snapshots: Iterable[FileSnapshot], now: float) -> list[Notice]:
        """Take snapshots; returns a notice for the batch's first failure, if one came."""
        notices: list[Notice] = []
        for snap in snapshots:
            if not snap.state.is_final:
                self._active.add(snap.file_id)
                self._done.discard(snap.file_id)  # (a retry: it counts again)
                self._idle_since = None
                continue
            if snap.file_id in self._done:
                continue
            if snap.file_id not in self._active and not self._counting:
                continue  # the earlier session's, arriving before start_counting
            self._active.discard(snap.file_id)
            self._done.add(snap.file_id)
            self._ended[snap.state] += 1
            if thumbnail_failed(snap):
                self._thumbnails_failed += 1
            elif snap.state is not FileState.FAILED and went_wrong(snap):
                self._parts_failed += 1
            if snap.state is FileState.FAILED and not self._failure_told:
                self._failure_told = True
                notices.append(_failure(snap))
        if not self._active and self._ended and self._idle_since is None:
            self._idle_since = now
        return notices

    def due(self, now: float) -> Notice | None:
        """The summary of a batch once the queue has been idle for a while; then a new
        batch begins."""
        if self._idle_since is None or self._active or now - self._idle_since < self._quiet:
            return None
        notice = summary(self._ended, self._thumbnails_failed, self._parts_failed)
        self._ended, self._thumbnails_failed, self._parts_failed = Counter(), 0, 0
        self._failure_told, self._idle_since = False, None
        return notice


def summary(ended: Counter[FileState], thumbnails_failed: int = 0, parts_failed: int = 0) -> Notice:
    """What a batch finished, in words ("37 uploaded, 2 failed."); of the photos in the
    bucket, how many have no thumbnail, and how many miss their index entry or metadata
    file (policy.went_wrong: what the Failed filter shows)."""
    parts = [
        f"{ended[state]} {word}"
        for state, word in (
            (FileState.UPLOADED, "uploaded"),
            (FileState.DUPLICATE, "already in the bucket"),
            (FileState.FAILED, "failed"),
            (FileState.CANCELLED, "cancelled"),
        )
        if ended[state]
    ]
    if thumbnails_failed:
        noun = "thumbnail" if thumbnails_failed == 1 else "thumbnails"
        parts.append(f"{thumbnails_failed} {noun} failed")
    if parts_failed:
        parts.append(f"{parts_failed} not complete in the bucket (see Failed)")
    failed = bool(ended[FileState.FAILED] or thumbnails_failed or parts_failed)
    title = "Uploads finished, some failed" if failed else "Uploads finished"
    return Notice(title, ", ".join(parts) + ".", failed=failed)


def _failure(snap: FileSnapshot) -> Notice:
    return Notice(f"{snap.path.name} could not be uploaded", snap.error or "", failed=True)
