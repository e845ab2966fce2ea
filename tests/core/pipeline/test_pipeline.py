"""The pipeline's rules, run against an in-memory store: what a collector would see per file."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import json
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.core.config import EngineSettings
from app.core.errors import StoreError
from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.core.pipeline import UploadPipeline
from app.core.pipeline.stages import CHANGED_WHILE_THUMBNAILING
from app.core.policy import needs_retry
from app.core.retry import RetryPolicy
from app.core.store import index_key
from app.core.thumbnails import (
    Derivatives,
    PreviewSpec,
    ThumbnailError,
    ThumbnailSpec,
    make_derivatives,
)
from app.core.walker import WalkEntry
from tests.helpers import corpus
from tests.helpers.fakes import FakeStore


def run(coro_fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(coro_fn())


class Harness:
    """A pipeline over a FakeStore with its own pools, recording every snapshot delivered."""

    def __init__(
        self,
        store: FakeStore,
        concurrency: int = 4,
        thumbnailer: Any = make_derivatives,
        settings: EngineSettings | None = None,
    ):
        self.store = store
        self.io = ThreadPoolExecutor(8)
        self.cpu = ThreadPoolExecutor(2)
        self.pipeline = UploadPipeline(
            store,
            settings or EngineSettings(concurrency=concurrency),
            prefix="coins/",
            io_executor=self.io,
            cpu_executor=self.cpu,
            thumbnailer=thumbnailer,
            flush_interval=0.001,
        )
        self.seen: list[FileSnapshot] = []
        self.pipeline.add_observer(self._record)

    def _record(self, snaps: Sequence[FileSnapshot]) -> None:
        self.seen.extend(snaps)

    async def upload(self, *paths: Path) -> dict[str, FileSnapshot]:
        self.pipeline.add_paths(list(paths))
        await self.pipeline.wait_idle()
        return self.final()

    def final(self) -> dict[str, FileSnapshot]:
        return {s.path.name: s for s in self.pipeline.snapshots()}

    async def close(self) -> None:
        await self.pipeline.aclose()
        self.io.shutdown()
        self.cpu.shutdown()


def upload_once(store: FakeStore, *paths: Path, **harness: Any) -> dict[str, FileSnapshot]:
    """One pipeline session: upload `paths`, wait for every fate, close."""

    async def go() -> dict[str, FileSnapshot]:
        h = Harness(store, **harness)
        try:
            return await h.upload(*paths)
        finally:
            await h.close()

    return run(go)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_good_photo_uploads_original_byte_for_byte_and_thumbnail_beside_it(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "Münze 1923.jpg", (800, 600))
    store = FakeStore()

    snap = upload_once(store, photo)["Münze 1923.jpg"]
    digest = sha(photo)
    assert snap.state is FileState.UPLOADED
    assert snap.thumbnail_state is ThumbnailState.GENERATED
    assert snap.key == f"coins/Münze 1923-{digest[:8]}.jpg"
    assert snap.thumbnail_key == f"coins/thumbnails/Münze 1923-{digest[:8]}.jpg"
    assert store.objects[snap.key].data == photo.read_bytes()
    assert store.objects[snap.key].content_type == "image/jpeg"
    assert store.objects[snap.thumbnail_key].content_type == "image/jpeg"
    assert snap.sha256 == digest and snap.size == photo.stat().st_size
    assert snap.error is None and snap.thumbnail_error is None
    assert index_key(digest) in store.objects


def test_extension_follows_content_not_name(tmp_path: Path) -> None:
    fake_png = corpus.jpeg_photo(tmp_path / "scan.png")
    store = FakeStore()

    snap = upload_once(store, fake_png)["scan.png"]
    assert snap.key is not None and snap.key.endswith(".jpg")
    assert snap.content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (corpus.zero_byte, "empty"),
        (corpus.text_named_jpg, "not a supported image"),
    ],
)
def test_non_images_fail_with_plain_reason_and_nothing_uploaded(
    tmp_path: Path, make: Callable[[Path], Path], words: str
) -> None:
    bad = make(tmp_path / "bad.jpg")
    store = FakeStore()

    snap = upload_once(store, bad)["bad.jpg"]
    assert snap.state is FileState.FAILED
    assert snap.thumbnail_state is ThumbnailState.SKIPPED
    assert snap.error is not None and words in snap.error
    assert snap.key is None
    assert store.objects == {}


def test_undecodable_image_still_uploads_original_with_failed_thumbnail(tmp_path: Path) -> None:
    broken = corpus.truncated_jpeg(tmp_path / "cut.jpg")
    store = FakeStore()

    snap = upload_once(store, broken)["cut.jpg"]
    assert snap.state is FileState.UPLOADED
    assert snap.thumbnail_state is ThumbnailState.FAILED
    assert snap.thumbnail_error and "only part of the image" in snap.thumbnail_error.lower()
    assert snap.key is not None and store.objects[snap.key].data == broken.read_bytes()
    assert snap.thumbnail_key is None
    assert store.photo_keys() == [snap.key]


def test_same_content_in_one_batch_is_sent_once(tmp_path: Path) -> None:
    first = corpus.jpeg_photo(tmp_path / "a.jpg")
    second = tmp_path / "b.jpg"
    second.write_bytes(first.read_bytes())
    store = FakeStore()

    snaps = upload_once(store, first, second, concurrency=4)
    states = sorted(s.state.value for s in snaps.values())
    assert states == ["duplicate", "uploaded"]
    dup = next(s for s in snaps.values() if s.state is FileState.DUPLICATE)
    original = next(s for s in snaps.values() if s.state is FileState.UPLOADED)
    assert dup.key == original.key
    assert dup.thumbnail_state is ThumbnailState.SKIPPED
    assert store.calls["upload"] == 1


def test_second_computer_with_empty_state_sees_duplicates_and_writes_nothing(
    tmp_path: Path,
) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    renamed = tmp_path / "other" / "same coin.jpg"
    renamed.parent.mkdir()
    renamed.write_bytes(photo.read_bytes())
    store = FakeStore()

    upload_once(store, photo)  # the first computer
    objects_before = dict(store.objects)
    writes_before = store.calls["upload"] + store.calls["put"] + store.calls["record"]
    snap = upload_once(store, renamed)["same coin.jpg"]  # a second one, empty state
    assert snap.state is FileState.DUPLICATE
    assert snap.key == f"coins/coin-{sha(photo)[:8]}.jpg"
    assert snap.thumbnail_key is not None and snap.thumbnail_key in store.objects
    assert store.objects == objects_before
    assert store.calls["upload"] + store.calls["put"] + store.calls["record"] == writes_before


def test_index_pointing_at_deleted_object_is_not_a_duplicate(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()

    key = upload_once(store, photo)["coin.jpg"].key
    assert key is not None
    del store.objects[key]  # someone deleted the photo from the bucket
    again = upload_once(store, photo)["coin.jpg"]
    assert again.state is FileState.UPLOADED
    assert key in store.objects


def test_a_small_original_is_sent_while_its_thumbnail_is_made(tmp_path: Path) -> None:
    """Its first bytes need not wait for thumbnails (of it, and of the files started with
    it): here the thumbnail can be made only once the original is on its way."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    sending = threading.Event()
    store.hooks["upload"] = lambda _key: sending.set()

    def after_the_original_started(
        path: Path, spec: ThumbnailSpec, preview: PreviewSpec | None
    ) -> Derivatives:
        if not sending.wait(10):
            raise ThumbnailError("the original was not on its way")
        return make_derivatives(path, spec, preview)

    snap = upload_once(store, photo, thumbnailer=after_the_original_started)["coin.jpg"]
    assert (snap.state, snap.thumbnail_state) == (FileState.UPLOADED, ThumbnailState.GENERATED)
    assert store.objects[snap.key].data == photo.read_bytes()
    assert snap.thumbnail_key in store.objects


