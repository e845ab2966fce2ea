"""S3 object keys for an original photo and its thumbnail.

A key template is a `str.format`-style string with these placeholders: `{prefix}`,
`{stem}`, `{ext}`, `{sha256}` and `{sha8}`, and what the collector knows of the photo:
`{item}` and `{view}` (its item's id and view, "/" kept out), `{folder}` (the folder
relative to what was dropped, "/" kept) and `{taken:FORMAT}` (the date taken through
strftime, e.g. `{taken:%Y/%m}`; "undated" when the photo does not say). A literal brace
is written doubled (`{{` or `}}`), as with `str.format`. An unknown item, view or folder
is empty, and the empty folder it would leave is dropped.

Every key this module returns is valid UTF-8, at most 1024 bytes, has no leading "/",
no empty, "." or ".." segments, and no control characters. Readable Unicode (accents,
CJK, emoji) is kept as it is, in NFC form. When a key would be too long, the file's stem
is shortened, never the hash or the extension, so keys stay unique and keep their type.

render_keys also keeps every "/"-separated segment within 255 bytes: stores that keep
objects as files (MinIO, `rclone serve s3` and so the local test bucket) cannot hold a
longer name, and refuse it with an opaque internal error. A file name of 255 bytes, which
Linux allows, would otherwise never upload there once "-{sha8}" is added.

Decisions worth knowing:
- A backslash in a key or file name is not a separator on S3; it becomes "_".
  In a prefix typed by the user it *is* read as a folder separator ("coins\\2024").
- Characters that cannot be represented (lone surrogates from non-UTF-8 file names),
  control characters (C0, DEL, C1), bidirectional overrides, line/paragraph separators,
  the BOM and the XML-forbidden U+FFFE/U+FFFF all become "_".
- A file name with an empty stem (".jpg") or a stem of only dots and spaces uses "photo".
- Both templates must contain {sha8} or {sha256}, and must not give the same key for
  common extensions, so a thumbnail never overwrites its photo.
- A prefix so long that not even a one-character stem fits, or with a folder name over
  255 bytes, is an error (KeyTemplateError), never a silently truncated key that could
  lose its hash.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

DEFAULT_KEY_TEMPLATE = "{prefix}{stem}-{sha8}{ext}"
DEFAULT_THUMBNAIL_TEMPLATE = "{prefix}thumbnails/{stem}-{sha8}.jpg"
#: The display preview's key, without its extension (.jpg or .webp, as its format).
PREVIEW_TEMPLATE = "{prefix}previews/{stem}-{sha8}"
_LONGEST_PREVIEW_EXTENSION = ".webp"

MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255  # a file or folder name on most file systems (NAME_MAX)
#: The metadata sidecar sits at the photo's key plus this (app.core.sidecar): the photo's
#: key leaves room for it, or a long name's sidecar would not fit where the photo did.
SIDECAR_SUFFIX = ".json"
PLACEHOLDERS: tuple[str, ...] = (
    "prefix",
    "stem",
    "ext",
    "sha256",
    "sha8",
    "item",
    "view",
    "folder",
    "taken",
)
FALLBACK_STEM = "photo"
UNDATED = "undated"
DEFAULT_TAKEN_FORMAT = "%Y-%m-%d"
#: An item id, view or folder name longer than this is cut in a key (the sidecar keeps
#: it whole), so the photo's own name keeps room in the segment.
MAX_FIELD_CHARS = 100


@dataclass(frozen=True, slots=True)
class KeyFields:
    """What the collector and the photo say, for {item}, {view}, {folder} and {taken}."""

    item: str | None = None
    view: str | None = None
    folder: str | None = None
    taken_at: str | None = None  # ISO 8601, as in the sidecar


NO_FIELDS = KeyFields()
SAMPLE_FILENAME = "IMG_0042.jpg"
SAMPLE_SHA256 = "3b7d4f1e9a2c5d8e0f6a1b4c7d9e2f5a8b0c3d6e9f1a4b7c0d2e5f8a1b3c6d9e"
SAMPLE_FIELDS = KeyFields(
    item="coin-1907", view="obverse", folder="coins/1907", taken_at="2024-05-01T10:30:00+02:00"
)
_SAMPLE_DATE = datetime.fromisoformat(SAMPLE_FIELDS.taken_at or "")

_REPLACEMENT = "_"
# Keys must carry the content hash: different photos never share a key, and the engine
# relies on "same key and size means same content" when its hash index is incomplete.
_HASH_PLACEHOLDERS = frozenset({"sha8", "sha256"})
_PLACEHOLDER_LIST = "{prefix}, {stem}, {ext}, {sha256}, {sha8}, {item}, {view}, {folder} or {taken}"
# Extensions the engine is likely to pass; validate() checks that no template pair
# collides for any of them (a collision would make the thumbnail overwrite the photo).
_SAMPLE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".heic",
    ".heif",
    ".webp",
    ".avif",
    ".gif",
    ".tif",
    ".tiff",
    ".bmp",
    "",
)
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def _unsafe_code_points() -> list[int]:
    points = list(range(0x00, 0x20))  # C0 controls
    points += range(0x7F, 0xA0)  # DEL and C1 controls
    points += range(0xD800, 0xE000)  # lone surrogates (surrogateescape'd bytes)
    points += [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # bidi
    points += [0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF]
    points.append(ord("\\"))
    return points


_UNSAFE_TABLE: dict[int, str] = dict.fromkeys(_unsafe_code_points(), _REPLACEMENT)
# Trailing pieces of a grapheme we should not leave dangling after trimming a stem.
_GRAPHEME_EXTENDERS = frozenset({"\u200d", *map(chr, range(0xFE00, 0xFE10))})


class KeyTemplateError(ValueError):
    """A key template or prefix that cannot produce valid keys; the message is for people."""


@dataclass(frozen=True)
class KeyTemplate:
    """The pair of templates for a photo's key and its thumbnail's key."""

    original: str = DEFAULT_KEY_TEMPLATE
    thumbnail: str = DEFAULT_THUMBNAIL_TEMPLATE

    def __post_init__(self) -> None:
        self.validate()

    @functools.cached_property
    def uses_taken(self) -> bool:
        """Whether keys need the date taken (read from the photo before it is keyed)."""
        return any(
            field == "taken"
            for template in (self.original, self.thumbnail)
            for _literal, field, _spec, _conversion in string.Formatter().parse(template)
        )

    def validate(self) -> None:
        """Raise KeyTemplateError with a plain-language reason if the templates are unusable."""
        _check_template(self.original, "photo key template", DEFAULT_KEY_TEMPLATE)
        _check_template(self.thumbnail, "thumbnail key template", DEFAULT_THUMBNAIL_TEMPLATE)
        if self.original == self.thumbnail:
            raise KeyTemplateError(
                "The thumbnail key template must differ from the photo key template, "
                "otherwise thumbnails would overwrite the photos."
            )
        for ext in _SAMPLE_EXTENSIONS:
            for fields in (SAMPLE_FIELDS, NO_FIELDS):
                render_keys(
                    self,
                    prefix="",
                    filename=SAMPLE_FILENAME,
                    sha256=SAMPLE_SHA256,
                    ext=ext,
                    fields=fields,
                )


def _check_template(template: object, label: str, default: str) -> None:
    if not isinstance(template, str) or not template.strip():
        raise KeyTemplateError(f"The {label} is empty; the default is {default}.")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise KeyTemplateError(
            f"The {label} has a lone {{ or }}. Placeholders look like {{stem}}; "
            "write {{ or }} for a literal brace."
        ) from None
    fields: set[str] = set()
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            raise KeyTemplateError(
                f"Unknown placeholder {{{field}}} in the {label}; use {_PLACEHOLDER_LIST}."
            )
        if conversion or (spec and field != "taken"):
            raise KeyTemplateError(
                f"Formatting options are not supported in the {label} except for the date "
                f"taken ({{taken:%Y/%m}}); write the placeholder as just {{{field}}}."
            )
        if spec and ("{" in spec or not _SAMPLE_DATE.strftime(spec).strip()):
            raise KeyTemplateError(
                f"The date format in {{taken:{spec}}} gives nothing; use strftime codes "
                "such as %Y (year), %m (month) and %d (day)."
            )
        fields.add(field)
    if not fields & _HASH_PLACEHOLDERS:
        raise KeyTemplateError(
            f"The {label} must contain {{sha8}} or {{sha256}}, so that two different "
            "photos with the same name never overwrite each other."
        )


def _clean_chars(text: str) -> str:
    """Replace unsafe characters by "_" and NFC-normalise; keeps "/" untouched."""
    return unicodedata.normalize("NFC", text.translate(_UNSAFE_TABLE))


def _clean_segments(text: str) -> str:
    return "/".join(part for part in text.split("/") if part not in ("", ".", ".."))


def _tidy(key: str) -> str:
    """sanitize_key without the length limit."""
    return _clean_segments(_clean_chars(key))


def normalize_prefix(prefix: str) -> str:
    """Turn a user-typed prefix into "" or "folder/sub/" (always ending in "/").

    Whitespace around each folder name, empty, "." and ".." folders are removed;
    a backslash counts as a folder separator here, since people type Windows paths.
    """
    segments = (_clean_chars(part.strip()).strip() for part in prefix.replace("\\", "/").split("/"))
    kept = [part for part in segments if part not in ("", ".", "..")]
    return "/".join(kept) + "/" if kept else ""


def sanitize_key(key: str) -> str:
    """Make `key` a safe S3 key: see the module docstring for the guarantees.

    Too-long keys are cut on a character boundary as a last resort; render_keys
    avoids this by shortening the stem first. Never returns an empty key.
    """
    cleaned = _tidy(key)
    encoded = cleaned.encode("utf-8")
    limit = MAX_KEY_BYTES
    while len(encoded) > MAX_KEY_BYTES:
        cut = encoded[:limit].decode("utf-8", "ignore")
        cleaned = _clean_segments(unicodedata.normalize("NFC", cut))
        encoded = cleaned.encode("utf-8")
        limit -= 1
    return cleaned or _REPLACEMENT


def _split_stem(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[:dot] if dot >= 0 else filename


def _clean_stem(stem: str) -> str:
    """A stem cannot introduce folders, and is never empty."""
    stem = _clean_chars(stem.replace("/", _REPLACEMENT))
    if not stem.strip().strip("."):
        return FALLBACK_STEM
    return stem


def _trim_stem(stem: str, length: int) -> str:
    trimmed = stem[:length]
    while len(trimmed) > 1 and (
        unicodedata.combining(trimmed[-1]) or trimmed[-1] in _GRAPHEME_EXTENDERS
    ):
        trimmed = trimmed[:-1]
    return trimmed


_Keys = tuple[str, str, str]  # original, thumbnail, preview without its extension


def _fits(keys: _Keys) -> bool:
    """Whether every key fits, the preview's whether previews are made or not (so that
    turning them on never changes a photo's key)."""
    original, thumbnail, preview = keys
    return all(
        len(key.encode("utf-8")) <= MAX_KEY_BYTES
        and all(len(segment.encode("utf-8")) <= MAX_SEGMENT_BYTES for segment in key.split("/"))
        for key in (original + SIDECAR_SUFFIX, thumbnail, preview + _LONGEST_PREVIEW_EXTENSION)
    )


