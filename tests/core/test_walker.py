"""Walking dropped files and folders: order, junk, links, special files, batching."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core import walker
from app.core.walker import WalkEntry, walk_paths_in_batches

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX file types")


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def walk(*paths: Path) -> list[WalkEntry]:
    """Everything the app's walk yields for `paths`, in order (batches joined)."""

    async def collect() -> list[WalkEntry]:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return [e async for batch in walk_paths_in_batches(paths, pool) for e in batch]

    return asyncio.run(collect())


def good(entries: list[WalkEntry]) -> list[Path]:
    return [entry.path for entry in entries if entry.problem is None]


def problems(entries: list[WalkEntry]) -> dict[Path, str]:
    return {entry.path: entry.problem for entry in entries if entry.problem is not None}


@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


# --- plain walks ----------------------------------------------------------------------


def test_nested_folders_in_natural_order(tmp_path: Path) -> None:
    for name in [
        "IMG_10.jpg",
        "IMG_2.jpg",
        "img_1.jpg",
        "b/z.jpg",
        "a/2/x.jpg",
        "a/1.jpg",
        "notes.txt",
    ]:
        touch(tmp_path / name)
    assert good(walk(tmp_path)) == [
        tmp_path / "a" / "1.jpg",
        tmp_path / "a" / "2" / "x.jpg",
        tmp_path / "b" / "z.jpg",
        tmp_path / "img_1.jpg",
        tmp_path / "IMG_2.jpg",
        tmp_path / "IMG_10.jpg",
        tmp_path / "notes.txt",  # not filtered by extension: the engine explains it
    ]


def test_explicit_files_come_as_given_and_in_order(tmp_path: Path) -> None:
    second = touch(tmp_path / "b.jpg")
    first = touch(tmp_path / "a.jpg")
    assert walk(second, first) == [WalkEntry(second), WalkEntry(first)]


def test_dotfiles_and_junk_are_skipped_silently_in_folders(tmp_path: Path) -> None:
    keep = touch(tmp_path / "coin.jpg")
    for junk in [
        ".DS_Store",
        "._coin.jpg",
        ".git/objects/ab",
        ".thumbnails/coin.jpg",
        "Thumbs.db",
        "desktop.ini",
        "@eaDir/coin.jpg/SYNOPHOTO_THUMB_XL.jpg",
        "__MACOSX/._coin.jpg",
    ]:
        touch(tmp_path / junk)
    assert walk(tmp_path) == [WalkEntry(keep)]


def test_an_explicitly_dropped_dotfile_is_still_reported(tmp_path: Path) -> None:
    hidden = touch(tmp_path / ".hidden.jpg")
    hidden_folder = touch(tmp_path / ".photos" / "coin.jpg")
    assert good(walk(hidden, tmp_path / ".photos")) == [hidden, hidden_folder]


def test_missing_path_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "gone.jpg"
    assert walk(missing) == [WalkEntry(missing, "This path does not exist.")]


def test_bad_input_never_raises(tmp_path: Path) -> None:
    entries = walk(Path("a\x00b"), tmp_path / ("x" * 5000))
    assert [entry.problem is not None for entry in entries] == [True, True]
    assert entries[0].problem == "This path is not valid."


def test_the_same_file_is_listed_once(tmp_path: Path) -> None:
    photo = touch(tmp_path / "coin.jpg")
    assert walk(photo, tmp_path, photo, tmp_path) == [WalkEntry(photo)]


def test_an_empty_folder_gives_nothing(tmp_path: Path) -> None:
    assert walk(tmp_path) == []


# --- links ----------------------------------------------------------------------------


@posix_only
def test_symlinks_to_files_are_followed_once(tmp_path: Path) -> None:
    photo = touch(tmp_path / "real" / "coin.jpg")
    outside = touch(tmp_path / "outside.jpg")
    (tmp_path / "real" / "link.jpg").symlink_to(photo)
    (tmp_path / "real" / "other.jpg").symlink_to(outside)
    assert good(walk(tmp_path / "real")) == [photo, tmp_path / "real" / "other.jpg"]


