"""Which moments make a desktop notification (app.core.notices)."""

from __future__ import annotations

from pathlib import Path

from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.core.notices import QUIET_SECONDS, BatchNotices, Notice


def snap(
    file_id: int,
    state: FileState,
    error: str | None = None,
    thumbnail: ThumbnailState = ThumbnailState.GENERATED,
) -> FileSnapshot:
    return FileSnapshot(
        file_id, Path(f"/photos/IMG_{file_id:04d}.jpg"), state, error=error,
        thumbnail_state=thumbnail,
    )  # fmt: skip


def test_a_batch_is_summed_up_once_the_queue_has_been_quiet_for_a_while() -> None:
    notices = BatchNotices()
    assert notices.seen([snap(n, FileState.UPLOADING) for n in range(1, 40)], now=0) == []
    finished = [snap(n, FileState.UPLOADED) for n in range(1, 38)]
    finished += [snap(38, FileState.DUPLICATE)]
    finished += [snap(39, FileState.UPLOADED, thumbnail=ThumbnailState.FAILED)]
    assert notices.seen(finished, now=10) == []
    assert notices.due(now=10 + QUIET_SECONDS / 2) is None  # maybe more is coming
    assert notices.due(now=10 + QUIET_SECONDS) == Notice(
        "Uploads finished, some failed",
        "38 uploaded, 1 already in the bucket, 1 thumbnail failed.",
        failed=True,
    )
    assert notices.due(now=100) is None  # said once


def test_the_first_failure_is_told_at_once_and_the_rest_in_the_summary() -> None:
    notices = BatchNotices()
    notices.seen([snap(1, FileState.HASHING), snap(2, FileState.HASHING)], now=0)
    told = notices.seen([snap(1, FileState.FAILED, "This file is empty (0 bytes).")], now=1)
    assert told == [
        Notice("IMG_0001.jpg could not be uploaded", "This file is empty (0 bytes).", True)
    ]
    assert notices.seen([snap(2, FileState.FAILED, "Access denied.")], now=2) == []
    summary = notices.due(now=2 + QUIET_SECONDS)
    assert summary is not None and summary.body == "2 failed." and summary.failed


def test_shots_arriving_one_after_another_make_one_notification() -> None:
    """A copy stand: each photo is its own little batch, seconds apart."""
    notices = BatchNotices()
    now, said = 0.0, []
    for n in range(1, 6):
        notices.seen([snap(n, FileState.UPLOADING)], now=now)
        notices.seen([snap(n, FileState.UPLOADED)], now=now + 1)
        now += QUIET_SECONDS / 2
        said.append(notices.due(now))
    said.append(notices.due(now + QUIET_SECONDS))
    assert said[:-1] == [None] * 5
    assert said[-1] == Notice("Uploads finished", "5 uploaded.")


def test_files_that_come_back_finished_from_the_journal_are_not_news() -> None:
    notices = BatchNotices()
    notices.seen([snap(1, FileState.UPLOADED), snap(2, FileState.FAILED, "gone")], now=0)
    assert notices.due(now=100) is None


def test_a_file_that_finished_between_two_looks_counts_too() -> None:
    """Snapshots are coalesced: a duplicate or an empty file may only ever be seen
    finished. (Found in review: such files were never told, nor counted.)"""
    notices = BatchNotices()
    notices.start_counting(restored=[])
    empty = snap(2, FileState.FAILED, "This file is empty (0 bytes).")
    told = notices.seen([snap(1, FileState.DUPLICATE), empty], now=0)
    assert [n.title for n in told] == ["IMG_0002.jpg could not be uploaded"]
    summary = notices.due(now=QUIET_SECONDS)
    assert summary is not None and summary.body == "1 already in the bucket, 1 failed."


def test_what_an_earlier_session_finished_is_not_news_even_when_it_arrives_late() -> None:
    notices = BatchNotices()
    notices.seen([snap(1, FileState.UPLOADED)], now=0)  # before the queue is back
    notices.start_counting(restored=[1, 2])
    notices.seen([snap(2, FileState.FAILED, "gone"), snap(1, FileState.UPLOADED)], now=1)
    assert notices.due(now=100) is None


def test_a_file_removed_while_it_ran_does_not_hold_up_the_summary() -> None:
    """(Found in review: a removed file never sends its last state, and every summary
    of the session waited for it.)"""
    notices = BatchNotices()
    notices.start_counting(restored=[])
    notices.seen([snap(1, FileState.UPLOADING), snap(2, FileState.UPLOADING)], now=0)
    notices.forget([1])
    notices.seen([snap(2, FileState.UPLOADED)], now=1)
    summary = notices.due(now=1 + QUIET_SECONDS)
    assert summary is not None and summary.body == "1 uploaded."


def test_a_photo_whose_index_entry_failed_is_not_a_clean_finish() -> None:
    notices = BatchNotices()
    notices.start_counting(restored=[])
    no_index = FileSnapshot(
        1, Path("/photos/a.jpg"), FileState.UPLOADED, original_in_bucket=True,
        index_in_bucket=False, thumbnail_state=ThumbnailState.GENERATED,
    )  # fmt: skip
    notices.seen([no_index], now=0)
    summary = notices.due(now=QUIET_SECONDS)
    assert summary is not None and summary.failed
    assert summary.body == "1 uploaded, 1 not complete in the bucket (see Failed)."
