"""The command line's own parts (the real CLI against real servers: tests/integration)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from app import __main__ as entry
from app import cli
from app.cli import OutageReport
from app.core import wording
from app.core.models import Outage, OutageStatus

REPO = Path(__file__).resolve().parents[1]
REASON = "Cannot reach the storage server at http://127.0.0.1:9."


def test_an_outage_is_said_once_when_it_starts_and_once_when_it_ends() -> None:
    err = io.StringIO()
    report = OutageReport(err)
    for retry_in in (2.4, 5.0, 5.0):  # the watcher's tries: not news after the first
        report.on_status(OutageStatus(Outage.DOWN, REASON, retry_in=retry_in))
    report.on_status(OutageStatus(Outage.BACK, REASON, lasted=11.0))
    report.on_status(OutageStatus(Outage.DOWN, REASON, retry_in=2.5))
    report.on_status(OutageStatus(Outage.GAVE_UP, REASON, lasted=39.2))
    assert err.getvalue().splitlines() == [
        "photo-uploader: Cannot reach the storage server at http://127.0.0.1:9; retrying in 3 s.",
        "photo-uploader: The storage server answers again; the waiting files carry on.",
        "photo-uploader: Cannot reach the storage server at http://127.0.0.1:9; retrying in 3 s.",
        "photo-uploader: Cannot reach the storage server at http://127.0.0.1:9 for 39 s, "
        "so the files waiting for it failed. Retry them once it is back.",
    ]


# -- the command line's words and signals -------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("localhost:9000", "http://localhost:9000"),
        ("127.0.0.1:9000/", "http://127.0.0.1:9000/"),
        ("minio.example.net:9000", "https://minio.example.net:9000"),
    ],
)
def test_an_endpoint_without_a_scheme_is_one_sentence_and_exit_2(
    tmp_path: Path, typed: str, suggested: str
) -> None:
    code, out, err = run_cli("upload", str(tmp_path), "--bucket", "b", "--endpoint-url", typed)
    assert code == cli.EXIT_USAGE and out == ""
    assert err == (
        f"photo-uploader: The endpoint URL “{typed}” does not start with http:// or https://. "
        f"Give --endpoint-url with its scheme, e.g. {suggested}.\n"
    )


def test_a_missing_bucket_names_the_flag_to_fix_on_the_command_line(tmp_path: Path) -> None:
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="real")
        code, _out, err = run_cli("upload", str(tmp_path), "--bucket", "no-such-bucket")
    assert code == cli.EXIT_USAGE
    assert err.strip().endswith("does not exist. Check the name given to --bucket.")
    assert "Settings" not in err
    assert wording.surface() is wording.Surface.WINDOW  # the window's words again after


def test_a_mistyped_command_is_named_with_the_closest_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert entry.main(["uplod", "photos"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "photo-uploader: “uplod” is not a command, nor a file or folder here. Did you mean "
        "“upload”? The commands are upload, watch, history, list, share, check, delete; to open a "
        "file with that name, write it as a path (./uplod).\n"
    )


def test_a_command_word_wins_over_a_file_of_that_name_unless_written_as_a_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "history").write_bytes(b"a file called history")
    assert entry.main(["history"]) == 0  # the command ran (nothing uploaded yet)
    assert capsys.readouterr().err == ""
    assert not entry.is_unknown_command("./history")  # a path: the window opens with it
    assert not entry.is_unknown_command("history")  # it exists
    assert entry.is_unknown_command("histroy")


def test_a_second_signal_ends_the_command_line_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)

    async def go() -> bool:
        interruption = cli.Interruption()
        try:
            interruption._received(signal.SIGTERM)
            first = interruption.requested and exits == []
            interruption._received(signal.SIGINT)
            return first
        finally:
            interruption.remove()

    assert asyncio.run(go())
    assert exits == [cli.EXIT_INTERRUPTED]


def test_a_command_leaves_at_once_with_everything_it_wrote_and_its_exit_status(
    tmp_path: Path,
) -> None:
    """`python -m app COMMAND` skips the interpreter's teardown at the end: nothing it
    wrote to a pipe may be lost on the way, and the exit status stays the command's."""
    script = (
        "import sys\n"
        "from app.__main__ import leave_now\n"
        "sys.stdout.write('line\\n' * 50000)\n"
        "sys.stderr.write('photo-uploader: done\\n')\n"
        "leave_now(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 3
    assert done.stdout == "line\n" * 50000
    assert done.stderr == "photo-uploader: done\n"


def test_the_command_lines_exit_status_survives_the_quick_exit(tmp_path: Path) -> None:
    env = dict(os.environ, PHOTO_UPLOADER_DATA_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "app", "uplod"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "is not a command" in done.stderr


def test_a_duplicate_whose_thumbnail_failed_again_says_why() -> None:
    from app.cli import HumanReport
    from app.core.models import FileSnapshot, FileState, ThumbnailState

    snap = FileSnapshot(
        1, Path("Coins/reverse.jpg"), FileState.DUPLICATE, key="reverse-9871bc36.jpg",
        thumbnail_state=ThumbnailState.FAILED,
        thumbnail_error="Only part of the image could be read, so no thumbnail was made.",
    )  # fmt: skip
    assert HumanReport.describe(snap).splitlines() == [
        "duplicate  Coins/reverse.jpg: already in the bucket as reverse-9871bc36.jpg",
        "           thumbnail failed: Only part of the image could be read, so no thumbnail "
        "was made.",
    ]
