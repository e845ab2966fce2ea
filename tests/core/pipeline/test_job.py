"""A file's job: the transitions its state allows, and the ones it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.models import FileState, ThumbnailState
from app.core.pipeline.job import CANCELLED_NOTICE, FileJob, TransitionError
from app.core.store import IndexEntry

PATH = Path("/photos/coin.jpg")


def running_job() -> FileJob:
    job = FileJob(1, PATH)
    job.start()
    return job


def test_a_job_runs_queued_stage_by_stage_to_a_final_state() -> None:
    job = FileJob(1, PATH)
    assert job.state is FileState.QUEUED and not job.running
    job.start()
    for stage in (FileState.HASHING, FileState.CHECKING, FileState.UPLOADING):
        job.enter(stage)
        assert job.state is stage and job.running
    job.finish(FileState.UPLOADED)
    assert job.state is FileState.UPLOADED and not job.running


def test_a_running_job_cannot_start_again() -> None:
    job = running_job()
    with pytest.raises(TransitionError, match="cannot start: it is running"):
        job.start()


def test_a_finished_job_cannot_start_or_finish_again() -> None:
    job = running_job()
    job.finish(FileState.FAILED)
    with pytest.raises(TransitionError):
        job.start()
    with pytest.raises(TransitionError):
        job.finish(FileState.UPLOADED)


def test_retrying_what_is_queued_or_running_is_refused() -> None:
    queued = FileJob(1, PATH)
    with pytest.raises(TransitionError, match="cannot be retried: it is queued"):
        queued.requeue()
    with pytest.raises(TransitionError, match="cannot be retried: it is running"):
        running_job().requeue()


def test_only_stages_can_be_entered_and_only_while_running() -> None:
    with pytest.raises(TransitionError):
        FileJob(1, PATH).enter(FileState.HASHING)  # not started
    job = running_job()
    with pytest.raises(TransitionError):
        job.enter(FileState.UPLOADED)  # a final state is reached by finish()
    with pytest.raises(TransitionError):
        job.finish(FileState.HASHING)


def test_a_queued_job_can_be_cancelled_and_then_retried() -> None:
    job = FileJob(1, PATH)
    job.finish(FileState.CANCELLED)
    assert job.notice == CANCELLED_NOTICE
    assert job.outcome.thumbnail_state is ThumbnailState.SKIPPED
    job.requeue()
    assert job.state is FileState.QUEUED and job.notice is None
    job.start()


def test_a_retry_redoes_a_failed_thumbnail_and_keeps_what_worked() -> None:
    job = running_job()
    job.hashed(10, 20)
    job.keyed("coin-01234567.jpg", "thumbnails/coin-01234567.jpg")
    job.thumbnail_failed("The image could not be decoded.")
    job.original_landed()
    job.finish(FileState.UPLOADED)
    job.requeue()
    assert job.outcome.thumbnail_state is ThumbnailState.PENDING
    assert job.outcome.thumbnail_error is None
    assert job.outcome.original_in_bucket and job.outcome.key == "coin-01234567.jpg"


def test_a_failure_skips_a_thumbnail_only_when_the_original_is_not_in() -> None:
    before = running_job()
    before.fail("Cannot reach the storage server.")
    assert before.outcome.thumbnail_state is ThumbnailState.SKIPPED
    after = running_job()
    after.original_landed()
    after.fail("Cannot reach the storage server.")
    assert after.outcome.thumbnail_state is ThumbnailState.PENDING  # Retry makes it


def test_a_duplicate_read_afresh_is_a_duplicate_no_more(tmp_path: Path) -> None:
    """A retry that goes to another bucket reads and checks again: if it uploads there,
    it finishes as uploaded, not as the duplicate it was."""
    job = FileJob(1, tmp_path / "coin.jpg")
    job.found_in_bucket(
        IndexEntry(key="coin-1.jpg", thumbnail_key=None, size=3, content_type="image/jpeg")
    )
    assert job.duplicate
    job.forget_hash()
    assert not job.duplicate
    job.found_in_bucket(
        IndexEntry(key="coin-1.jpg", thumbnail_key=None, size=3, content_type="image/jpeg")
    )
    job.hashed(3, 1)
    assert not job.duplicate
