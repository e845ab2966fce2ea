"""A real desktop notification: a private D-Bus session (dbus-run-session), a real
notification daemon (dunst, on a virtual screen), and the app's notifier on a qasync loop
as the window runs it. Skipped where those programs are not installed (.ci/run installs
them)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NEEDED = ("dbus-run-session", "dunst", "dunstctl", "xvfb-run")

SEND = """
import asyncio, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication
import qasync
from app.core.notices import Notice
from app.ui.notify import DesktopNotifications

app = QApplication([])
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
notifications = DesktopNotifications()
loop.run_until_complete(notifications.notify(Notice("Uploads finished", "37 uploaded, 2 failed.")))
sys.exit(0 if notifications.sent == 1 else 1)
"""

SESSION = """
set -eu
xvfb-run -a dunst >"$WORK/dunst.log" 2>&1 &
for _ in $(seq 1 200); do  # until dunst is on the bus (at most about 20 s)
    dunstctl is-paused >/dev/null 2>&1 && break
    sleep 0.1
done
"$PYTHON" -c "$SEND"
dunstctl close-all
dunstctl history
"""


@pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in NEEDED),
    reason=f"needs {', '.join(NEEDED)} (Debian: dbus-daemon, dunst, xvfb)",
)
def test_a_notification_reaches_a_real_notification_daemon(tmp_path: Path) -> None:
    done = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", SESSION],
        env={
            "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path), "WORK": str(tmp_path),
            "PYTHON": sys.executable, "SEND": SEND, "PYTHONPATH": str(REPO),
        },
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + (tmp_path / "dunst.log").read_text()
    history = json.loads(done.stdout)["data"][0]
    shown = [(n["appname"]["data"], n["summary"]["data"], n["body"]["data"]) for n in history]
    assert shown == [("Photo Uploader", "Uploads finished", "37 uploaded, 2 failed.")]