def _shorten(build: Callable[[str], _Keys], stem: str) -> _Keys:
    """Binary-search the longest stem prefix for which every key fits."""
    best: _Keys | None = None
    low, high = 1, len(stem) - 1
    while low <= high:
        middle = (low + high) // 2
        keys = build(_trim_stem(stem, middle))
        if _fits(keys):
            best, low = keys, middle + 1
        else:
            high = middle - 1
    if best is None:
        raise KeyTemplateError(
            "The prefix and key template leave no room for the file name within "
            f"S3's {MAX_KEY_BYTES}-byte key limit; please shorten the prefix."
        )
    return best


def _check_prefix_segments(prefix: str) -> None:
    for segment in prefix.split("/"):
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise KeyTemplateError(
                f"A folder name in the prefix is longer than {MAX_SEGMENT_BYTES} bytes, which "
                "many S3-compatible stores cannot hold; please shorten the prefix."
            )


class _Taken:
    """{taken:FORMAT}: the camera's own wall-clock time through strftime."""

    def __init__(self, taken_at: str | None) -> None:
        try:
            self.when = datetime.fromisoformat(taken_at) if taken_at else None
        except ValueError:
            self.when = None

    def __format__(self, spec: str) -> str:
        if self.when is None:
            return UNDATED
        return self.when.strftime(spec or DEFAULT_TAKEN_FORMAT)


