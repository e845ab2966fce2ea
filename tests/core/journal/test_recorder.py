"""The journal recorder's close is bounded, even on a disk that hangs."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from app.core.journal import JOURNAL_FILE, ORIGIN_GUI, Journal, JournalRecorder, JournalRow
from app.core.models import FileState


class HangingJournal(Journal):
    """Every write waits until `release` is set: a disk that stopped answering."""

    def __init__(self, path: Path, release: threading.Event) -> None:
        super().__init__(path, origin=ORIGIN_GUI)
        self.release = release
        self.writing = threading.Event()
        self.closed = threading.Event()

    def _write(self, rows: list[JournalRow]) -> bool:
        self.writing.set()
        self.release.wait(30)
        return super()._write(rows)

    def _close(self) -> None:
        super()._close()
        self.closed.set()


def _row(journal: Journal) -> JournalRow:
    return JournalRow(
        row_id=journal.row_id(1),
        path=Path("/photos/coin.jpg"),
        state=FileState.QUEUED,
        destination="d",
        bucket="b",
        queued_at=time.time(),
        updated_at=time.time(),
    )


def test_closing_a_hung_journal_takes_the_timeout_and_no_longer(tmp_path: Path) -> None:
    release = threading.Event()
    journal = HangingJournal(tmp_path / JOURNAL_FILE, release).open_sync()

    async def go() -> float:
        recorder = JournalRecorder(journal, interval=0.001)
        recorder.post(_row(journal))
        assert await asyncio.to_thread(journal.writing.wait, 5)  # stuck on the "disk" now
        started = time.monotonic()
        await recorder.aclose(0.3)
        return time.monotonic() - started

    try:
        took = asyncio.run(go())
    finally:
        release.set()
    assert 0.25 <= took < 2.0
    assert journal.closed.wait(5)  # the close was queued behind the write, and ran


def test_closing_a_healthy_journal_writes_what_is_pending(tmp_path: Path) -> None:
    journal = Journal(tmp_path / JOURNAL_FILE, origin=ORIGIN_GUI).open_sync()

    async def go() -> None:
        recorder = JournalRecorder(journal, interval=60)  # only the close writes
        recorder.post(_row(journal))
        await recorder.aclose(5.0)
        recorder.post(_row(journal))  # after closing: ignored

    asyncio.run(go())
    reader = Journal(tmp_path / JOURNAL_FILE, origin=ORIGIN_GUI).open_sync(for_reading=True)
    try:
        assert [r.path.name for r in reader.queue().result()] == ["coin.jpg"]
    finally:
        reader.close().result()


def test_a_flush_right_after_a_write_finished_returns(tmp_path: Path) -> None:
    """A write whose future is done while the callback that clears it is still queued
    (the moment the journal thread answers): flush() must let the loop run it. It spun
    forever holding the GIL before, and a CLI run hung (write-ahead of a multipart
    upload). The moment is made by hand: it is too short to hit from outside."""
    journal = Journal(tmp_path / JOURNAL_FILE, origin=ORIGIN_GUI).open_sync()
    finished = threading.Event()

    async def go() -> None:
        recorder = JournalRecorder(journal, interval=60)
        answered = asyncio.get_running_loop().create_future()
        recorder._inflight = answered  # a write under way, as _write_now leaves it
        answered.add_done_callback(lambda done: recorder._written(done, []))
        answered.set_result(True)  # the journal answers; the callback is queued
        await recorder.flush()  # without yielding first
        finished.set()

    runner = threading.Thread(target=lambda: asyncio.run(go()), daemon=True)
    runner.start()
    try:
        assert finished.wait(10), "flush() never returned"
    finally:
        journal.close().result()
