"""The policy predicates: what each fate lets the collector do, decided once."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.core.policy import (
    Category,
    categories,
    finished_cleanly,
    index_missing,
    is_retryable,
    needs_retry,
    run_failed,
    thumbnail_failed,
)

S, T = FileState, ThumbnailState


def snap(
    state: FileState,
    thumbnail: ThumbnailState = ThumbnailState.GENERATED,
    *,
    original: bool = True,
    index: bool = True,
    unusable: bool = False,
) -> FileSnapshot:
    return FileSnapshot(
        file_id=1,
        path=Path("coin.jpg"),
        state=state,
        thumbnail_state=thumbnail,
        original_in_bucket=original,
        index_in_bucket=index,
        unusable=unusable,
    )


CASES = [
    # fate, needs_retry, is_retryable, finished_cleanly, run_failed, categories
    (
        snap(S.QUEUED, T.PENDING, original=False, index=False),
        False,
        False,
        False,
        False,
        {Category.IN_PROGRESS},
    ),
    (
        snap(S.UPLOADING, T.PENDING, original=False, index=False),
        False,
        False,
        False,
        False,
        {Category.IN_PROGRESS},
    ),
    (snap(S.UPLOADED), False, False, True, False, {Category.DONE}),
    (
        snap(S.UPLOADED, T.FAILED),
        True,
        True,
        False,
        False,
        {Category.DONE, Category.FAILED, Category.RETRY},
    ),
    (
        snap(S.UPLOADED, index=False),
        True,
        True,
        False,
        False,
        {Category.DONE, Category.FAILED, Category.RETRY},
    ),
    (snap(S.DUPLICATE, T.SKIPPED), False, False, True, False, {Category.DONE, Category.NOT_SENT}),
    (
        snap(S.FAILED, T.SKIPPED, original=False, index=False),
        True,
        True,
        False,
        True,
        {Category.FAILED, Category.RETRY},
    ),
    (  # empty, or not an image: failed, but the same bytes again would fail again
        snap(S.FAILED, T.SKIPPED, original=False, index=False, unusable=True),
        False,
        False,
        False,
        True,
        {Category.FAILED},
    ),
    (
        snap(S.CANCELLED, T.SKIPPED, original=False, index=False),
        False,
        True,
        True,
        True,
        {Category.NOT_SENT},
    ),
]


@pytest.mark.parametrize(("fate", "mend", "retry", "clean", "failed", "found"), CASES)
def test_each_fate_and_what_it_allows(
    fate: FileSnapshot,
    mend: bool,
    retry: bool,
    clean: bool,
    failed: bool,
    found: set[Category],
) -> None:
    assert needs_retry(fate) is mend
    assert is_retryable(fate) is retry
    assert finished_cleanly(fate) is clean
    assert run_failed(fate) is failed
    assert categories(fate) == found


def test_a_missing_index_entry_and_a_failed_thumbnail_are_told_apart() -> None:
    assert index_missing(snap(S.UPLOADED, index=False))
    assert not thumbnail_failed(snap(S.UPLOADED, index=False))
    assert thumbnail_failed(snap(S.UPLOADED, T.FAILED)) and not index_missing(snap(S.UPLOADED))
    assert not index_missing(snap(S.FAILED, original=False, index=False))


def test_an_item_is_given_to_what_is_or_may_be_in_the_bucket() -> None:
    from app.core.policy import takes_item

    assert takes_item(snap(S.UPLOADED))
    assert takes_item(snap(S.FAILED, T.SKIPPED, original=False, index=False))  # retried
    assert not takes_item(snap(S.CANCELLED, T.SKIPPED, original=False, index=False))
    empty = snap(S.FAILED, T.SKIPPED, original=False, index=False, unusable=True)
    assert not takes_item(empty)  # never goes anywhere as it is
