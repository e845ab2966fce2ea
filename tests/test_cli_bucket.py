"""The bucket commands' signal handling, in process (a real one: tests/integration)."""

from __future__ import annotations

import os
import signal

import pytest

from app.cli_bucket import Interrupted, Signals
from app.cli_common import EXIT_INTERRUPTED


def test_the_first_signal_interrupts_and_a_second_ends_the_process_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    before = signal.getsignal(signal.SIGTERM)

    with Signals() as signals:
        with pytest.raises(Interrupted):
            signal.raise_signal(signal.SIGTERM)
        assert signals.stopping.is_set() and exits == []
        signal.raise_signal(signal.SIGHUP)  # (os._exit stood in for: returns here)
        assert exits == [EXIT_INTERRUPTED]

    assert signal.getsignal(signal.SIGTERM) is before  # put back afterwards
