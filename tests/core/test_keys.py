"""Keys for photos and thumbnails: examples, then properties over arbitrary names."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.keys import (
    DEFAULT_KEY_TEMPLATE,
    DEFAULT_THUMBNAIL_TEMPLATE,
    MAX_KEY_BYTES,
    MAX_SEGMENT_BYTES,
    SIDECAR_SUFFIX,
    UNDATED,
    KeyFields,
    KeyTemplate,
    KeyTemplateError,
    normalize_prefix,
    render_all,
    render_keys,
    sample_keys,
    sanitize_key,
)

SHA = hashlib.sha256(b"a coin").hexdigest()
OTHER_SHA = hashlib.sha256(b"another coin").hexdigest()


def keys(
    filename: str,
    *,
    prefix: str = "coins",
    ext: str = ".jpg",
    sha: str = SHA,
    template: KeyTemplate | None = None,
) -> tuple[str, str]:
    return render_keys(
        template or KeyTemplate(), prefix=prefix, filename=filename, sha256=sha, ext=ext
    )


def assert_safe_key(key: str) -> None:
    encoded = key.encode("utf-8")  # strict: raises on lone surrogates
    assert 0 < len(encoded) <= MAX_KEY_BYTES
    assert not key.startswith("/")
    assert all(segment not in ("", ".", "..") for segment in key.split("/"))
    assert not any(unicodedata.category(char) in ("Cc", "Cs") for char in key)
    assert "\\" not in key
    assert unicodedata.normalize("NFC", key) == key


# --- templates ------------------------------------------------------------------------


def test_defaults() -> None:
    template = KeyTemplate()
    assert template.original == DEFAULT_KEY_TEMPLATE == "{prefix}{stem}-{sha8}{ext}"
    assert template.thumbnail == DEFAULT_THUMBNAIL_TEMPLATE


@pytest.mark.parametrize(
    ("original", "message"),
    [
        ("{prefix}{foo}{ext}", "Unknown placeholder {foo}"),
        ("{prefix}{}{ext}", "Unknown placeholder {}"),
        ("{prefix}{stem.upper}", "Unknown placeholder {stem.upper}"),
        ("{prefix}{stem", "lone { or }"),
        ("{prefix}}{stem}", "lone { or }"),
        ("{prefix}{stem!r}", "Formatting options are not supported"),
        ("{prefix}{stem:>20}", "Formatting options are not supported"),
        ("{prefix}photo{ext}", "must contain {sha8} or {sha256}"),
        ("{prefix}{stem}{ext}", "must contain {sha8} or {sha256}"),
        ("", "is empty"),
        ("   ", "is empty"),
    ],
)
def test_bad_templates_are_explained(original: str, message: str) -> None:
    with pytest.raises(KeyTemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        KeyTemplate(original=original)


def test_bad_thumbnail_template_names_the_thumbnail() -> None:
    with pytest.raises(KeyTemplateError, match="thumbnail key template"):
        KeyTemplate(thumbnail="{prefix}thumbs/{nope}.jpg")


def test_templates_must_differ() -> None:
    with pytest.raises(KeyTemplateError, match="must differ"):
        KeyTemplate(original="{prefix}{sha256}.jpg", thumbnail="{prefix}{sha256}.jpg")


def test_templates_that_collide_for_jpeg_are_refused() -> None:
    with pytest.raises(KeyTemplateError, match=r"same key for \.jpg files"):
        KeyTemplate(original="{prefix}{stem}-{sha8}{ext}", thumbnail="{prefix}{stem}-{sha8}.jpg")


def test_key_template_error_is_a_value_error() -> None:
    assert issubclass(KeyTemplateError, ValueError)


def test_doubled_braces_are_literal() -> None:
    template = KeyTemplate(original="{prefix}{{{stem}}}-{sha8}{ext}")
    assert keys("IMG_1.jpg", template=template)[0] == f"coins/{{IMG_1}}-{SHA[:8]}.jpg"


def test_sha256_and_sha8_placeholders() -> None:
    template = KeyTemplate(original="{prefix}{sha256}{ext}", thumbnail="{prefix}small/{sha8}.jpg")
    assert keys("x.png", ext=".png", template=template) == (
        f"coins/{SHA}.png",
        f"coins/small/{SHA[:8]}.jpg",
    )


def test_sha256_must_be_hex() -> None:
    with pytest.raises(ValueError, match="64 hex"):
        keys("a.jpg", sha="not-a-hash")
    assert keys("a.jpg", sha=SHA.upper()) == keys("a.jpg", sha=SHA)


# --- prefixes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("/", ""),
        ("coins", "coins/"),
        ("coins/", "coins/"),
        ("/coins", "coins/"),
        ("  coins  ", "coins/"),
        ("coins//2024", "coins/2024/"),
        ("coins/./2024/../x", "coins/2024/x/"),
        ("../../etc", "etc/"),
        ("coins\\2024", "coins/2024/"),
        (" coins / 2024 ", "coins/2024/"),
        ("Münzen/Ägypten", "Münzen/Ägypten/"),
        ("a\x00b", "a_b/"),
    ],
)
def test_normalize_prefix(raw: str, expected: str) -> None:
    assert normalize_prefix(raw) == expected


# --- sanitize_key ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a/b.jpg", "a/b.jpg"),
        ("/a//b/./c/../d.jpg", "a/b/c/d.jpg"),
        ("a\\b.jpg", "a_b.jpg"),
        ("tab\there\nnew\x7fdel\x85nel.jpg", "tab_here_new_del_nel.jpg"),
        ("bad\udcffbyte.jpg", "bad_byte.jpg"),
        ("evil\u202egpj.exe", "evil_gpj.exe"),
        ("Mu\u0308nze.jpg", "Münze.jpg"),
        ("東京 🪙 👨‍👩‍👧.jpg", "東京 🪙 👨‍👩‍👧.jpg"),
        ("", "_"),
        ("/", "_"),
        ("../..", "_"),
        ("dir/", "dir"),
    ],
)
def test_sanitize_key(raw: str, expected: str) -> None:
    assert sanitize_key(raw) == expected


def test_sanitize_key_cuts_overlong_keys_on_a_character_boundary() -> None:
    key = sanitize_key("€" * 1000)
    assert len(key.encode()) <= MAX_KEY_BYTES
    assert set(key) == {"€"}
    assert len(key.encode()) > MAX_KEY_BYTES - 3


def test_sanitize_key_truncation_never_leaves_a_dot_segment() -> None:
    key = sanitize_key("a" * 1022 + "/.x")
    assert key == "a" * 1022
    assert_safe_key(key)


# --- render_keys ----------------------------------------------------------------------


def test_default_keys() -> None:
    assert keys("IMG_0042.JPG") == (
        f"coins/IMG_0042-{SHA[:8]}.jpg",
        f"coins/thumbnails/IMG_0042-{SHA[:8]}.jpg",
    )


def test_unicode_names_stay_readable() -> None:
    original, thumbnail = keys("Münze 1923 ✓.jpg")
    assert original == f"coins/Münze 1923 ✓-{SHA[:8]}.jpg"
    assert thumbnail == f"coins/thumbnails/Münze 1923 ✓-{SHA[:8]}.jpg"
    assert keys("Mu\u0308nze 1923 ✓.jpg") == (original, thumbnail)  # macOS NFD names


def test_stem_drops_only_the_last_extension() -> None:
    assert keys("coin.tar.png", ext=".png")[0] == f"coins/coin.tar-{SHA[:8]}.png"
    assert keys("noext", ext=".heic")[0] == f"coins/noext-{SHA[:8]}.heic"


@pytest.mark.parametrize("filename", [".jpg", "..jpg", "...jpg", " .jpg", ""])
def test_empty_stem_becomes_photo(filename: str) -> None:
    assert keys(filename)[0] == f"coins/photo-{SHA[:8]}.jpg"


def test_a_file_name_cannot_create_folders() -> None:
    original, _ = keys("../../etc/passwd.jpg")
    assert original == f"coins/.._.._etc_passwd-{SHA[:8]}.jpg"
    assert keys("a\\b.jpg")[0] == f"coins/a_b-{SHA[:8]}.jpg"


def test_ext_is_used_as_given() -> None:
    # The caller corrects the extension from the magic bytes.
    assert keys("scan.jpg", ext=".png")[0] == f"coins/scan-{SHA[:8]}.png"
    assert keys("scan.jpg", ext="")[0] == f"coins/scan-{SHA[:8]}"


def test_long_names_shorten_the_stem_and_keep_hash_and_extension() -> None:
    original, thumbnail = keys("€" * 2000 + ".jpeg", ext=".jpeg")
    assert original.endswith(f"€-{SHA[:8]}.jpeg")
    assert thumbnail.endswith(f"€-{SHA[:8]}.jpg")
    # Shortened only as far as needed: the photo's name with its sidecar's ".json" is just
    # under 255 bytes, the most a file-backed store (MinIO, rclone, the local test bucket)
    # can hold; it failed there, retried for minutes, when the sidecar's did not fit.
    sidecar = original.rsplit("/", 1)[1] + SIDECAR_SUFFIX
    assert MAX_SEGMENT_BYTES - 3 < len(sidecar.encode()) <= MAX_SEGMENT_BYTES
    assert len(thumbnail.rsplit("/", 1)[1].encode()) <= MAX_SEGMENT_BYTES
    # The same shortened stem in both keys, so a thumbnail is easy to match to its photo.
    assert original.removeprefix("coins/").removesuffix(".jpeg") == (
        thumbnail.removeprefix("coins/thumbnails/").removesuffix(".jpg")
    )


def test_shortening_does_not_leave_half_an_emoji_sequence() -> None:
    family = "👨\u200d👩\u200d👧"
    original, _ = keys(family * 200 + ".jpg")
    stem = original.removeprefix("coins/").removesuffix(f"-{SHA[:8]}.jpg")
    assert not stem.endswith("\u200d")


def test_a_prefix_too_long_for_any_key_is_explained() -> None:
    with pytest.raises(KeyTemplateError, match="shorten the prefix"):
        keys("a.jpg", prefix="p" * 1100)
    with pytest.raises(KeyTemplateError, match="shorten the prefix"):
        sample_keys(KeyTemplate(), "p" * 1100)


def test_sample_keys_for_the_settings_preview() -> None:
    original, thumbnail = sample_keys(KeyTemplate(), "coins")
    assert original.startswith("coins/IMG_0042-") and original.endswith(".jpg")
    assert thumbnail.startswith("coins/thumbnails/IMG_0042-")
    assert sample_keys(KeyTemplate(), "coins") == (original, thumbnail)


# --- what the collector knows: {item}, {view}, {folder}, {taken:FORMAT} -------------

BY_ITEM = KeyTemplate(original="{prefix}{item}/{taken:%Y/%m}/{view}-{stem}-{sha8}{ext}")


def fielded(template: KeyTemplate, fields: KeyFields, filename: str = "IMG_1.jpg") -> str:
    return render_keys(
        template, prefix="coins", filename=filename, sha256=SHA, ext=".jpg", fields=fields
    )[0]


def test_item_view_and_date_taken_name_folders() -> None:
    fields = KeyFields(item="Morgan 1921", view="obverse", taken_at="2019-07-14T09:30:00+02:00")
    assert fielded(BY_ITEM, fields) == f"coins/Morgan 1921/2019/07/obverse-IMG_1-{SHA[:8]}.jpg"
    # The camera's own wall-clock time, not converted to UTC.
    late = KeyFields(taken_at="2019-12-31T23:30:00-05:00")
    assert fielded(KeyTemplate(original="{taken:%Y}/{stem}-{sha8}{ext}"), late).startswith("2019/")


def test_a_photo_that_does_not_say_when_it_was_taken_is_undated() -> None:
    key = fielded(BY_ITEM, KeyFields(item="Morgan 1921"))
    assert key == f"coins/Morgan 1921/{UNDATED}/-IMG_1-{SHA[:8]}.jpg"
    # Not a date at all (a broken EXIF value): undated too, never an error.
    assert f"/{UNDATED}/" in fielded(BY_ITEM, KeyFields(taken_at="yesterday"))


def test_taken_without_a_format_is_the_day() -> None:
    template = KeyTemplate(original="{taken}/{stem}-{sha8}{ext}")
    assert fielded(template, KeyFields(taken_at="2019-07-14T09:30:00")).startswith("2019-07-14/")


def test_no_item_leaves_no_empty_folder() -> None:
    template = KeyTemplate(original="{prefix}{item}/{stem}-{sha8}{ext}")
    assert fielded(template, KeyFields()) == f"coins/IMG_1-{SHA[:8]}.jpg"


def test_an_item_or_view_cannot_make_folders_but_the_folder_keeps_its_own() -> None:
    template = KeyTemplate(original="{item}/{view}/{folder}/{stem}-{sha8}{ext}")
    fields = KeyFields(item="a/b", view="../up", folder="Coins/1921/../x\udcff")
    key = fielded(template, fields)
    assert key == f"a_b/.._up/Coins/1921/x_/IMG_1-{SHA[:8]}.jpg"
    assert_safe_key(key)


def test_a_long_item_id_is_cut_in_the_key_but_the_hash_stays() -> None:
    template = KeyTemplate(original="{item}/{stem}-{sha8}{ext}")
    key = fielded(template, KeyFields(item="x" * 500))
    assert key.split("/")[0] == "x" * 100 and key.endswith(f"-{SHA[:8]}.jpg")


def test_only_the_date_takes_a_format_and_an_empty_one_is_refused() -> None:
    with pytest.raises(KeyTemplateError, match="except for the date taken"):
        KeyTemplate(original="{item:>9}-{sha8}{ext}")
    with pytest.raises(KeyTemplateError, match="gives nothing"):
        KeyTemplate(original="{taken: }-{sha8}{ext}")
    with pytest.raises(KeyTemplateError, match=r"Unknown placeholder \{album\}"):
        KeyTemplate(original="{album}-{sha8}{ext}")


def test_only_templates_with_the_date_need_it_read() -> None:
    assert BY_ITEM.uses_taken
    assert not KeyTemplate().uses_taken
    assert not KeyTemplate(original="{item}/{stem}-{sha8}{ext}").uses_taken


def test_the_settings_preview_shows_a_sample_item() -> None:
    original, _ = sample_keys(BY_ITEM, "coins")
    assert original == "coins/coin-1907/2024/05/obverse-IMG_0042-3b7d4f1e.jpg"


# --- properties -----------------------------------------------------------------------

_TRICKY = [
    "..",
    ".",
    "/",
    "//",
    "\\",
    "\x00",
    "\x1f",
    "\x7f",
    "\x9b",
    "\udcff",
    "\ud800",
    "e\u0301",
    "✓",
    "👨\u200d👩\u200d👧",
    "\u202e",
    "\ufeff",
    " ",
    "東京",
    "\u0301",
]
any_text = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=()), max_size=20),
        st.sampled_from(_TRICKY),
    ),
    max_size=12,
).map("".join)
long_text = st.tuples(
    st.sampled_from(["a", "é", "€", "🪙", "e\u0301", "/", "\udcff"]), st.integers(200, 1500)
).map(lambda pair: pair[0] * pair[1])
filenames = st.one_of(any_text, long_text, st.tuples(any_text, long_text).map("".join))
short_text = st.lists(
    st.one_of(st.text(st.characters(exclude_categories=()), max_size=10), st.sampled_from(_TRICKY)),
    max_size=6,
).map("".join)  # at most 240 bytes: a prefix folder name stays within 255 bytes
prefixes = st.one_of(short_text, st.sampled_from(["", "coins", "/a//b/../c/", "Münzen\\2024"]))
extensions = st.sampled_from([".jpg", ".jpeg", ".png", ".heic", ".webp", ".tif", ""])
hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)
templates = st.sampled_from(
    [
        KeyTemplate(),
        KeyTemplate(original="{prefix}{sha256}{ext}", thumbnail="{prefix}t/{sha256}.jpg"),
        KeyTemplate(original="{prefix}{stem}/{sha8}{ext}", thumbnail="{prefix}{stem}/{sha8}-t.jpg"),
        KeyTemplate(original="{stem}-{sha8}{ext}", thumbnail="{prefix}{stem}-{sha8}-thumb.jpg"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(any_text | long_text)
def test_sanitize_key_properties(raw: str) -> None:
    key = sanitize_key(raw)
    assert_safe_key(key)
    assert sanitize_key(key) == key


@settings(max_examples=200, deadline=None)
@given(prefixes)
def test_normalize_prefix_properties(raw: str) -> None:
    prefix = normalize_prefix(raw)
    assert normalize_prefix(prefix) == prefix
    if prefix:
        assert prefix.endswith("/")
        assert_safe_key(prefix.removesuffix("/"))
        assert all(segment == segment.strip() for segment in prefix[:-1].split("/"))


@settings(max_examples=300, deadline=None)
@given(template=templates, prefix=prefixes, filename=filenames, ext=extensions, sha=hashes)
def test_rendered_keys_are_safe(
    template: KeyTemplate, prefix: str, filename: str, ext: str, sha: str
) -> None:
    original, thumbnail = render_keys(
        template, prefix=prefix, filename=filename, sha256=sha, ext=ext
    )
    assert_safe_key(original)
    assert_safe_key(thumbnail)
    assert original != thumbnail
    assert original.endswith(ext)
    assert thumbnail.endswith(".jpg")
    assert sha[:8] in original and sha[:8] in thumbnail


@settings(max_examples=200, deadline=None)
@given(prefix=prefixes, filename=filenames, ext=extensions, first=hashes, second=hashes)
def test_distinct_hashes_give_distinct_keys(
    prefix: str, filename: str, ext: str, first: str, second: str
) -> None:
    by_sha8 = KeyTemplate()
    by_sha256 = KeyTemplate(
        original="{prefix}{stem}-{sha256}{ext}", thumbnail="{prefix}t/{stem}-{sha256}.jpg"
    )
    for template, differ in ((by_sha8, first[:8] != second[:8]), (by_sha256, first != second)):
        a = render_keys(template, prefix=prefix, filename=filename, sha256=first, ext=ext)
        b = render_keys(template, prefix=prefix, filename=filename, sha256=second, ext=ext)
        assert (a[0] != b[0]) == differ
        assert (a[1] != b[1]) == differ


# --- the display preview's key ---------------------------------------------------------


def _preview_key(filename: str, extension: str, prefix: str = "coins") -> str:
    _original, _thumbnail, preview = render_all(
        KeyTemplate(), prefix=prefix, filename=filename, sha256=SHA, ext=".jpg",
        preview_extension=extension,
    )  # fmt: skip
    assert preview is not None
    return preview


def test_a_preview_goes_under_previews_named_as_its_thumbnail() -> None:
    _, thumbnail = render_keys(
        KeyTemplate(), prefix="coins", filename="IMG_1.JPG", sha256=SHA, ext=".jpg"
    )
    assert thumbnail == f"coins/thumbnails/IMG_1-{SHA[:8]}.jpg"
    assert _preview_key("IMG_1.JPG", ".jpg") == f"coins/previews/IMG_1-{SHA[:8]}.jpg"
    assert _preview_key("IMG_1.JPG", ".webp") == f"coins/previews/IMG_1-{SHA[:8]}.webp"


def test_a_long_name_is_cut_so_its_preview_fits_too_whatever_its_format() -> None:
    name = "é" * 600 + ".jpg"
    _original, thumbnail = render_keys(
        KeyTemplate(), prefix="", filename=name, sha256=SHA, ext=".jpg"
    )
    for extension in (".jpg", ".webp"):
        preview = _preview_key(name, extension, prefix="")
        assert len(preview.encode()) <= MAX_KEY_BYTES
        assert all(len(part.encode()) <= MAX_SEGMENT_BYTES for part in preview.split("/"))
        assert preview.removeprefix("previews/").removesuffix(extension) == (
            thumbnail.removeprefix("thumbnails/").removesuffix(".jpg")
        )  # the same stem as the thumbnail: keys do not depend on previews being on


def test_a_photo_template_that_lands_on_the_preview_key_is_refused() -> None:
    template = KeyTemplate(original="{prefix}previews/{stem}-{sha8}{ext}")
    with pytest.raises(KeyTemplateError, match="keep photos out of the previews/ folder"):
        render_all(
            template, prefix="", filename="a.jpg", sha256=SHA, ext=".jpg", preview_extension=".jpg"
        )