def _field(value: str | None, *, folders: bool = False) -> str:
    """An item id, view or folder as key text: cleaned, cut to MAX_FIELD_CHARS a
    segment; "/" becomes "_" unless it separates the folder's own folders."""
    if not value:
        return ""
    parts = value.split("/") if folders else [value.replace("/", _REPLACEMENT)]
    return "/".join(_trim_stem(_clean_chars(part).strip(), MAX_FIELD_CHARS) for part in parts)


def render_keys(
    template: KeyTemplate,
    *,
    prefix: str,
    filename: str,
    sha256: str,
    ext: str,
    fields: KeyFields = NO_FIELDS,
) -> tuple[str, str]:
    """Return (original_key, thumbnail_key) for one file: render_all without a preview."""
    original, thumbnail, _preview = render_all(
        template, prefix=prefix, filename=filename, sha256=sha256, ext=ext, fields=fields
    )
    return original, thumbnail


def render_all(
    template: KeyTemplate,
    *,
    prefix: str,
    filename: str,
    sha256: str,
    ext: str,
    fields: KeyFields = NO_FIELDS,
    preview_extension: str | None = None,
) -> tuple[str, str, str | None]:
    """Return (original_key, thumbnail_key, preview_key) for one file; the preview's key
    (under previews/, named as the thumbnail) only with its `preview_extension`.

    Args:
        template: The validated templates.
        prefix: The user's prefix; normalised here, so "coins" and "coins/" are the same.
        filename: The file's name (not its path). Its last extension is dropped for
            {stem}; any "/" or "\\" in it becomes "_", so it cannot create folders.
        sha256: The file's SHA-256 as 64 hex characters.
        ext: The extension to use for {ext}, with its dot, as corrected by the caller.
        fields: The item, view, folder and date taken, for the templates that use them.
        preview_extension: .jpg or .webp, when previews are made.

    Raises:
        KeyTemplateError: the keys cannot fit in 1024 bytes (255 per segment) even with
            a one-character stem, or two of them would be the same.
        ValueError: sha256 is not 64 hex characters.
    """
    original, thumbnail, preview = _render(
        template, prefix=prefix, filename=filename, sha256=sha256, ext=ext, fields=fields
    )
    if preview_extension is None:
        return original, thumbnail, None
    key = sanitize_key(preview + preview_extension)
    if key in (original, thumbnail):
        raise KeyTemplateError(
            "The photo key template gives the key of its preview; keep photos out of the "
            "previews/ folder."
        )
    return original, thumbnail, key


