"""The command line's own parts (the real CLI against real servers: tests/integration)."""

from __future__ import annotations

import io

from app.cli import OutageReport
from app.core.models import Outage, OutageStatus

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
