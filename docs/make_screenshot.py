"""Make docs/screenshot.png from a real run: the window uploads a small collection to
the local test bucket, one failed file is selected, and the window is grabbed.

Usage: python docs/make_screenshot.py [OUT.png]   (offscreen; needs no display)
SHOT_SIZE=WxH sets the window's size; SHOT_TAB=bucket shoots the Bucket tab instead
(docs/bucket.png), after the same uploads (SHOT_GROUPED=1: grouped by item;
SHOT_LIST=1: as a list).
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PIL import Image, ImageDraw  # noqa: E402

from tests.helpers import corpus, rawfiles  # noqa: E402


def coin(path: Path, hue: tuple[int, int, int], seed: int) -> Path:
    size = 900
    im = Image.new("RGB", (size, size), (38, 40, 46))
    draw = ImageDraw.Draw(im)
    for r in range(400, 0, -4):
        shade = 0.55 + 0.45 * math.cos(r / 400 * math.pi / 2 + seed)
        colour = tuple(int(c * shade) for c in hue)
        draw.ellipse((450 - r, 450 - r, 450 + r, 450 + r), fill=colour)
    draw.ellipse((120, 120, 780, 780), outline=tuple(min(255, c + 40) for c in hue), width=10)
    im.save(path, "JPEG", quality=90)
    return path


def stamp(path: Path, colour: tuple[int, int, int]) -> Path:
    im = Image.new("RGB", (700, 860), (245, 240, 228))
    draw = ImageDraw.Draw(im)
    for x in range(0, 700, 28):
        draw.ellipse((x - 9, -9, x + 9, 9), fill=(255, 255, 255))
        draw.ellipse((x - 9, 851, x + 9, 869), fill=(255, 255, 255))
    draw.rectangle((60, 60, 640, 800), fill=colour)
    draw.rectangle((110, 110, 590, 620), fill=(250, 246, 236))
    draw.polygon([(350, 160), (520, 560), (180, 560)], fill=tuple(c // 2 for c in colour))
    im.save(path, "JPEG", quality=90)
    return path


def page(path: Path) -> Path:
    im = Image.new("RGB", (1000, 1400), (236, 226, 200))
    draw = ImageDraw.Draw(im)
    for y in range(160, 1300, 38):
        draw.line((120, y, 880 - (y * 7) % 160, y), fill=(70, 60, 50), width=6)
    im.save(path, "PNG")
    return path


def make_collection(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    coin(folder / "1921 Morgan dollar obverse.jpg", (200, 200, 210), 0)
    coin(folder / "1921 Morgan dollar reverse.jpg", (190, 190, 200), 1)
    coin(folder / "Sovereign 1911.jpg", (222, 178, 80), 2)
    coin(folder / "Penny 1967.jpg", (176, 104, 62), 3)
    stamp(folder / "Penny Black.jpg", (30, 30, 36))
    stamp(folder / "Inverted Jenny.jpg", (170, 40, 50))
    page(folder / "Folio 12 recto.png")
    # The duplicate: the same sovereign photo under another name.
    (folder / "Sovereign 1911 (copy).jpg").write_bytes((folder / "Sovereign 1911.jpg").read_bytes())
    corpus.truncated_jpeg(folder / "Half crown 1887 (card reader error).jpg")
    corpus.text_named_jpg(folder / "catalogue notes.jpg")
    # RAW files: one with the camera's preview inside, one (a bare DNG) without.
    preview = io.BytesIO()
    with Image.open(coin(folder / "raw-preview.png", (230, 190, 90), 4)) as image:
        image.convert("RGB").save(preview, "JPEG", quality=90)
    (folder / "raw-preview.png").unlink()
    rawfiles.cr2(folder / "Guinea 1798 IMG_0412.CR2", preview=preview.getvalue())
    rawfiles.pidng_dng(folder / "Farthing 1860 scan.dng")


async def shoot(window: object, out: Path) -> None:
    from app.core.models import FileState
    from app.ui.window import MainWindow

    assert isinstance(window, MainWindow)
    width, height = (int(n) for n in os.environ.get("SHOT_SIZE", "1280x720").split("x"))
    window.resize(width, height)
    for _ in range(1200):  # up to a minute for the uploads to finish
        await asyncio.sleep(0.05)
        if window.model.rowCount() >= 12 and not window.controller.has_unfinished():
            break
    await asyncio.sleep(0.5)  # previews decode in the background; let them arrive
    failed = window.model.file_ids_where(
        lambda s: s.state is FileState.UPLOADED and s.thumbnail_error is not None
    )
    row = window.model.row_of(failed[0]) if failed else 0
    proxy_row = window.proxy.mapFromSource(window.model.index(row or 0, 0)).row()
    window.table.selectRow(proxy_row)
    await asyncio.sleep(0.3)
    if os.environ.get("SHOT_TAB") == "bucket":
        await shoot_bucket(window)
    # (Offscreen, the pointer rests on the first toolbar button: its hint would cover
    # the counts a user sees.)
    window.status.clearMessage()
    window.grab().save(str(out))
    print(f"saved {out} ({window.model.rowCount()} files)")


async def shoot_bucket(window: object) -> None:
    from app.ui.window import MainWindow

    assert isinstance(window, MainWindow)
    window.tabs.setCurrentWidget(window.bucket_page)
    page = window.bucket_page
    for _ in range(400):
        await asyncio.sleep(0.05)
        if page.model.photos_shown and not page.loading and page.sorted_by:
            break
    if os.environ.get("SHOT_GROUPED"):
        page.group_box.setChecked(True)
    if os.environ.get("SHOT_LIST"):
        page.mode_box.setCurrentText("List")
    page.sort_box.setCurrentText("Name")
    for _ in range(100):
        await asyncio.sleep(0.05)
        if page.sorted_by.startswith("Name"):
            break
    keys = [k for k in page.model.keys_by_position() if k]
    chosen = next((k for k in keys if "Morgan" in k and "obverse" in k), keys[0])
    page.select_key(chosen)
    for _ in range(100):  # thumbnails arrive as the grid paints; the pane's preview too
        window.grab()
        await asyncio.sleep(0.05)


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshot.png"
    with tempfile.TemporaryDirectory(prefix="screenshot-") as tmp:
        work = Path(tmp)
        os.environ["PHOTO_UPLOADER_DATA_DIR"] = str(work / "data")
        os.environ["PHOTO_UPLOADER_CONFIG_DIR"] = str(work / "config")
        collection = work / "Collection"
        make_collection(collection)
        from app.__main__ import gui_main

        return gui_main([str(collection)], lambda window: shoot(window, out))


if __name__ == "__main__":
    sys.exit(main())