@posix_only
def test_a_symlink_loop_to_an_ancestor_is_cut_silently(tmp_path: Path) -> None:
    photo = touch(tmp_path / "top" / "sub" / "coin.jpg")
    (tmp_path / "top" / "sub" / "back").symlink_to(tmp_path / "top")
    (tmp_path / "top" / "self").symlink_to(".")
    assert walk(tmp_path / "top") == [WalkEntry(photo)]


@posix_only
def test_symlinked_folders_are_followed(tmp_path: Path) -> None:
    photo = touch(tmp_path / "elsewhere" / "coin.jpg")
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "linked").symlink_to(tmp_path / "elsewhere")
    assert walk(tmp_path / "drop") == [WalkEntry(tmp_path / "drop" / "linked" / "coin.jpg")]
    assert photo.exists()


@posix_only
def test_broken_symlink_is_reported(tmp_path: Path) -> None:
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "deleted.jpg")
    expected = {tmp_path / "dangling.jpg": "This link points to a file that no longer exists."}
    assert problems(walk(tmp_path)) == expected
    assert problems(walk(tmp_path / "dangling.jpg")) == expected


@posix_only
def test_self_referencing_link_is_reported(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    expected = {tmp_path / "loop": "This link points to itself or forms a loop."}
    assert problems(walk(tmp_path)) == expected
    assert problems(walk(tmp_path / "loop")) == expected


# --- special files --------------------------------------------------------------------


@posix_only
def test_fifo_is_reported_without_being_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")  # opening it for reading would block forever
    expected = {tmp_path / "pipe.jpg": "This is not a regular file (a named pipe)."}
    assert problems(walk(tmp_path)) == expected
    assert problems(walk(tmp_path / "pipe.jpg")) == expected


@posix_only
def test_socket_is_reported(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "s"
    if len(os.fsencode(path)) > 100:
        pytest.skip("temporary path too long for a Unix socket")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(os.fspath(path))
        assert problems(walk(path)) == {path: "This is not a regular file (a socket)."}


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null on this system")
def test_device_file_is_reported() -> None:
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert walk(Path("/dev/null")) == [
        WalkEntry(Path("/dev/null"), "This is a device file, not a photo.")
    ]


# --- unreadable folders ---------------------------------------------------------------


@posix_only
@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root reads folders whatever their mode; the scandir-patching test covers it",
)
def test_unreadable_folder_is_reported(tmp_path: Path) -> None:
    photo = touch(tmp_path / "ok" / "coin.jpg")
    locked = tmp_path / "locked"
    touch(locked / "secret.jpg")
    locked.chmod(0)
    try:
        entries = walk(tmp_path)
    finally:
        locked.chmod(0o755)
    assert entries == [
        WalkEntry(locked, "The folder could not be read: permission denied."),
        WalkEntry(photo),
    ]


def test_folder_that_cannot_be_listed_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = touch(tmp_path / "ok" / "coin.jpg")
    locked = tmp_path / "locked"
    touch(locked / "secret.jpg")
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(walker.os, "scandir", scandir)
    assert walk(tmp_path) == [
        WalkEntry(locked, "The folder could not be read: permission denied."),
        WalkEntry(photo),
    ]
    assert walk(locked) == [WalkEntry(locked, "The folder could not be read: permission denied.")]


# --- batches off the event loop -------------------------------------------------------


def test_ten_thousand_files_in_batches_without_blocking_the_loop(
    tmp_path: Path, executor: concurrent.futures.Executor
) -> None:
    for folder in range(20):
        sub = tmp_path / f"roll{folder:02d}"
        sub.mkdir()
        for index in range(500):
            (sub / f"IMG_{index:04d}.jpg").touch()

    async def main() -> tuple[list[list[WalkEntry]], list[int], set[int]]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        loop_thread = threading.get_ident()
        walking_threads: set[int] = set()
        real_scandir = os.scandir

        def scandir(path: str) -> object:
            walking_threads.add(threading.get_ident())
            return real_scandir(path)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(walker.os, "scandir", scandir)
            task = asyncio.create_task(ticker())
            await asyncio.sleep(0)
            batches: list[list[WalkEntry]] = []
            ticks_at_batch: list[int] = []
            async for batch in walk_paths_in_batches([tmp_path], executor, batch_size=100):
                batches.append(batch)
                ticks_at_batch.append(ticks)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert loop_thread not in walking_threads
        return batches, ticks_at_batch, walking_threads

    batches, ticks_at_batch, walking_threads = asyncio.run(main())
    assert walking_threads
    entries = [entry for batch in batches for entry in batch]
    assert len(entries) == 10_000
    assert all(entry.problem is None for entry in entries)
    assert entries == walk(tmp_path)  # the same order, whatever the batch size
    assert len(batches) >= 100
    assert all(0 < len(batch) <= 100 for batch in batches)
    # The loop kept running while every batch was being produced.
    assert all(later > earlier for earlier, later in itertools.pairwise(ticks_at_batch))


def test_cancelling_the_consumer_stops_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in range(10):
        touch(tmp_path / f"f{folder}" / "coin.jpg")
    entered = threading.Event()
    release = threading.Event()
    listed: list[str] = []
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        listed.append(path)
        if len(listed) == 2:  # the first subfolder: hold the walk here
            entered.set()
            release.wait()
        return real_scandir(path)

    monkeypatch.setattr(walker.os, "scandir", scandir)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    async def main() -> None:
        async def consume() -> None:
            async for _batch in walk_paths_in_batches([tmp_path], pool, batch_size=1000):
                pass

        task = asyncio.create_task(consume())
        await asyncio.get_running_loop().run_in_executor(None, entered.wait)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()

    try:
        asyncio.run(main())
    finally:
        release.set()
        pool.shutdown(wait=True)
    # The held listing finished, then the walk noticed the stop before the next folder.
    assert len(listed) == 2


def test_breaking_out_early_with_aclosing(
    tmp_path: Path, executor: concurrent.futures.Executor
) -> None:
    for index in range(50):
        touch(tmp_path / f"{index}.jpg")

    async def main() -> list[WalkEntry]:
        batches = walk_paths_in_batches([tmp_path], executor, batch_size=10)
        async with contextlib.aclosing(batches):
            async for batch in batches:
                return batch
        return []

    assert len(asyncio.run(main())) == 10


def test_problems_and_files_travel_together_in_batches(
    tmp_path: Path, executor: concurrent.futures.Executor
) -> None:
    photo = touch(tmp_path / "coin.jpg")

    async def main() -> list[WalkEntry]:
        return [
            entry
            async for batch in walk_paths_in_batches([photo, tmp_path / "gone"], executor)
            for entry in batch
        ]

    assert asyncio.run(main()) == [
        WalkEntry(photo),
        WalkEntry(tmp_path / "gone", "This path does not exist."),
    ]


def test_batch_size_must_be_positive(executor: concurrent.futures.Executor) -> None:
    async def main() -> None:
        async for _batch in walk_paths_in_batches([], executor, batch_size=0):
            pass

    with pytest.raises(ValueError, match="batch_size"):
        asyncio.run(main())


def test_each_file_knows_its_folder_from_the_dropped_folder_down(tmp_path: Path) -> None:
    """For its metadata sidecar: never the path above what was dropped."""
    (tmp_path / "Coins" / "1921").mkdir(parents=True)
    for name in ("Coins/1921/obverse.jpg", "Coins/loose.jpg", "single.jpg"):
        (tmp_path / name).write_bytes(b"x")
    found = list(walker._walk([tmp_path / "Coins", tmp_path / "single.jpg"], None))
    assert {entry.path.name: entry.folder for entry in found} == {
        "obverse.jpg": "Coins/1921",
        "loose.jpg": "Coins",
        "single.jpg": "",
    }
