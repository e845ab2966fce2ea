"""The pure mapping from a FileSnapshot to badges, messages and filter categories."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.ui.badges import (
    NOT_NEEDED,
    NOT_UPLOADED,
    Badge,
    FilterCategory,
    Tone,
    category_of,
    in_category,
    message_text,
    one_line,
    safe_text,
    state_badge,
    state_text,
    thumbnail_badge,
    tone_colours,
)

HEX = re.compile(r"^#[0-9a-f]{6}$")


def snap(state: FileState = FileState.QUEUED, **kw: object) -> FileSnapshot:
    return FileSnapshot(file_id=1, path=Path("/photos/stamp.jpg"), state=state, **kw)  # type: ignore[arg-type]


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("dark", [False, True])
@pytest.mark.parametrize(("state", "thumb"), list(itertools.product(FileState, ThumbnailState)))
def test_every_combination_has_text_colours_and_tooltip(
    state: FileState, thumb: ThumbnailState, dark: bool
) -> None:
    s = snap(state, thumbnail_state=thumb, size=10, bytes_total=10, bytes_sent=5)
    for badge in (state_badge(s, dark=dark), thumbnail_badge(s, dark=dark)):
        assert isinstance(badge, Badge)
        assert badge.text.strip()
        assert badge.tooltip.strip()
        assert HEX.match(badge.foreground) and HEX.match(badge.background)
        assert contrast(badge.foreground, badge.background) >= 4.5, badge
    assert isinstance(message_text(s), str)
    assert FilterCategory.ALL in category_of(s)


@pytest.mark.parametrize(
    ("state", "text"),
    [
        (FileState.QUEUED, "Queued"),
        (FileState.HASHING, "Hashing"),
        (FileState.CHECKING, "Checking bucket"),
        (FileState.THUMBNAILING, "Making thumbnail"),
        (FileState.UPLOADED, "Uploaded"),
        (FileState.DUPLICATE, "Duplicate"),
        (FileState.FAILED, "Failed"),
        (FileState.CANCELLED, "Cancelled"),
    ],
)
def test_state_texts(state: FileState, text: str) -> None:
    assert state_badge(snap(state)).text == text


def test_uploading_shows_percent_and_never_100_before_done() -> None:
    assert state_text(snap(FileState.UPLOADING, bytes_sent=45, bytes_total=100)) == "Uploading 45%"
    assert state_text(snap(FileState.UPLOADING, bytes_sent=100, bytes_total=100)) == "Uploading 99%"
    assert state_text(snap(FileState.UPLOADING)) == "Uploading 0%"


def test_transient_notice_is_visible_while_active() -> None:
    s = snap(FileState.UPLOADING, bytes_sent=45, bytes_total=100, notice="retrying (2/5)")
    badge = state_badge(s)
    assert badge.text == "Uploading 45% · retrying (2/5)"
    assert "retrying (2/5)" in badge.tooltip
    assert message_text(s) == "retrying (2/5)"


def test_final_notice_stays_out_of_the_badge() -> None:
    s = snap(FileState.CANCELLED, notice="Cancelled.")
    assert state_badge(s).text == "Cancelled"


def test_colours_follow_meaning() -> None:
    green = tone_colours(Tone.SUCCESS)
    assert (
        state_badge(snap(FileState.UPLOADED)).foreground,
        state_badge(snap(FileState.UPLOADED)).background,
    ) == green
    assert state_badge(snap(FileState.DUPLICATE)).background == tone_colours(Tone.INFO)[1]
    assert state_badge(snap(FileState.FAILED)).background == tone_colours(Tone.DANGER)[1]
    assert state_badge(snap(FileState.CANCELLED)).background == tone_colours(Tone.MUTED)[1]
    assert state_badge(snap(FileState.HASHING)).background == tone_colours(Tone.ACTIVE)[1]
    dark = state_badge(snap(FileState.UPLOADED), dark=True)
    assert (dark.foreground, dark.background) == tone_colours(Tone.SUCCESS, dark=True)
    assert dark.background != green[1]


def test_thumbnail_badges() -> None:
    made = thumbnail_badge(
        snap(FileState.UPLOADED, thumbnail_state=ThumbnailState.GENERATED, thumbnail_key="t/a.jpg")
    )
    assert made.text == "Generated" and "t/a.jpg" in made.tooltip
    assert made.background == tone_colours(Tone.SUCCESS)[1]

    failed = thumbnail_badge(
        snap(
            FileState.UPLOADED,
            thumbnail_state=ThumbnailState.FAILED,
            thumbnail_error="Pillow could not read the image: truncated",
        )
    )
    assert failed.text == "Failed"
    assert "Pillow could not read the image: truncated" in failed.tooltip
    assert failed.background == tone_colours(Tone.DANGER)[1]

    dup = thumbnail_badge(snap(FileState.DUPLICATE, thumbnail_state=ThumbnailState.SKIPPED))
    assert dup.text == "Skipped" and dup.tooltip.startswith(NOT_NEEDED)
    for state in (FileState.FAILED, FileState.CANCELLED):
        skipped = thumbnail_badge(snap(state, thumbnail_state=ThumbnailState.SKIPPED))
        assert skipped.tooltip == NOT_UPLOADED
        assert skipped.background == tone_colours(Tone.MUTED)[1]

    pending = thumbnail_badge(snap(FileState.HASHING))
    assert pending.text == "Pending"
    assert pending.background == tone_colours(Tone.NEUTRAL)[1]


def test_messages() -> None:
    assert message_text(snap(FileState.FAILED, error="Permission denied")) == "Permission denied"
    assert (
        message_text(
            snap(
                FileState.UPLOADED,
                key="k.jpg",
                thumbnail_state=ThumbnailState.FAILED,
                thumbnail_error="corrupt data",
            )
        )
        == "Thumbnail failed: corrupt data"
    )
    dup = snap(
        FileState.DUPLICATE,
        key="stamps/ab/abc.jpg",
        notice="Already in the bucket as stamps/ab/abc.jpg",
    )
    assert message_text(dup) == "Already in the bucket as stamps/ab/abc.jpg"
    assert message_text(snap(FileState.UPLOADED, key="stamps/x.jpg")) == "stamps/x.jpg"
    notice = "Uploaded, but the duplicate index could not be updated: timeout"
    assert message_text(snap(FileState.UPLOADED, key="k", notice=notice)) == notice
    assert message_text(snap(FileState.QUEUED)) == ""


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        (snap(FileState.QUEUED), {FilterCategory.IN_PROGRESS}),
        (snap(FileState.UPLOADING), {FilterCategory.IN_PROGRESS}),
        (snap(FileState.UPLOADED), {FilterCategory.DONE}),
        (
            snap(FileState.UPLOADED, thumbnail_state=ThumbnailState.FAILED),
            {FilterCategory.DONE, FilterCategory.FAILED},
        ),
        (snap(FileState.DUPLICATE), {FilterCategory.DONE, FilterCategory.NOT_SENT}),
        (snap(FileState.FAILED), {FilterCategory.FAILED}),
        (snap(FileState.CANCELLED), {FilterCategory.NOT_SENT}),
    ],
)
def test_categories(s: FileSnapshot, expected: set[FilterCategory]) -> None:
    assert category_of(s) == expected | {FilterCategory.ALL}
    for category in FilterCategory:
        assert in_category(s, category) == (category in expected or category is FilterCategory.ALL)


def test_category_labels() -> None:
    assert [c.label for c in FilterCategory] == ["All", "In progress", "Failed", "Done", "Not sent"]


def test_non_utf8_names_become_escapes() -> None:
    name = b"caf\xe9.jpg".decode("utf-8", "surrogateescape")
    assert safe_text(name) == "caf\\xe9.jpg"
    assert safe_text("café.jpg") == "café.jpg"
    s = FileSnapshot(1, Path("/p") / name, FileState.FAILED, error=f"Cannot read {name}")
    assert "\\xe9" in message_text(s)
    assert "\\xe9" in state_badge(s).tooltip


def test_one_line() -> None:
    assert one_line("first\nsecond\r\n\nthird") == "first second third"
