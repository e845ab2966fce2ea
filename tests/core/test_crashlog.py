"""The crash trail: a fatal error leaves a report; the next start sets it aside and says so."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from app.core.crashlog import LAST_CRASH_FILE, CrashTrail, crash_file

REPO = Path(__file__).resolve().parents[2]


def test_a_crash_leaves_a_report_that_the_next_start_sets_aside(tmp_path: Path) -> None:
    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import faulthandler, sys\n"
            "from pathlib import Path\n"
            "from app.core.crashlog import CrashTrail\n"
            "CrashTrail(Path(sys.argv[1])).install()\n"
            "faulthandler._sigsegv()\n",  # as a crash in Qt's C++ would
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert crashed.returncode != 0
    (left,) = tmp_path.glob("crash-*.log")
    assert "Fatal Python error" in left.read_text()

    trail = CrashTrail(tmp_path).install()
    try:
        assert trail.last_crash == tmp_path / LAST_CRASH_FILE
        report = trail.last_crash.read_text()
        assert report.startswith("Photo Uploader stopped unexpectedly (")
        assert "Fatal Python error: Segmentation fault" in report
    finally:
        trail.uninstall()
    assert list(tmp_path.glob("crash-[0-9]*.log")) == []  # a clean exit leaves nothing


def test_a_clean_run_and_a_killed_one_report_nothing(tmp_path: Path) -> None:
    CrashTrail(tmp_path).install().uninstall()
    assert list(tmp_path.glob("crash-*.log")) == []
    (tmp_path / crash_file(999_999_999)).write_text("")  # kill -9: the file stayed, empty
    trail = CrashTrail(tmp_path).install()
    trail.uninstall()
    assert trail.last_crash is None and not (tmp_path / LAST_CRASH_FILE).exists()
    assert list(tmp_path.glob("crash-*.log")) == []


def test_a_run_still_going_keeps_its_file(tmp_path: Path) -> None:
    other = CrashTrail(tmp_path).install()  # this process: alive
    try:
        assert CrashTrail(tmp_path).install().last_crash is None
        assert other.path.exists()
    finally:
        other.uninstall()


def test_the_command_line_names_the_report_of_a_run_that_crashed(tmp_path: Path) -> None:
    from app import cli
    from app.core.paths import data_dir

    data = data_dir()  # the test's own data folder (see conftest)
    (data / crash_file(999_999_998)).write_text("Fatal Python error: Aborted\n")
    err = io.StringIO()
    bad = ["upload", str(tmp_path), "--bucket", "b", "--endpoint-url", "bad:1"]
    assert cli.main(bad, io.StringIO(), err) == cli.EXIT_USAGE
    first_line = err.getvalue().splitlines()[0]
    assert first_line == (
        "photo-uploader: the last run stopped unexpectedly; its report is in "
        f"{data / LAST_CRASH_FILE}."
    )
    assert "Aborted" in (data / LAST_CRASH_FILE).read_text()
