"""What a photo's own metadata says, read for its sidecar without decoding pixels."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from app.core import formats
from app.core.photofacts import read_photo_facts, taken_at
from tests.helpers import corpus, rawfiles


def camera_jpeg(path: Path) -> Path:
    exif = Image.Exif()
    exif[271], exif[272], exif[274] = "Canon", "Canon EOS R5", 6
    exif[0x8769] = {36867: "2024:05:01 14:03:22", 36881: "+02:00", 42036: "RF24-105mm F4 L"}
    exif[0x8825] = {1: "S", 2: (33.0, 51.0, 36.0), 3: "E", 4: (151.0, 12.0, 36.0), 6: 58.5}
    Image.new("RGB", (64, 48), (10, 20, 30)).save(path, "JPEG", exif=exif.tobytes())
    return path


def test_a_camera_jpeg_says_when_with_what_and_where(tmp_path: Path) -> None:
    facts = read_photo_facts(camera_jpeg(tmp_path / "a.jpg"), formats.JPEG)
    assert (facts.width, facts.height, facts.orientation) == (64, 48, 6)
    assert facts.taken_at == "2024-05-01T14:03:22+02:00"
    assert facts.camera() == {"make": "Canon", "model": "Canon EOS R5", "lens": "RF24-105mm F4 L"}
    assert facts.gps == {"latitude": -33.86, "longitude": 151.21, "altitude": 58.5}


def test_a_photo_without_exif_has_its_size_and_nothing_else(tmp_path: Path) -> None:
    facts = read_photo_facts(corpus.png(tmp_path / "a.png"), formats.PNG)
    assert (facts.width, facts.height) == (32, 16)
    assert facts.taken_at is None and facts.gps is None and facts.camera()["make"] is None


def test_a_raw_file_gives_its_camera_and_date_from_its_directories(tmp_path: Path) -> None:
    ifd0: rawfiles.Directory = [
        (271, 2, "NIKON CORPORATION"),
        (272, 2, "NIKON Z 8"),
        (274, 3, 8),
        (34665, 4, (rawfiles.Sub(1),)),
    ]
    detail: rawfiles.Directory = [(36867, 2, "2023:11:30 09:15:00")]
    path = tmp_path / "a.nef"
    path.write_bytes(rawfiles.tiff_bytes([ifd0, detail]))
    facts = read_photo_facts(path, formats.NEF)
    assert (facts.make, facts.model, facts.orientation) == ("NIKON CORPORATION", "NIKON Z 8", 8)
    assert facts.taken_at == "2023-11-30T09:15:00"


def test_a_raw_file_gives_the_size_of_its_full_frame_not_its_preview(tmp_path: Path) -> None:
    ifd0: rawfiles.Directory = [
        (254, 4, 1),  # a reduced-size image: the preview
        (256, 4, 160),
        (257, 4, 120),
        (330, 4, (rawfiles.Sub(1),)),
    ]
    frame: rawfiles.Directory = [(254, 4, 0), (256, 4, 6048), (257, 4, 4024)]
    path = tmp_path / "a.dng"
    path.write_bytes(rawfiles.tiff_bytes([ifd0, frame]))
    facts = read_photo_facts(path, formats.DNG)
    assert (facts.width, facts.height) == (6048, 4024)
    real = read_photo_facts(rawfiles.pidng_dng(tmp_path / "real.dng", (64, 32)), formats.DNG)
    assert (real.width, real.height) == (64, 32)


def test_a_panasonic_raw_gives_the_picture_inside_its_sensor_borders(tmp_path: Path) -> None:
    facts = read_photo_facts(rawfiles.rw2(tmp_path / "P1000001.RW2"), formats.RW2)
    assert (facts.width, facts.height) == (4592, 3448)  # 4600 - 8 by 3456 - 8
    assert facts.make == "Panasonic"


def test_unreadable_metadata_is_none_not_an_error(tmp_path: Path) -> None:
    path = corpus.truncated_jpeg(tmp_path / "cut.jpg", keep=0.01)
    assert read_photo_facts(path, formats.JPEG).taken_at is None
    assert taken_at("0000:00:00 00:00:00") is None and taken_at("yesterday") is None
    assert taken_at("2024:05:01 14:03:22", "bogus") == "2024-05-01T14:03:22"


def test_a_scan_too_big_for_pillow_to_open_still_gives_its_size(tmp_path: Path) -> None:
    """Pillow refuses to open past twice its pixel limit (a 300 MP scan): the sidecar had
    no width and height for exactly the scans that need them most."""
    path = corpus.png_header_bomb(tmp_path / "page.png", side=20000)
    facts = read_photo_facts(path, formats.PNG)
    assert (facts.width, facts.height) == (20000, 20000)
