"""What a collector sees for one file: badge texts, colours, tooltips and filter categories.

Pure functions of a `FileSnapshot`, with colours as hex strings, so all of it is testable
without Qt. Every badge carries text: colour only reinforces it.

Colours are a tinted background with dark text on light themes and a deep background with
light text on dark themes (`dark=True`); both keep text contrast above 4.5:1.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

from app.core.models import FileSnapshot, FileState, ThumbnailState
from app.core.policy import Category, categories
from app.core.sizes import human_size


@dataclass(frozen=True, slots=True)
class Badge:
    """A pill: short text, its colours (``#rrggbb``) and a tooltip that explains it."""

    text: str
    foreground: str
    background: str
    tooltip: str


class Tone(enum.Enum):
    """The meaning a colour carries; each tone has a light and a dark pair."""

    SUCCESS = "success"
    INFO = "info"
    DANGER = "danger"
    ACTIVE = "active"
    MUTED = "muted"
    NEUTRAL = "neutral"


# tone -> ((light fg, light bg), (dark fg, dark bg))
_TONES: dict[Tone, tuple[tuple[str, str], tuple[str, str]]] = {
    Tone.SUCCESS: (("#14532d", "#dcfce7"), ("#bbf7d0", "#14532d")),
    Tone.INFO: (("#1e3a8a", "#dbeafe"), ("#bfdbfe", "#1e3a8a")),
    Tone.DANGER: (("#7f1d1d", "#fee2e2"), ("#fecaca", "#7f1d1d")),
    Tone.ACTIVE: (("#78350f", "#fef3c7"), ("#fde68a", "#713f12")),
    Tone.MUTED: (("#374151", "#e5e7eb"), ("#e5e7eb", "#4b5563")),
    Tone.NEUTRAL: (("#334155", "#f1f5f9"), ("#cbd5e1", "#334155")),
}


def tone_colours(tone: Tone, *, dark: bool = False) -> tuple[str, str]:
    """The (foreground, background) pair of `tone` for a light or dark theme."""
    light_pair, dark_pair = _TONES[tone]
    return dark_pair if dark else light_pair


def _badge(text: str, tone: Tone, tooltip: str, dark: bool) -> Badge:
    fg, bg = tone_colours(tone, dark=dark)
    return Badge(text, fg, bg, tooltip)


# -- text helpers ---------------------------------------------------------------------


def safe_text(text: str) -> str:
    """`text` that Qt can show: undecodable bytes of a file name become ``\\xNN`` escapes.

    Python keeps such bytes as lone surrogates (``surrogateescape``); Qt would show
    replacement characters or fail to convert them.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def one_line(text: str) -> str:
    """`text` on a single line, for table cells (tooltips keep the line breaks)."""
    if "\n" not in text and "\r" not in text:
        return text
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def percent(snap: FileSnapshot) -> int:
    """Whole percent sent; 100 only once the file is done, never while bytes are in flight."""
    if snap.state in (FileState.UPLOADED, FileState.DUPLICATE):
        return 100
    return min(99, int(snap.progress * 100))


# -- state ----------------------------------------------------------------------------

_STATE_TEXT: dict[FileState, str] = {
    FileState.QUEUED: "Queued",
    FileState.HASHING: "Hashing",
    FileState.CHECKING: "Checking bucket",
    FileState.THUMBNAILING: "Making thumbnail",
    FileState.UPLOADING: "Uploading",
    FileState.UPLOADED: "Uploaded",
    FileState.DUPLICATE: "Duplicate",
    FileState.FAILED: "Failed",
    FileState.CANCELLED: "Cancelled",
}

_STATE_TONE: dict[FileState, Tone] = {
    FileState.QUEUED: Tone.NEUTRAL,
    FileState.HASHING: Tone.ACTIVE,
    FileState.CHECKING: Tone.ACTIVE,
    FileState.THUMBNAILING: Tone.ACTIVE,
    FileState.UPLOADING: Tone.ACTIVE,
    FileState.UPLOADED: Tone.SUCCESS,
    FileState.DUPLICATE: Tone.INFO,
    FileState.FAILED: Tone.DANGER,
    FileState.CANCELLED: Tone.MUTED,
}

_STATE_HELP: dict[FileState, str] = {
    FileState.QUEUED: "Waiting for its turn.",
    FileState.HASHING: "Reading the file to fingerprint it.",
    FileState.CHECKING: "Checking whether the bucket already has this photo.",
    FileState.THUMBNAILING: "Making the thumbnail.",
    FileState.UPLOADING: "Sending the photo to the bucket.",
    FileState.UPLOADED: "The photo is in the bucket.",
    FileState.DUPLICATE: "The bucket already had this photo, so it was not sent again.",
    FileState.FAILED: "The photo was not uploaded.",
    FileState.CANCELLED: "Stopped before it finished.",
}

#: The order of the Status column when sorted: what needs attention first.
STATE_SORT_ORDER: dict[FileState, int] = {
    state: n
    for n, state in enumerate(
        (
            FileState.FAILED,
            FileState.UPLOADING,
            FileState.THUMBNAILING,
            FileState.CHECKING,
            FileState.HASHING,
            FileState.QUEUED,
            FileState.CANCELLED,
            FileState.DUPLICATE,
            FileState.UPLOADED,
        )
    )
}


def state_text(snap: FileSnapshot) -> str:
    """The Status column's text: "Uploading 45%", plus a transient notice while active."""
    text = _STATE_TEXT[snap.state]
    if snap.state is FileState.UPLOADING:
        text = f"{text} {percent(snap)}%"
    if snap.notice and not snap.state.is_final:
        text = f"{text} · {one_line(snap.notice)}"
    return text


def state_badge(snap: FileSnapshot, *, dark: bool = False) -> Badge:
    lines = [_STATE_HELP[snap.state]]
    if snap.state is FileState.UPLOADING and snap.bytes_total > 0:
        lines.append(f"{human_size(snap.bytes_sent)} of {human_size(snap.bytes_total)} sent.")
    if snap.state is FileState.UPLOADED and snap.key:
        where = f"{snap.bucket}/{snap.key}" if snap.bucket else snap.key
        lines.append(f"Stored as {safe_text(where)}")
    if snap.state is FileState.DUPLICATE and snap.key:
        lines.append(f"Existing copy: {safe_text(snap.key)}")
    if snap.state is FileState.FAILED and snap.error:
        lines.append(safe_text(snap.error))
    if snap.notice and snap.state is not FileState.DUPLICATE:
        lines.append(safe_text(snap.notice))
    return _badge(state_text(snap), _STATE_TONE[snap.state], "\n".join(lines), dark)


# -- thumbnail ------------------------------------------------------------------------

NOT_NEEDED = "Not needed: already in the bucket"
NOT_UPLOADED = "Skipped because the file was not uploaded"


def thumbnail_badge(snap: FileSnapshot, *, dark: bool = False) -> Badge:
    thumb = snap.thumbnail_state
    if thumb is ThumbnailState.GENERATED:
        tip = "Thumbnail made and uploaded"
        if snap.thumbnail_key:
            tip += f" as {safe_text(snap.thumbnail_key)}"
        return _badge("Generated", Tone.SUCCESS, tip, dark)
    if thumb is ThumbnailState.FAILED:
        reason = safe_text(snap.thumbnail_error or "The thumbnail could not be made.")
        return _badge("Failed", Tone.DANGER, reason, dark)
    if thumb is ThumbnailState.SKIPPED:
        if snap.state is FileState.DUPLICATE:
            tip = NOT_NEEDED
            if snap.thumbnail_key:
                tip += f" (as {safe_text(snap.thumbnail_key)})"
        else:
            tip = NOT_UPLOADED
        return _badge("Skipped", Tone.MUTED, tip, dark)
    if snap.state.is_final:
        return _badge("—", Tone.NEUTRAL, "No thumbnail was made.", dark)
    if snap.state is FileState.THUMBNAILING:
        return _badge("Making…", Tone.ACTIVE, "Making the thumbnail.", dark)
    return _badge("Pending", Tone.NEUTRAL, "The thumbnail is made after the bucket check.", dark)


# -- message --------------------------------------------------------------------------


def message_text(snap: FileSnapshot) -> str:
    """The Message column in full (may hold line breaks; see `one_line`)."""
    if snap.state is FileState.FAILED:
        return safe_text(snap.error or "Failed for an unknown reason.")
    if snap.state is FileState.UPLOADED and snap.thumbnail_state is ThumbnailState.FAILED:
        reason = snap.thumbnail_error or "unknown reason"
        return safe_text(f"Thumbnail failed: {reason}")
    if snap.state is FileState.DUPLICATE:
        return safe_text(
            f"Already in the bucket as {snap.key}" if snap.key else "Already in the bucket"
        )
    if snap.notice:
        return safe_text(snap.notice)
    return safe_text(snap.key or "")


# -- filtering ------------------------------------------------------------------------


class FilterCategory(enum.Enum):
    """The filter buttons above the queue: All, and app.core.policy's categories (whose
    rules decide which files each shows)."""

    ALL = "all"
    IN_PROGRESS = Category.IN_PROGRESS.value
    FAILED = Category.FAILED.value
    DONE = Category.DONE.value
    NOT_SENT = Category.NOT_SENT.value

    @property
    def label(self) -> str:
        return _CATEGORY_LABELS[self]

    @property
    def core(self) -> Category | None:
        """The policy category behind this filter (None for All)."""
        return None if self is FilterCategory.ALL else Category(self.value)


_CATEGORY_LABELS = {
    FilterCategory.ALL: "All",
    FilterCategory.IN_PROGRESS: "In progress",
    FilterCategory.FAILED: "Failed",
    FilterCategory.DONE: "Done",
    FilterCategory.NOT_SENT: "Not sent",
}


@cache
def _filters_for(found: frozenset[Category]) -> frozenset[FilterCategory]:
    shown = (FilterCategory(c.value) for c in found if c.value in _FILTER_VALUES)
    return frozenset({FilterCategory.ALL, *shown})


_FILTER_VALUES = frozenset(f.value for f in FilterCategory)


def category_of(snap: FileSnapshot) -> frozenset[FilterCategory]:
    """The filters `snap` is shown under (always including ALL)."""
    return _filters_for(categories(snap))


def in_category(snap: FileSnapshot, category: FilterCategory) -> bool:
    return category is FilterCategory.ALL or category in category_of(snap)