def _touched_once_the_original_landed(
    touch: Callable[[Path], object],
) -> tuple[FakeStore, Callable[..., Derivatives]]:
    """A store and a thumbnailer that makes the thumbnail, waits until the original is
    in the bucket, then does `touch` to the file (an edit, a deletion) before returning."""
    landed = threading.Event()

    class TellsWhenSent(FakeStore):
        def _upload(self, *args: Any) -> None:
            super()._upload(*args)
            landed.set()

    def touched_meanwhile(
        path: Path, spec: ThumbnailSpec, preview: PreviewSpec | None
    ) -> Derivatives:
        made = make_derivatives(path, spec, preview)
        if not landed.wait(10):
            raise ThumbnailError("the original did not land")
        touch(path)
        return made

    return TellsWhenSent(), touched_meanwhile


def test_a_thumbnail_made_from_a_file_that_changed_meanwhile_is_not_kept(tmp_path: Path) -> None:
    """The original went as hashed; the file was edited while its thumbnail was being
    made, so that thumbnail may show the new version: it is not stored at the old
    content's key, and the file says why."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    original = photo.read_bytes()
    # The collector saves an edit (of another size).
    store, edited_meanwhile = _touched_once_the_original_landed(
        lambda path: corpus.jpeg_photo(path, (90, 60))
    )
    snap = upload_once(store, photo, thumbnailer=edited_meanwhile)["coin.jpg"]
    assert (snap.state, snap.thumbnail_state) == (FileState.UPLOADED, ThumbnailState.FAILED)
    assert snap.thumbnail_error == CHANGED_WHILE_THUMBNAILING
    assert store.objects[snap.key].data == original
    assert store.photo_keys() == [snap.key]  # no thumbnail
    sidecar = json.loads(store.objects[f"{snap.key}.json"].data)
    assert sidecar["derivatives"]["thumbnail"] is None


def test_a_thumbnail_of_a_file_deleted_meanwhile_says_it_is_gone(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    # Tidied away while its thumbnail was being made.
    store, deleted_meanwhile = _touched_once_the_original_landed(Path.unlink)
    snap = upload_once(store, photo, thumbnailer=deleted_meanwhile)["coin.jpg"]
    assert (snap.state, snap.thumbnail_state) == (FileState.UPLOADED, ThumbnailState.FAILED)
    assert snap.thumbnail_error == "The file is no longer there (moved, renamed or deleted)."
    assert store.photo_keys() == [snap.key]


def test_retry_after_failed_original_does_not_remake_thumbnail(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    store.fail_next["upload"] = 1
    thumbnails_made: list[Path] = []

    def counting_thumbnailer(
        path: Path, spec: ThumbnailSpec, preview: PreviewSpec | None
    ) -> Derivatives:
        thumbnails_made.append(path)
        return make_derivatives(path, spec, preview)

    async def go() -> tuple[FileSnapshot, FileSnapshot]:
        h = Harness(store, thumbnailer=counting_thumbnailer)
        try:
            first = (await h.upload(photo))["coin.jpg"]
            assert h.pipeline.retry_failed()
            await h.pipeline.wait_idle()
            return first, h.final()["coin.jpg"]
        finally:
            await h.close()

    first, second = run(go)
    assert first.state is FileState.FAILED
    assert first.error is not None and "Cannot reach the storage server" in first.error
    assert first.thumbnail_state is ThumbnailState.SKIPPED
    assert second.state is FileState.UPLOADED
    assert second.thumbnail_state is ThumbnailState.GENERATED
    assert len(thumbnails_made) == 1
    assert store.calls["upload"] == 2


def test_retry_after_failed_thumbnail_upload_does_not_resend_original(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    store.fail_next["put"] = 1

    async def go() -> tuple[FileSnapshot, FileSnapshot]:
        h = Harness(store)
        try:
            first = (await h.upload(photo))["coin.jpg"]
            h.pipeline.retry_failed()
            await h.pipeline.wait_idle()
            return first, h.final()["coin.jpg"]
        finally:
            await h.close()

    first, second = run(go)
    assert first.state is FileState.UPLOADED
    assert first.thumbnail_state is ThumbnailState.FAILED
    assert first.thumbnail_error and "thumbnail could not be uploaded" in first.thumbnail_error
    assert second.thumbnail_state is ThumbnailState.GENERATED
    assert second.thumbnail_key in store.objects
    assert store.calls["upload"] == 1


def upload_then_retry_failed(
    store: FakeStore, photo: Path, attempts: list[int]
) -> tuple[FileSnapshot, FileSnapshot]:
    """One session whose thumbnailer fails its first call: the upload, then Retry failed.
    Returns the file's snapshot after each; `attempts` counts the thumbnailer's calls."""

    def fails_once(path: Path, spec: ThumbnailSpec, preview: PreviewSpec | None) -> Derivatives:
        attempts.append(1)
        if len(attempts) == 1:
            raise ThumbnailError("There was not enough memory to make the thumbnail.")
        return make_derivatives(path, spec, preview)

    async def go() -> tuple[FileSnapshot, FileSnapshot]:
        h = Harness(store, thumbnailer=fails_once)
        try:
            first = (await h.upload(photo))[photo.name]
            h.pipeline.retry_failed()
            await h.pipeline.wait_idle()
            return first, h.final()[photo.name]
        finally:
            await h.close()

    return run(go)


def test_retry_regenerates_a_failed_thumbnail_only(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    attempts: list[int] = []
    first, second = upload_then_retry_failed(store, photo, attempts)
    assert (first.state, first.thumbnail_state) == (FileState.UPLOADED, ThumbnailState.FAILED)
    assert (second.state, second.thumbnail_state) == (FileState.UPLOADED, ThumbnailState.GENERATED)
    assert store.calls["upload"] == 1
    assert len(attempts) == 2


def test_problem_entries_from_the_walk_fail_with_their_reason(tmp_path: Path) -> None:
    store = FakeStore()

    async def go() -> list[FileSnapshot]:
        h = Harness(store)
        try:
            h.pipeline.enqueue([WalkEntry(tmp_path / "fifo", "This is not a regular file.")])
            await h.pipeline.wait_idle()
            return h.pipeline.snapshots()
        finally:
            await h.close()

    (snap,) = run(go)
    assert snap.state is FileState.FAILED
    assert snap.error == "This is not a regular file."
    assert snap.thumbnail_state is ThumbnailState.SKIPPED


def test_cancel_stops_a_running_upload_and_close_does_not_hang(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore(gate=threading.Event())

    async def go() -> FileSnapshot:
        h = Harness(store)
        try:
            (file_id,) = h.pipeline.enqueue([WalkEntry(photo)])
            while (snap := h.pipeline.snapshot(file_id)) and snap.state is not FileState.UPLOADING:
                await asyncio.sleep(0.001)
            h.pipeline.cancel([file_id])
            await h.pipeline.wait_idle()
            result = h.pipeline.snapshot(file_id)
            assert result is not None
            return result
        finally:
            store.gate.set() if store.gate else None
            await h.close()

    snap = run(go)
    assert snap.state is FileState.CANCELLED
    assert store.photo_keys() == []


def test_progress_reaches_observers_coalesced(tmp_path: Path) -> None:
    photos = [corpus.jpeg_photo(tmp_path / f"p{i}.jpg", seed=i) for i in range(20)]
    store = FakeStore()

    async def go() -> Harness:
        h = Harness(store)
        try:
            await h.upload(*photos)
            return h
        finally:
            await h.close()

    h = run(go)
    finals = [s for s in h.seen if s.state is FileState.UPLOADED]
    assert {s.path.name for s in finals} == {p.name for p in photos}
    assert all(s.progress == 1.0 for s in finals)
    # Several state changes per file, but delivered in batches, not one call each.
    assert len(h.seen) >= len(photos)


def test_reconfigure_sends_new_files_to_new_store_and_old_thumbnails_home(
    tmp_path: Path,
) -> None:
    first = corpus.jpeg_photo(tmp_path / "first.jpg", seed=1)
    second = corpus.jpeg_photo(tmp_path / "second.jpg", seed=2)
    old, new = FakeStore(bucket="old"), FakeStore(bucket="new")
    old.fail_next["put"] = 1  # first.jpg's thumbnail upload fails

    async def go() -> dict[str, FileSnapshot]:
        h = Harness(old)
        try:
            await h.upload(first)
            h.pipeline.reconfigure(new, EngineSettings(concurrency=2), prefix="stamps/")
            await h.upload(second)
            h.pipeline.retry_failed()
            await h.pipeline.wait_idle()
            return h.final()
        finally:
            await h.close()

    snaps = run(go)
    assert snaps["first.jpg"].bucket == "old"
    assert snaps["first.jpg"].thumbnail_state is ThumbnailState.GENERATED
    assert snaps["first.jpg"].thumbnail_key in old.objects
    assert snaps["second.jpg"].bucket == "new"
    assert snaps["second.jpg"].key is not None
    assert snaps["second.jpg"].key.startswith("stamps/second-")
    assert new.photo_keys() == sorted([snaps["second.jpg"].key, snaps["second.jpg"].thumbnail_key])


def test_a_file_that_cannot_be_read_is_looked_into_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telling a vanished folder from a vanished file stats the folder: never on the loop,
    since a drive that just failed a read is the one that may hang."""
    import os

    import app.core.pipeline.integrity as integrity

    gone = tmp_path / "unplugged" / "coin.jpg"
    threads: list[str] = []
    real = os.path.isdir

    def noting_isdir(path: object) -> bool:
        threads.append(threading.current_thread().name)
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(integrity.os.path, "isdir", noting_isdir)

    async def go() -> FileSnapshot:
        h = Harness(FakeStore())
        try:
            (file_id,) = h.pipeline.enqueue([WalkEntry(gone)])
            await h.pipeline.wait_idle()
            snap = h.pipeline.snapshot(file_id)
            assert snap is not None
            return snap
        finally:
            await h.close()

    snap = run(go)
    assert snap.state is FileState.FAILED and "folder is no longer there" in (snap.error or "")
    assert threads and "MainThread" not in threads


