"""The crash trail: a fatal error leaves a report; the next start sets it aside and says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.core.crashlog import CRASH_FILE, LAST_CRASH_FILE, CrashTrail

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
    assert "Fatal Python error" in (tmp_path / CRASH_FILE).read_text()

    trail = CrashTrail(tmp_path).install()
    try:
        assert trail.last_crash == tmp_path / LAST_CRASH_FILE
        report = trail.last_crash.read_text()
        assert report.startswith("Photo Uploader stopped unexpectedly (")
        assert "Fatal Python error: Segmentation fault" in report
    finally:
        trail.uninstall()
    assert not (tmp_path / CRASH_FILE).exists()  # a clean exit leaves nothing to report


def test_a_clean_run_and_a_killed_one_report_nothing(tmp_path: Path) -> None:
    CrashTrail(tmp_path).install().uninstall()
    assert not (tmp_path / CRASH_FILE).exists()
    (tmp_path / CRASH_FILE).write_text("")  # kill -9: the file stayed, empty
    trail = CrashTrail(tmp_path).install()
    trail.uninstall()
    assert trail.last_crash is None and not (tmp_path / LAST_CRASH_FILE).exists()