def _render(
    template: KeyTemplate,
    *,
    prefix: str,
    filename: str,
    sha256: str,
    ext: str,
    fields: KeyFields,
) -> _Keys:
    sha = sha256.lower()
    if not _SHA256_RE.fullmatch(sha):
        raise ValueError(f"sha256 must be 64 hex characters, got {sha256!r}")
    prefix = normalize_prefix(prefix)
    _check_prefix_segments(prefix)
    values: dict[str, object] = {
        "prefix": prefix,
        "ext": _clean_chars(ext.replace("/", _REPLACEMENT)),
        "sha256": sha,
        "sha8": sha[:8],
        "item": _field(fields.item),
        "view": _field(fields.view),
        "folder": _field(fields.folder, folders=True),
        "taken": _Taken(fields.taken_at),
    }

    def build(stem: str) -> _Keys:
        return (
            _tidy(template.original.format_map({**values, "stem": stem})),
            _tidy(template.thumbnail.format_map({**values, "stem": stem})),
            _tidy(PREVIEW_TEMPLATE.format_map({**values, "stem": stem})),
        )

    stem = _clean_stem(_split_stem(filename))
    keys = build(stem)
    if not _fits(keys):
        keys = _shorten(build, stem)
    original, thumbnail = sanitize_key(keys[0]), sanitize_key(keys[1])
    if original == thumbnail:
        kind = f"{ext} files" if ext else "files without an extension"
        raise KeyTemplateError(
            f"The photo and thumbnail key templates give the same key for {kind}, so the "
            "thumbnail would overwrite the photo; put thumbnails under their own folder, "
            "for example thumbnails/."
        )
    return original, thumbnail, keys[2]


def sample_keys(
    template: KeyTemplate, prefix: str, fields: KeyFields = SAMPLE_FIELDS
) -> tuple[str, str]:
    """Keys for a fixed sample photo (of item coin-1907, obverse, in coins/1907, taken on
    2024-05-01), for the settings dialog's live preview.

    Raises KeyTemplateError like render_keys (for example, a prefix that is far too long).
    """
    return render_keys(
        template,
        prefix=prefix,
        filename=SAMPLE_FILENAME,
        sha256=SAMPLE_SHA256,
        ext=".jpg",
        fields=fields,
    )
