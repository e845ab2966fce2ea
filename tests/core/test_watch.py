"""Watched folders (app.core.watch): which files are taken, and when.

The watch runs with real watchdog observers on temporary folders; the queue and the
journal are plain dictionaries, and the clock is the test's, moved on by hand, so "a
file written and left open for a long time" takes no time at all.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from app.core.journal import JournalRow
from app.core.models import FileOutcome, FileState, ThumbnailState
from app.core.walker import WalkEntry
from app.core.watch import (
    Decision,
    FolderWatch,
    WatchEvent,
    WatchStatus,
    WatchTiming,
    decide,
    folder_within,
    has_its_end,
    is_candidate,
    outermost,
)
from app.core.watchsource import FORCE_POLLING_ENV, WatchdogSource, network_file_system

TIMING = WatchTiming(
    after_close=1.0, settle=3.0, unclosed=30.0, empty=12.0, tick=0.02, poll_interval=0.1,
    recheck_missing=0.05,
)  # fmt: skip


def in_a_loop(test: Callable[..., Any]) -> Callable[..., None]:
    """Run an async test function on a fresh asyncio loop."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """A FolderWatch over `folders` whose queue is a list and whose journal is a dict."""

    def __init__(self, folders: list[Path], journal: Mapping[Path, JournalRow] | None = None):
        self.clock = Clock()
        self.queued: list[WalkEntry] = []
        self.sizes_when_queued: dict[str, int] = {}
        self.statuses: list[WatchStatus] = []
        self.in_queue: dict[Path, FileOutcome] = {}
        self.journal = dict(journal or {})
        self.io = ThreadPoolExecutor(4)
        self.watch = FolderWatch(
            folders,
            io=self.io,
            lookup=self._lookup,
            enqueue=self._enqueue,
            timing=TIMING,
            on_status=self.statuses.append,
            clock=self.clock,
        )

    async def _lookup(
        self, paths: Iterable[Path]
    ) -> tuple[dict[Path, FileOutcome], dict[Path, JournalRow]]:
        paths = list(paths)
        held = {p: self.in_queue[p] for p in paths if p in self.in_queue}
        return held, {p: self.journal[p] for p in paths if p in self.journal and p not in held}

    def _enqueue(self, entries: Iterable[WalkEntry], _known: object) -> None:
        for entry in entries:
            self.queued.append(entry)
            self.sizes_when_queued[entry.path.name] = entry.path.stat().st_size

    def names(self) -> list[str]:
        return sorted(e.path.name for e in self.queued)

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.01)

    async def looks(self, count: int = 2) -> None:
        """Until the watch has looked at its waiting files `count` more times."""
        target = self.watch.looks + count
        await self.until(lambda: self.watch.looks >= target)

    async def later(self, seconds: float) -> None:
        """Move the clock on, and let the watch look twice (a file needs two looks)."""
        self.clock.now += seconds
        await self.looks()
        self.clock.now += seconds
        await self.looks()

    async def taken(self, names: list[str], step: float, budget: float) -> None:
        """Move the clock on `step` at a time, letting the watch look after each, until
        exactly `names` were queued; fail past `budget` seconds (a file the watch should
        wait longer for is then not taken in time, as it must not be)."""
        spent = 0.0
        while self.names() != sorted(names):
            assert spent < budget, f"queued {self.names()} after {spent} s, not {names}"
            self.clock.now += step
            spent += step
            await self.looks()

    async def aclose(self) -> None:
        await self.watch.aclose()
        self.io.shutdown()


def watched(tmp_path: Path, name: str = "inbox") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


async def started(harness: Harness) -> None:
    harness.watch.start()
    await harness.until(lambda: any(s.event is WatchEvent.WATCHING for s in harness.statuses))


def photo_bytes(size: int = 5000) -> bytes:
    """A JPEG's start, filler, and its end marker (the watch looks for it)."""
    return b"\xff\xd8\xff\xe0" + bytes(range(256)) * (size // 256) + b"\xff\xd9"


# -- which files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "taken"),
    [
        ("IMG_0001.JPG", True),
        ("scan.tiff", True),
        ("DSC_1.NEF", True),
        ("a.jpeg", True),
        ("IMG_0001.jpg.part", False),
        ("IMG_0001.tmp", False),
        ("photo.jpg.crdownload", False),
        (".IMG_0001.jpg", False),
        ("~IMG_0001.jpg", False),
        ("IMG_0001.xmp", False),
        ("session.cosessiondb", False),
    ],
)
def test_a_watched_folder_takes_photos_by_name_and_waits_for_temporary_names(
    name: str, taken: bool
) -> None:
    assert is_candidate(f"/w/inbox/{name}", "/w/inbox") is taken