# -- a duplicate whose thumbnail is not in the bucket -----------------------------------


def _failing_thumbnailer(path: Path, spec: ThumbnailSpec, preview: PreviewSpec | None) -> bytes:
    raise ThumbnailError("There was not enough memory to make the thumbnail.")


def test_a_thumbnail_that_failed_once_is_made_when_the_file_comes_again(tmp_path: Path) -> None:
    """It used to stay lost: the second upload said duplicate, thumbnail skipped."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    first = upload_once(store, photo, thumbnailer=_failing_thumbnailer)["coin.jpg"]
    assert (first.state, first.thumbnail_state) == (FileState.UPLOADED, ThumbnailState.FAILED)
    assert first.thumbnail_key is None

    again = upload_once(store, photo)["coin.jpg"]  # another session (or computer)

    assert (again.state, again.thumbnail_state) == (FileState.DUPLICATE, ThumbnailState.GENERATED)
    assert again.thumbnail_key == f"coins/thumbnails/coin-{sha(photo)[:8]}.jpg"
    assert again.thumbnail_key in store.objects
    entry = store.find_by_hash(sha(photo))
    assert entry is not None and entry.thumbnail_key == again.thumbnail_key
    assert store.calls["upload"] == 1  # the original was not sent again
    assert again.notice and "thumbnail was missing there and has been added" in again.notice


def test_a_thumbnail_that_fails_again_says_why_again(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    upload_once(store, photo, thumbnailer=_failing_thumbnailer)
    again = upload_once(store, photo, thumbnailer=_failing_thumbnailer)["coin.jpg"]
    assert (again.state, again.thumbnail_state) == (FileState.DUPLICATE, ThumbnailState.FAILED)
    assert again.thumbnail_error == "There was not enough memory to make the thumbnail."
    assert again.thumbnail_key is None


def test_a_duplicate_whose_thumbnail_was_deleted_gets_it_back(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    thumbnail_key = upload_once(store, photo)["coin.jpg"].thumbnail_key
    assert thumbnail_key is not None
    del store.objects[thumbnail_key]  # someone tidied the bucket by hand

    again = upload_once(store, photo)["coin.jpg"]

    assert (again.state, again.thumbnail_state) == (FileState.DUPLICATE, ThumbnailState.GENERATED)
    assert again.thumbnail_key == thumbnail_key and thumbnail_key in store.objects


def test_a_thumbnail_a_duplicate_makes_at_last_is_named_by_the_sidecar(tmp_path: Path) -> None:
    """Its photo's upload could not make it (the sidecar said so); the next upload of the
    same content makes it, and the sidecar names it now, everything else as it was."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    first = upload_once(store, photo, thumbnailer=_failing_thumbnailer)["coin.jpg"]
    written = json.loads(store.objects[f"{first.key}.json"].data)
    assert written["derivatives"]["thumbnail"] is None

    again = upload_once(store, photo)["coin.jpg"]

    assert (again.state, again.thumbnail_state) == (FileState.DUPLICATE, ThumbnailState.GENERATED)
    sidecar = json.loads(store.objects[f"{first.key}.json"].data)
    assert sidecar["derivatives"]["thumbnail"] == again.thumbnail_key
    assert {k: v for k, v in sidecar.items() if k != "derivatives"} == {
        k: v for k, v in written.items() if k != "derivatives"
    }


