"""Guards against PySide6 releases that corrupt reference counts on our Python.

PySide6-Essentials 6.12.0 (abi3 wheels) returns None from void methods and True from
Signal.emit without owning a reference; on Python 3.11, where those objects are not
immortal, the interpreter aborts after some thousands of calls ("bool_dealloc:
deallocating True or False"). pyproject.toml pins below 6.12 for that reason; this test
fails if an install brings a release with the bug back.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QCoreApplication, QObject, Signal
    from PySide6.QtGui import QImage

    class Emitter(QObject):
        fired = Signal()

    app = QCoreApplication([])
    emitter, image = Emitter(), QImage(8, 8, QImage.Format.Format_RGB32)
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(20000):
        emitter.fired.emit()
        emitter.setObjectName("probe")
        image.fill(0)
    after = sys.getrefcount(None), sys.getrefcount(True)
    print(before[0] - after[0], before[1] - after[1])
    """
)


def test_signals_and_void_calls_keep_none_and_true_alive() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"PySide6 corrupts reference counts:\n{result.stderr[-800:]}"
    lost_none, lost_true = map(int, result.stdout.split())
    assert lost_none < 1000 and lost_true < 1000  # 20,000 calls: a leak would show them all
