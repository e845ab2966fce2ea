"""The controller between window and engine: start-up and Settings serialised."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
import qasync

from app.core.config import Destination
from app.core.journal import ORIGIN_GUI, open_journal
from app.ui.controller import UploadController
from app.ui.preview_cache import PreviewCache
from app.ui.queue_model import QueueModel
from app.ui.settings import AppSettings
from tests.helpers.fakes import FakeStore


def test_a_settings_ok_while_starting_waits_for_the_start_and_builds_one_engine(
    loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    """The start looks (no engine yet), awaits the journal, then builds; an OK pressed
    meanwhile used to look too, and build a second engine beside the first."""
    opened = threading.Event()
    may_open = threading.Event()
    journals: list[Any] = []
    stores: list[str] = []

    def slow_journal() -> Any:
        opened.set()
        may_open.wait(10)  # a slow disk: the start is still under way
        journal = open_journal(ORIGIN_GUI, tmp_path / f"journal-{len(journals)}.sqlite3")
        journals.append(journal)
        return journal

    def store_for(destination: Destination, _concurrency: int) -> FakeStore:
        stores.append(destination.bucket)
        return FakeStore(bucket=destination.bucket)

    previews = PreviewCache(remake=None)
    controller = UploadController(
        QueueModel(previews),
        store_factory=store_for,
        local_server=lambda: pytest.fail("no local server in this test"),
        journal=slow_journal,
    )

    async def go() -> Destination:
        starting = asyncio.ensure_future(controller.start(AppSettings(bucket="first"), None))
        await asyncio.to_thread(opened.wait, 10)
        applying = asyncio.ensure_future(
            controller.apply_settings(AppSettings(bucket="second"), None)
        )
        await asyncio.sleep(0)  # the OK is being handled while the start waits
        may_open.set()
        await asyncio.wait_for(asyncio.gather(starting, applying), 10)
        assert controller.engine is not None
        return controller.engine.destination

    try:
        destination = loop.run_until_complete(go())
        assert len(journals) == 1  # one engine, one journal
        assert destination.bucket == "second"  # the OK applied, after the start
        assert stores == ["first", "second"]
    finally:
        loop.run_until_complete(controller.aclose())
        previews.close()