def test_nothing_in_hidden_or_junk_folders_is_taken() -> None:
    assert not is_candidate("/w/inbox/.cache/IMG_1.jpg", "/w/inbox")
    assert not is_candidate("/w/inbox/@eaDir/IMG_1.jpg", "/w/inbox")
    assert is_candidate("/w/inbox/Morgan 1921/IMG_1.jpg", "/w/inbox")


def test_the_first_folder_below_the_watched_one_names_the_item() -> None:
    assert folder_within("/w/inbox", "/w/inbox/IMG_1.jpg") == ""
    assert folder_within("/w/inbox", "/w/inbox/Morgan 1921/IMG_1.jpg") == "Morgan 1921"
    assert folder_within("/w/inbox", "/w/inbox/Morgan/obverse/IMG_1.jpg") == "Morgan/obverse"


MOUNTINFO = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:35 / /mnt/nas rw,relatime shared:20 - nfs4 nas:/photos rw,vers=4.2
41 22 0:36 / /media/me/My\\040Card rw,relatime shared:21 - vfat /dev/sdb1 rw
42 22 0:37 / /home/me/remote rw,nosuid shared:22 - fuse.sshfs me@host:/ rw
"""


def test_folders_on_network_drives_are_told_apart() -> None:
    assert network_file_system("/mnt/nas/coins", MOUNTINFO) == "nfs4"
    assert network_file_system("/home/me/remote/scans", MOUNTINFO) == "fuse.sshfs"
    assert network_file_system("/media/me/My Card/DCIM", MOUNTINFO) is None
    assert network_file_system("/home/me/photos", MOUNTINFO) is None


# -- what to do with a settled file ------------------------------------------------------------


def outcome(state: FileState, size: int = 10, mtime_ns: int = 5) -> FileOutcome:
    return FileOutcome(path=Path("/w/a.jpg"), state=state, size=size, mtime_ns=mtime_ns)


def row(state: FileState, *, size: int = 10, mtime_ns: int = 5, **extra: object) -> JournalRow:
    return JournalRow(
        row_id=1, path=Path("/w/a.jpg"), state=state, destination="d", bucket="b",
        queued_at=0.0, updated_at=0.0, size=size, mtime_ns=mtime_ns, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_file_nobody_knows_is_queued() -> None:
    assert decide((10, 5), None, None) is Decision.QUEUE


def test_a_file_on_its_way_is_looked_at_again_once_it_has_finished() -> None:
    assert decide((10, 5), outcome(FileState.UPLOADING), None) is Decision.LATER


def test_a_file_in_the_queue_is_left_to_the_collector_unless_it_changed() -> None:
    assert decide((10, 5), outcome(FileState.UPLOADED), None) is Decision.SKIP
    assert decide((10, 5), outcome(FileState.FAILED), None) is Decision.SKIP
    assert decide((99, 5), outcome(FileState.UPLOADED), None) is Decision.QUEUE
    assert decide((10, 6), outcome(FileState.FAILED), None) is Decision.QUEUE


def test_after_a_restart_only_what_an_earlier_run_did_not_finish_is_queued() -> None:
    assert decide((10, 5), None, row(FileState.UPLOADED)) is Decision.SKIP
    assert decide((10, 5), None, row(FileState.DUPLICATE)) is Decision.SKIP
    assert decide((10, 5), None, row(FileState.UPLOADING)) is Decision.QUEUE  # cut off
    assert decide((10, 5), None, row(FileState.CANCELLED)) is Decision.QUEUE
    assert decide((10, 5), None, row(FileState.FAILED)) is Decision.QUEUE  # may mend now
    assert decide((10, 5), None, row(FileState.FAILED, dismissed=True)) is Decision.SKIP
    assert decide((11, 5), None, row(FileState.UPLOADED)) is Decision.QUEUE  # changed since
    thumbnail_failed = row(FileState.UPLOADED, thumbnail_state=ThumbnailState.FAILED)
    assert decide((10, 5), None, thumbnail_failed) is Decision.QUEUE


# -- the watch, on real folders ---------------------------------------------------------------


@in_a_loop
async def test_a_file_copied_in_under_a_temporary_name_is_taken_once_renamed(
    tmp_path: Path,
) -> None:
    inbox = watched(tmp_path)
    harness = Harness([inbox])
    try:
        await started(harness)
        (inbox / "IMG_0002.jpg.part").write_bytes(photo_bytes())
        (inbox / "marker.jpg").write_bytes(photo_bytes())
        await harness.until(lambda: harness.watch.waiting == 1)  # the marker, not the .part
        await harness.later(TIMING.unclosed)
        assert harness.names() == ["marker.jpg"]
        (inbox / "IMG_0002.jpg.part").rename(inbox / "IMG_0002.jpg")
        await harness.taken(["IMG_0002.jpg", "marker.jpg"], TIMING.after_close, TIMING.settle)
        assert [e.folder for e in harness.queued] == ["", ""]
    finally:
        await harness.aclose()


@in_a_loop
async def test_a_file_still_being_written_waits_until_its_writer_closes_it(
    tmp_path: Path,
) -> None:
    inbox = watched(tmp_path)
    harness = Harness([inbox])
    try:
        await started(harness)
        half = photo_bytes(50_000)
        with open(inbox / "IMG_0003.CR3", "wb") as writer:
            writer.write(half)
            writer.flush()
            await harness.until(lambda: harness.watch.waiting == 1)
            await harness.later(TIMING.settle * 3)  # a long pause of the writer
            assert harness.queued == []
            writer.write(half)
        await harness.taken(["IMG_0003.CR3"], TIMING.after_close, TIMING.settle)
        assert harness.sizes_when_queued == {"IMG_0003.CR3": 2 * len(half)}
    finally:
        await harness.aclose()


@in_a_loop
async def test_a_closed_file_is_taken_once_it_stayed_the_same_for_the_time_said(
    tmp_path: Path,
) -> None:
    """Half a second after its writer closed it (here: TIMING.after_close), not twice
    that: the quiet time counts from the last event, and a second look confirms it."""
    inbox = watched(tmp_path)
    harness = Harness([inbox])
    try:
        await started(harness)
        (inbox / "IMG_0008.jpg").write_bytes(photo_bytes())
        await harness.until(lambda: harness.watch.waiting == 1)
        await harness.taken(["IMG_0008.jpg"], TIMING.after_close / 2, TIMING.after_close + 0.01)
    finally:
        await harness.aclose()


@in_a_loop
async def test_a_photo_moved_in_from_another_folder_is_whole_at_once(tmp_path: Path) -> None:
    """`mv ~/Desktop/x.jpg Inbox/` is a rename into place too: no 30 s wait."""
    inbox = watched(tmp_path)
    elsewhere = tmp_path / "Desktop"
    elsewhere.mkdir()
    (elsewhere / "IMG_0009.jpg").write_bytes(photo_bytes())
    harness = Harness([inbox])
    try:
        await started(harness)
        (elsewhere / "IMG_0009.jpg").rename(inbox / "IMG_0009.jpg")
        await harness.until(lambda: harness.watch.waiting == 1)
        await harness.taken(["IMG_0009.jpg"], TIMING.after_close / 2, TIMING.after_close + 0.01)
    finally:
        await harness.aclose()


@in_a_loop
async def test_a_folder_whose_parent_is_renamed_is_watched_again_once_it_is_back(
    tmp_path: Path,
) -> None:
    """An unplugged card, or a renamed parent, sends no event for the watched folder
    itself: the watch finds out on its own, says the folder is missing, and watches the
    folder anew once one is there again."""
    card = tmp_path / "card" / "DCIM"
    card.mkdir(parents=True)
    harness = Harness([card])
    try:
        await started(harness)
        (tmp_path / "card").rename(tmp_path / "card-old")
        harness.clock.now += 2 * TIMING.recheck_missing
        await harness.until(lambda: harness.statuses[-1].event is WatchEvent.MISSING)
        card.mkdir(parents=True)
        (card / "IMG_0010.jpg").write_bytes(photo_bytes())
        harness.clock.now += 2 * TIMING.recheck_missing
        await harness.until(lambda: harness.statuses[-1].event is WatchEvent.WATCHING)
        await harness.taken(["IMG_0010.jpg"], TIMING.after_close, TIMING.settle)
    finally:
        await harness.aclose()


def test_nested_folders_are_watched_once_through_the_outermost() -> None:
    assert outermost([Path("/p/scans"), Path("/p"), Path("/q"), Path("/p")]) == [
        Path("/p"),
        Path("/q"),
    ]


@in_a_loop
async def test_a_watch_that_broke_off_still_closes_quietly(tmp_path: Path) -> None:
    inbox = watched(tmp_path)
    harness = Harness([inbox])

    async def broken(_paths: object) -> object:
        raise ValueError("a bug in the lookup")

    harness.watch._lookup = broken  # type: ignore[assignment]
    try:
        await started(harness)
        (inbox / "IMG_0011.jpg").write_bytes(photo_bytes())
        await harness.until(lambda: harness.watch.waiting == 1)
        harness.clock.now += TIMING.settle
        await harness.until(lambda: harness.statuses[-1].event is WatchEvent.FAILED)
    finally:
        await harness.aclose()  # does not raise: the engine's close goes on


def test_a_stopped_source_starts_no_observer(tmp_path: Path) -> None:
    """A folder whose watch was being set up while the watch closed must not leave an
    observer running that feeds a watch nobody has any more."""
    source = WatchdogSource(poll_interval=0.1)
    source.stop()
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(OSError):
        source.watch(str(tmp_path), polled=False, hear=lambda _heard: None)
    assert {t.name for t in threading.enumerate()} == before


@in_a_loop
async def test_a_jpeg_written_in_bursts_waits_for_its_end(tmp_path: Path) -> None:
    """A program that closes the file between bursts: each close looks like the end, but
    a JPEG without its end marker is not taken until it has one (or stays so for long).
    (Found trying the app: three half-written copies of one photo were uploaded.)"""
    inbox = watched(tmp_path)
    whole = photo_bytes(30_000)
    photo = inbox / "IMG_0007.jpg"
    harness = Harness([inbox])
    try:
        await started(harness)
        for burst in range(2):  # two thirds of it, each burst closed
            with open(photo, "ab") as writer:
                writer.write(whole[burst * 10_000 : (burst + 1) * 10_000])
            await harness.until(lambda: harness.watch.waiting == 1)
            await harness.later(TIMING.settle)
            assert harness.queued == []
        with open(photo, "ab") as writer:
            writer.write(whole[20_000:])
        await harness.taken(["IMG_0007.jpg"], TIMING.after_close, TIMING.settle)
        assert harness.sizes_when_queued == {"IMG_0007.jpg": len(whole)}
    finally:
        await harness.aclose()


@in_a_loop
async def test_a_jpeg_that_never_gets_its_end_is_taken_after_long_all_the_same(
    tmp_path: Path,
) -> None:
    inbox = watched(tmp_path)
    harness = Harness([inbox])
    try:
        await started(harness)
        (inbox / "cut.jpg").write_bytes(photo_bytes()[:-2])  # a card read cut short
        await harness.until(lambda: harness.watch.waiting == 1)
        await harness.later(TIMING.settle)
        assert harness.queued == []
        await harness.taken(["cut.jpg"], TIMING.settle, TIMING.unclosed * 2)
    finally:
        await harness.aclose()


def test_a_jpeg_or_png_has_its_end_or_not(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(photo_bytes())
    (tmp_path / "padded.JPG").write_bytes(photo_bytes() + b"\x00" * 8)
    (tmp_path / "cut.jpg").write_bytes(photo_bytes()[:-2])
    (tmp_path / "raw.cr3").write_bytes(b"\x00" * 100)
    assert has_its_end(str(tmp_path / "a.jpg"))
    assert has_its_end(str(tmp_path / "padded.JPG"))
    assert not has_its_end(str(tmp_path / "cut.jpg"))
    assert has_its_end(str(tmp_path / "raw.cr3"))  # nothing to look for
    motion = b'\xff\xd8<x:xmpmeta GCamera:MotionPhoto="1"/>' + photo_bytes() + b"ftypmp42"
    (tmp_path / "PXL_motion.jpg").write_bytes(motion)  # a video after the JPEG's end
    assert has_its_end(str(tmp_path / "PXL_motion.jpg"))


@in_a_loop
async def test_a_file_held_open_and_unchanged_for_long_is_taken_after_all(
    tmp_path: Path,
) -> None:
    """A writer that never closes (or a hard link, which sends no close) still gets its
    file uploaded once it has stayed the same for a long while."""
    inbox = watched(tmp_path)
    harness = Harness([inbox])
    try:
        await started(harness)
        with open(inbox / "IMG_0004.jpg", "wb") as writer:
            writer.write(photo_bytes())
            writer.flush()
            await harness.until(lambda: harness.watch.waiting == 1)
            await harness.later(TIMING.settle * 3)
            assert harness.queued == []
            await harness.taken(["IMG_0004.jpg"], TIMING.settle, TIMING.unclosed * 2)
    finally:
        await harness.aclose()


@in_a_loop
async def test_a_folder_moved_in_is_taken_with_its_name_as_the_item(tmp_path: Path) -> None:
    inbox = watched(tmp_path)
    elsewhere = tmp_path / "Morgan 1921"
    elsewhere.mkdir()
    (elsewhere / "obverse.jpg").write_bytes(photo_bytes())
    (elsewhere / "reverse.jpg").write_bytes(photo_bytes())
    (elsewhere / "notes.txt").write_text("not a photo")
    harness = Harness([inbox])
    try:
        await started(harness)
        elsewhere.rename(inbox / "Morgan 1921")
        await harness.until(lambda: harness.watch.waiting == 2)
        await harness.taken(["obverse.jpg", "reverse.jpg"], TIMING.after_close, TIMING.settle)
        assert {e.folder for e in harness.queued} == {"Morgan 1921"}
    finally:
        await harness.aclose()


@in_a_loop
async def test_at_start_what_the_folder_holds_is_queued_unless_done_already(
    tmp_path: Path,
) -> None:
    """Files added while nothing watched are picked up; one an earlier run uploaded,
    unchanged since, is not sent again."""
    inbox = watched(tmp_path)
    done, added = inbox / "done.jpg", inbox / "added-while-closed.jpg"
    done.write_bytes(photo_bytes())
    added.write_bytes(photo_bytes())
    st = done.stat()
    journal = {done: row(FileState.UPLOADED, size=st.st_size, mtime_ns=st.st_mtime_ns)}
    harness = Harness([inbox], journal)
    try:
        await started(harness)
        await harness.until(lambda: harness.watch.waiting == 2)
        await harness.taken(["added-while-closed.jpg"], TIMING.after_close, TIMING.settle)
        await harness.until(lambda: harness.watch.waiting == 0)
    finally:
        await harness.aclose()


@in_a_loop
async def test_a_file_changed_while_its_upload_runs_is_queued_again_once_that_is_over(
    tmp_path: Path,
) -> None:
    inbox = watched(tmp_path)
    photo = inbox / "IMG_0005.jpg"
    harness = Harness([inbox])
    try:
        await started(harness)
        photo.write_bytes(photo_bytes())
        await harness.taken(["IMG_0005.jpg"], TIMING.after_close, TIMING.settle)
        st = photo.stat()
        harness.in_queue[photo] = outcome(FileState.UPLOADING, st.st_size, st.st_mtime_ns)
        photo.write_bytes(photo_bytes(9000))  # a second version while the first uploads
        await harness.until(lambda: harness.watch.waiting == 1)
        await harness.later(TIMING.settle)
        assert len(harness.queued) == 1 and harness.watch.waiting == 1  # later, not now
        harness.in_queue[photo] = outcome(FileState.UPLOADED, st.st_size, st.st_mtime_ns)
        await harness.taken(["IMG_0005.jpg"] * 2, TIMING.after_close, TIMING.settle)
    finally:
        await harness.aclose()


@in_a_loop
async def test_a_folder_that_is_not_there_is_watched_once_it_appears(tmp_path: Path) -> None:
    card = tmp_path / "card" / "DCIM"
    harness = Harness([card])
    try:
        harness.watch.start()
        await harness.until(lambda: bool(harness.statuses))
        assert harness.statuses[0].event is WatchEvent.MISSING
        assert "is not there" in harness.statuses[0].describe()
        card.mkdir(parents=True)
        (card / "IMG_0006.jpg").write_bytes(photo_bytes())
        harness.clock.now += 2 * TIMING.recheck_missing
        await harness.until(lambda: harness.statuses[-1].event is WatchEvent.WATCHING, 20)
        await harness.taken(["IMG_0006.jpg"], TIMING.after_close, TIMING.settle)
    finally:
        await harness.aclose()


@in_a_loop
async def test_a_polled_folder_takes_a_file_once_it_stays_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Network drives send no events for changes made elsewhere: they are polled, and
    a file counts as complete once unchanged for a few seconds."""
    monkeypatch.setenv(FORCE_POLLING_ENV, "1")
    inbox = watched(tmp_path)
    harness = Harness([inbox])
    try:
        await started(harness)
        assert harness.statuses[-1].polled
        assert "looked at every few seconds" in harness.statuses[-1].describe()
        (inbox / "scan_001.tif").write_bytes(b"II*\x00" + bytes(4000))
        await harness.until(lambda: harness.watch.waiting == 1)
        await harness.later(TIMING.after_close)
        assert harness.queued == []  # a polled file needs longer than a closed one
        await harness.taken(["scan_001.tif"], TIMING.after_close, TIMING.settle * 3)
    finally:
        await harness.aclose()