def test_a_duplicate_with_its_thumbnail_in_place_sends_nothing(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    upload_once(store, photo)
    writes = store.calls["upload"] + store.calls["put"] + store.calls["record"]
    again = upload_once(store, photo)["coin.jpg"]
    assert (again.state, again.thumbnail_state) == (FileState.DUPLICATE, ThumbnailState.SKIPPED)
    assert store.calls["upload"] + store.calls["put"] + store.calls["record"] == writes


def test_retry_failed_on_a_duplicate_mends_its_thumbnail_and_it_stays_a_duplicate(
    tmp_path: Path,
) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    upload_once(store, photo, thumbnailer=_failing_thumbnailer)
    first, second = upload_then_retry_failed(store, photo, [])
    assert (first.state, first.thumbnail_state) == (FileState.DUPLICATE, ThumbnailState.FAILED)
    assert (second.state, second.thumbnail_state) == (FileState.DUPLICATE, ThumbnailState.GENERATED)
    assert store.calls["upload"] == 1


def test_a_duplicate_making_its_thumbnail_never_looks_past_its_duplicate_check(
    tmp_path: Path,
) -> None:
    """Its journal row then never says Thumbnailing with the other file's key: a restart
    took that object for an upload of its own and finished the file as uploaded."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    upload_once(store, photo, thumbnailer=_failing_thumbnailer)

    async def go() -> list[FileState]:
        h = Harness(store)
        try:
            await h.upload(photo)
            return [s.state for s in h.seen if s.path.name == "coin.jpg"]
        finally:
            await h.close()

    states = run(go)
    assert states[-1] is FileState.DUPLICATE
    assert FileState.THUMBNAILING not in states and FileState.UPLOADING not in states


# -- the metadata sidecar ---------------------------------------------------------------


def test_each_photo_gets_a_sidecar_beside_it_naming_its_folder_not_the_path_above(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "Morgan dollar" / "1921"
    folder.mkdir(parents=True)
    photo = corpus.jpeg_photo(folder / "obverse.jpg", exif_gps=True)
    store = FakeStore()
    snap = upload_once(store, tmp_path / "Morgan dollar")["obverse.jpg"]
    assert snap.metadata_key == f"{snap.key}.json"
    sidecar = json.loads(store.objects[snap.metadata_key].data)
    assert store.objects[snap.metadata_key].content_type == "application/json"
    assert sidecar["key"] == snap.key and sidecar["sha256"] == sha(photo)
    assert sidecar["original_name"] == "obverse.jpg"
    assert sidecar["original_folder"] == "Morgan dollar/1921"
    assert sidecar["item"]["id"] == "Morgan dollar"
    assert sidecar["derivatives"] == {"thumbnail": snap.thumbnail_key, "preview": None}
    assert (sidecar["width"], sidecar["height"], sidecar["camera"]["make"]) == (64, 48, "TestCam")
    assert "gps" not in sidecar  # unless the collector asks
    assert str(tmp_path) not in store.objects[snap.metadata_key].data.decode()


def test_a_sidecar_that_cannot_be_written_leaves_the_photo_uploaded_and_says_so(
    tmp_path: Path,
) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    store.fail_next["sidecar"] = 1
    snap = upload_once(store, photo)["coin.jpg"]
    assert (snap.state, snap.metadata_key) == (FileState.UPLOADED, None)
    assert snap.notice and "its metadata file could not be written" in snap.notice
    assert store.sidecar_keys() == []
    again = upload_once(store, photo)["coin.jpg"]  # the next upload of it finishes it
    assert again.state is FileState.DUPLICATE
    assert store.sidecar_keys() == [f"{snap.key}.json"]


def test_retry_failed_writes_a_sidecar_that_could_not_be_written_and_nothing_else(
    tmp_path: Path,
) -> None:
    """It used to stay missing until the photo was added again: Retry failed passed it by."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    copy = tmp_path / "copy" / "coin.jpg"
    copy.parent.mkdir()
    copy.write_bytes(photo.read_bytes())
    store = FakeStore()
    store.fail_with = StoreError("Access denied.", permanent=True)
    store.fail_next["sidecar"] = 2  # the photo's, then its duplicate's

    async def go() -> tuple[list[FileSnapshot], list[FileSnapshot], int]:
        h = Harness(store, concurrency=1)
        try:
            await h.upload(photo)
            await h.upload(copy)
            failed = sorted(h.pipeline.snapshots(), key=lambda s: s.file_id)
            puts = store.calls["put"] + store.calls["upload"]
            retried = h.pipeline.retry_failed()
            await h.pipeline.wait_idle()
            assert len(retried) == 2
            after = sorted(h.pipeline.snapshots(), key=lambda s: s.file_id)
            return failed, after, store.calls["put"] + store.calls["upload"] - puts
        finally:
            await h.close()

    failed, after, sent_again = run(go)
    assert [s.state for s in failed] == [FileState.UPLOADED, FileState.DUPLICATE]
    assert all(needs_retry(s) for s in failed)  # the Failed filter and Retry failed see them
    assert [s.state for s in after] == [FileState.UPLOADED, FileState.DUPLICATE]
    assert not any(needs_retry(s) for s in after)
    assert all(s.metadata_key == f"{s.key}.json" for s in after)
    assert store.sidecar_keys() == [f"{after[0].key}.json"]
    assert sent_again == 0  # no photo or thumbnail sent again: only the sidecar
    assert after[1].thumbnail_state is ThumbnailState.SKIPPED


def test_the_thumbnail_preview_and_sidecar_go_side_by_side_and_the_index_entry_last(
    tmp_path: Path,
) -> None:
    """On a link with long round trips each of the three small PUTs after the original
    would be a wait of its own: they go at once (each waits here until all three are in
    flight, which requests sent one after the other never are)."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (800, 600))
    store = FakeStore()
    in_flight = threading.Barrier(3, timeout=10)
    store.hooks["put"] = store.hooks["sidecar"] = lambda _key: in_flight.wait()
    present_at_index: list[list[str]] = []
    store.hooks["record"] = lambda _key: present_at_index.append(sorted(store.objects))
    snap = upload_once(store, photo, settings=EngineSettings(preview=PreviewSpec()))["coin.jpg"]
    assert (snap.state, snap.thumbnail_state) == (FileState.UPLOADED, ThumbnailState.GENERATED)
    assert snap.notice is None
    sidecar = json.loads(store.objects[f"{snap.key}.json"].data)
    assert sidecar["derivatives"] == {"thumbnail": snap.thumbnail_key, "preview": snap.preview_key}
    assert present_at_index == [
        sorted([snap.key, snap.thumbnail_key, snap.preview_key, f"{snap.key}.json"])
    ]


def test_a_sidecar_sent_beside_a_thumbnail_that_did_not_land_is_written_again_without_it(
    tmp_path: Path,
) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    store.fail_next["put"] = 1  # the thumbnail
    snap = upload_once(store, photo)["coin.jpg"]
    assert (snap.state, snap.thumbnail_state) == (FileState.UPLOADED, ThumbnailState.FAILED)
    assert snap.thumbnail_key not in store.objects
    sidecar = json.loads(store.objects[f"{snap.key}.json"].data)
    assert sidecar["derivatives"] == {"thumbnail": None, "preview": None}
    entry = json.loads(store.objects[index_key(sha(photo))].data)
    assert entry.get("thumbnail_key") is None


def test_a_thumbnail_that_retry_failed_sends_is_named_by_the_sidecar(tmp_path: Path) -> None:
    """The sidecar written without the thumbnail that failed to land names it once Retry
    failed sends it: the Bucket tab finds a photo's thumbnail through its sidecar."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    store.fail_next["put"] = 1  # the thumbnail

    async def go() -> FileSnapshot:
        h = Harness(store)
        try:
            await h.upload(photo)
            assert h.pipeline.retry_failed()
            await h.pipeline.wait_idle()
            return h.final()["coin.jpg"]
        finally:
            await h.close()

    snap = run(go)
    assert (snap.state, snap.thumbnail_state) == (FileState.UPLOADED, ThumbnailState.GENERATED)
    sidecar = json.loads(store.objects[f"{snap.key}.json"].data)
    assert sidecar["derivatives"] == {"thumbnail": snap.thumbnail_key, "preview": None}
    assert sidecar["original_name"] == "coin.jpg"  # (the rest as written)


def test_a_sidecar_whose_second_write_failed_is_written_by_retry_failed(tmp_path: Path) -> None:
    """The preview did not land and the sidecar's second write (without it) failed too:
    the sidecar in the bucket names a preview that is not there, so Retry failed writes
    it whole again."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    sidecar_writes = itertools.count(1)

    def preview_goes_astray(key: str) -> None:
        if "/previews/" in key:
            raise StoreError("The preview went astray.", permanent=True)

    def second_sidecar_write_fails(_key: str) -> None:
        if next(sidecar_writes) == 2:
            raise StoreError("The connection broke.", permanent=True)

    store.hooks["put"], store.hooks["sidecar"] = preview_goes_astray, second_sidecar_write_fails

    async def go() -> tuple[FileSnapshot, FileSnapshot]:
        h = Harness(store, settings=EngineSettings(preview=PreviewSpec()))
        try:
            first = (await h.upload(photo))["coin.jpg"]
            assert h.pipeline.retry_failed()
            await h.pipeline.wait_idle()
            return first, h.final()["coin.jpg"]
        finally:
            await h.close()

    first, second = run(go)
    assert first.notice and "its metadata file could not be written" in first.notice
    assert second.metadata_key == f"{second.key}.json" and second.notice is None
    sidecar = json.loads(store.objects[f"{second.key}.json"].data)
    assert sidecar["derivatives"] == {"thumbnail": second.thumbnail_key, "preview": None}


def test_a_preview_that_could_not_be_sent_says_so_though_the_thumbnail_was_retried(
    tmp_path: Path,
) -> None:
    """The thumbnail's "retrying..." came after the preview's failure and was cleared
    when the thumbnail landed: the preview's notice stays."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    preview_notice_shown = threading.Event()
    thumbnail_tries = itertools.count(1)

    def put(key: str) -> None:
        if "/previews/" in key:
            raise StoreError("The preview went astray.", permanent=True)
        if "/thumbnails/" in key and next(thumbnail_tries) == 1:
            preview_notice_shown.wait(10)
            raise StoreError("The server is busy.", retryable=True)

    store.hooks["put"] = put
    settings = EngineSettings(
        preview=PreviewSpec(), retry=RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
    )

    async def go() -> FileSnapshot:
        h = Harness(store, settings=settings)

        def watch(snaps: Sequence[FileSnapshot]) -> None:
            if any(s.notice and "preview could not be uploaded" in s.notice for s in snaps):
                preview_notice_shown.set()

        h.pipeline.add_observer(watch)
        try:
            return (await h.upload(photo))["coin.jpg"]
        finally:
            await h.close()

    snap = run(go)
    assert (snap.state, snap.thumbnail_state) == (FileState.UPLOADED, ThumbnailState.GENERATED)
    assert (
        snap.notice == "Uploaded, but its preview could not be uploaded: The preview went astray."
    )


def test_a_duplicate_with_everything_in_place_writes_no_sidecar_again(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    upload_once(store, photo)
    upload_once(store, photo)
    assert store.calls["sidecar"] == 1


# -- item edits -------------------------------------------------------------------------


def _sidecar_of(store: FakeStore, snap: FileSnapshot) -> dict[str, Any]:
    assert snap.key is not None
    return json.loads(store.objects[f"{snap.key}.json"].data)


def test_editing_the_item_of_an_uploaded_photo_rewrites_its_sidecar_and_moves_no_key(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "Morgan dollar"
    folder.mkdir()
    photo = corpus.jpeg_photo(folder / "obverse.jpg")
    store = FakeStore()

    async def go() -> tuple[FileSnapshot, FileSnapshot]:
        h = Harness(store)
        try:
            before = (await h.upload(folder))["obverse.jpg"]
            written = _sidecar_of(store, before)
            objects = set(store.objects)
            ids = h.pipeline.edit_items(
                [before.file_id], {"title": " Morgan dollar, 1921 ", "view": "obverse"}
            )
            assert ids == [before.file_id]
            await h.pipeline.wait_idle()
            after = h.final()["obverse.jpg"]
            assert set(store.objects) == objects  # nothing new, nothing moved
            sidecar = _sidecar_of(store, after)
            assert sidecar["item"] == {
                "id": "Morgan dollar",  # kept: only the fields edited change
                "title": "Morgan dollar, 1921",
                "view": "obverse",
                "notes": None,
                "primary": False,
            }
            assert {k: v for k, v in sidecar.items() if k != "item"} == {
                k: v for k, v in written.items() if k != "item"
            }
            return before, after
        finally:
            await h.close()

    before, after = run(go)
    assert after.key == before.key and after.metadata_key == before.metadata_key
    assert after.item is not None and after.item.view == "obverse"
    assert after.notice and "Item saved" in after.notice
    assert store.objects[after.key or ""].data == photo.read_bytes()


def test_an_item_set_before_a_file_is_sent_goes_with_it(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "cover.jpg")
    store = FakeStore()
    reached, gate = threading.Event(), threading.Event()

    def hold(_key: str) -> None:  # held at its upload, on a transfer thread
        reached.set()
        gate.wait(10)

    store.hooks["upload"] = hold

    async def go() -> FileSnapshot:
        h = Harness(store)
        try:
            h.pipeline.add_paths([photo])
            await asyncio.get_running_loop().run_in_executor(None, reached.wait, 10)
            file_id = h.pipeline.snapshots()[0].file_id
            h.pipeline.edit_items([file_id], {"id": "book-12", "view": "cover", "primary": True})
            gate.set()
            await h.pipeline.wait_idle()
            return h.final()["cover.jpg"]
        finally:
            gate.set()
            await h.close()

    snap = run(go)
    assert snap.state is FileState.UPLOADED
    item = _sidecar_of(store, snap)["item"]
    assert (item["id"], item["view"], item["primary"]) == ("book-12", "cover", True)
    assert store.calls["sidecar"] == 1  # written once, with the item


def test_editing_a_duplicate_edits_the_photo_already_in_the_bucket(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    copy = tmp_path / "again" / "coin copy.jpg"
    copy.parent.mkdir()
    copy.write_bytes(photo.read_bytes())
    store = FakeStore()
    first = upload_once(store, photo)["coin.jpg"]

    async def go() -> FileSnapshot:
        h = Harness(store)
        try:
            dup = (await h.upload(copy))["coin copy.jpg"]
            assert dup.state is FileState.DUPLICATE
            assert _sidecar_of(store, first)["item"]["id"] is None  # left as it was
            h.pipeline.edit_items([dup.file_id], {"notes": "bought 2024"})
            await h.pipeline.wait_idle()
            return h.final()["coin copy.jpg"]
        finally:
            await h.close()

    dup = run(go)
    assert dup.key == first.key
    sidecar = _sidecar_of(store, first)
    assert sidecar["item"]["notes"] == "bought 2024"
    assert sidecar["original_name"] == "coin.jpg"  # the photo in the bucket, as written


def test_an_item_that_cannot_be_saved_says_so_and_the_photo_stays_uploaded(
    tmp_path: Path,
) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()

    async def go() -> FileSnapshot:
        h = Harness(store)
        try:
            snap = (await h.upload(photo))["coin.jpg"]
            store.fail_with = StoreError("Access denied to the bucket.", permanent=True)
            store.fail_next["sidecar"] = 1
            h.pipeline.edit_items([snap.file_id], {"title": "1907 cent"})
            await h.pipeline.wait_idle()
            return h.final()["coin.jpg"]
        finally:
            await h.close()

    snap = run(go)
    assert snap.state is FileState.UPLOADED
    assert snap.notice == (
        "The item could not be saved in its metadata file: Access denied to the bucket."
    )
    assert _sidecar_of(store, snap)["item"]["title"] is None


def test_an_item_field_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")

    async def go() -> None:
        h = Harness(FakeStore())
        try:
            snap = (await h.upload(photo))["coin.jpg"]
            with pytest.raises(ValueError, match="no field 'colour'"):
                h.pipeline.edit_items([snap.file_id], {"colour": "red"})
        finally:
            await h.close()

    run(go)


# -- the display preview ----------------------------------------------------------------

PREVIEWS = EngineSettings(preview=PreviewSpec())


def test_a_preview_goes_beside_the_thumbnail_when_asked_for_and_keys_stay_the_same(
    tmp_path: Path,
) -> None:
    photo = corpus.jpeg_photo(tmp_path / "folio 12.jpg", (2400, 1800))
    plain = upload_once(FakeStore(), photo)["folio 12.jpg"]
    assert plain.preview_key is None
    store = FakeStore()
    snap = upload_once(store, photo, settings=PREVIEWS)["folio 12.jpg"]

    assert (snap.key, snap.thumbnail_key) == (plain.key, plain.thumbnail_key)  # never moved
    assert snap.preview_key == f"coins/previews/folio 12-{sha(photo)[:8]}.jpg"
    stored = store.objects[snap.preview_key]
    assert stored.content_type == "image/jpeg"
    with Image.open(io.BytesIO(stored.data)) as preview:
        assert preview.size == (1600, 1200) and "exif" not in preview.info
    assert snap.to_json_dict()["derivatives"] == {
        "thumbnail": snap.thumbnail_key,
        "preview": snap.preview_key,
    }
    assert _sidecar_of(store, snap)["derivatives"]["preview"] == snap.preview_key
    entry = json.loads(store.objects[index_key(sha(photo))].data)
    assert entry["preview_key"] == snap.preview_key


def test_a_webp_preview_is_stored_as_webp(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "stamp.jpg", (2000, 1000))
    store = FakeStore()
    settings = EngineSettings(preview=PreviewSpec(max_side=800, format="webp"))
    snap = upload_once(store, photo, settings=settings)["stamp.jpg"]
    assert snap.preview_key is not None and snap.preview_key.endswith(".webp")
    stored = store.objects[snap.preview_key]
    assert stored.content_type == "image/webp"
    with Image.open(io.BytesIO(stored.data)) as preview:
        assert (preview.format, preview.size) == ("WEBP", (800, 400))


def test_a_photo_uploaded_before_previews_gets_its_preview_when_it_comes_again(
    tmp_path: Path,
) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (2000, 1500))
    store = FakeStore()
    first = upload_once(store, photo)["coin.jpg"]
    sidecar_before = _sidecar_of(store, first)

    again = upload_once(store, photo, settings=PREVIEWS)["coin.jpg"]
    assert again.state is FileState.DUPLICATE
    assert again.notice and "its preview was missing there and has been added" in again.notice
    assert again.preview_key == f"coins/previews/coin-{sha(photo)[:8]}.jpg"
    assert again.preview_key in store.objects
    assert store.calls["put"] == 2  # the first thumbnail, then the preview: no new thumbnail
    sidecar = _sidecar_of(store, again)
    assert sidecar["derivatives"]["preview"] == again.preview_key
    assert sidecar["item"] == sidecar_before["item"]  # all else kept as it was
    assert sidecar["uploaded_at"] == sidecar_before["uploaded_at"]
    entry = json.loads(store.objects[index_key(sha(photo))].data)
    assert entry["preview_key"] == again.preview_key

    third = upload_once(store, photo, settings=PREVIEWS)["coin.jpg"]
    assert third.preview_key == again.preview_key and store.calls["put"] == 2  # in place now


def test_a_preview_that_cannot_be_uploaded_leaves_the_photo_uploaded_and_says_so(
    tmp_path: Path,
) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (2000, 1500))
    store = FakeStore()
    failed_once: list[str] = []

    def fail_previews(key: str) -> None:
        if "/previews/" in key and not failed_once:
            failed_once.append(key)
            store.fail_with = StoreError("Access denied to previews/.", permanent=True)
            store.fail_next["put"] = 1

    store.hooks["put"] = fail_previews
    snap = upload_once(store, photo, settings=PREVIEWS)["coin.jpg"]
    assert snap.state is FileState.UPLOADED
    assert snap.thumbnail_state is ThumbnailState.GENERATED
    assert snap.preview_key is None
    assert (
        snap.notice
        == "Uploaded, but its preview could not be uploaded: Access denied to previews/."
    )
    assert _sidecar_of(store, snap)["derivatives"]["preview"] is None


def test_an_item_edit_changes_only_the_fields_edited_in_the_stored_sidecar(
    tmp_path: Path,
) -> None:
    """The bucket's sidecar may name more than this run knows (another computer, a run
    restored from the journal): only the edited fields change."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()

    async def go() -> dict[str, Any]:
        h = Harness(store)
        try:
            snap = (await h.upload(photo))["coin.jpg"]
            key = f"{snap.key}.json"
            record = json.loads(store.objects[key].data)
            record["item"] = {"id": "coin-7", "view": "obverse", "primary": True}
            store.objects[key].data = json.dumps(record).encode()  # written elsewhere
            h.pipeline.edit_items([snap.file_id], {"notes": "worn"})
            await h.pipeline.wait_idle()
            return dict(json.loads(store.objects[key].data)["item"])
        finally:
            await h.close()

    item = run(go)
    assert item == {
        "id": "coin-7",
        "title": None,
        "view": "obverse",
        "notes": "worn",
        "primary": True,
    }


def test_a_duplicate_remaking_its_thumbnail_leaves_its_preview_alone(tmp_path: Path) -> None:
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg", (2000, 1500))
    store = FakeStore()
    first = upload_once(store, photo, settings=PREVIEWS)["coin.jpg"]
    assert first.thumbnail_key and first.preview_key
    del store.objects[first.thumbnail_key]  # gone behind the app's back
    sent: list[str] = []
    store.hooks["put"] = sent.append
    again = upload_once(store, photo, settings=PREVIEWS)["coin.jpg"]
    assert again.state is FileState.DUPLICATE
    assert sent == [first.thumbnail_key]  # the thumbnail made again, the preview not re-sent


def test_an_item_saved_keeps_the_reason_something_else_is_missing(tmp_path: Path) -> None:
    """Editing the item of a photo whose index entry could not be written used to replace
    that reason with "Item saved": the row still needed a retry, and no longer said why."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    store.fail_with = StoreError("Access denied to the index.", permanent=True)
    store.fail_next["record"] = 1

    async def go() -> FileSnapshot:
        h = Harness(store)
        try:
            snap = (await h.upload(photo))["coin.jpg"]
            assert snap.notice and "duplicate index could not be updated" in snap.notice
            h.pipeline.edit_items([snap.file_id], {"title": "1907 cent"})
            await h.pipeline.wait_idle()
            return h.final()["coin.jpg"]
        finally:
            await h.close()

    snap = run(go)
    assert snap.notice is not None
    assert "duplicate index could not be updated: Access denied to the index." in snap.notice
    assert snap.notice.endswith("Item saved in its metadata file; its keys stay as they are.")
    assert _sidecar_of(store, snap)["item"]["title"] == "1907 cent"


def test_a_sidecar_written_by_a_duplicate_names_the_thumbnail_already_there(
    tmp_path: Path,
) -> None:
    """A photo uploaded before sidecars gets one when it comes again; it named no
    thumbnail, though the bucket had one (the duplicate never said it was there)."""
    photo = corpus.jpeg_photo(tmp_path / "coin.jpg")
    store = FakeStore()
    first = upload_once(store, photo)["coin.jpg"]
    del store.objects[f"{first.key}.json"]  # as if sent before sidecars
    again = upload_once(store, photo)["coin.jpg"]
    assert again.state is FileState.DUPLICATE
    assert _sidecar_of(store, again)["derivatives"]["thumbnail"] == first.thumbnail_key
    entry = json.loads(store.objects[index_key(sha(photo))].data)
    assert entry["thumbnail_key"] == first.thumbnail_key
