"""Running our command line in a benchmark as a user's installed copy runs.

An installed app has its modules compiled to bytecode (pip writes the .pyc files; an
editable install writes them on its first run). Where PYTHONDONTWRITEBYTECODE is set, as
on our build machines, every start would compile all of app/ again: about 70 ms that no
user pays. So the benches let Python keep its bytecode and warm it once before timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def app_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """`base` (default: this process's environment) with bytecode kept, plus `extra`;
    our modules compiled once here, before anything is timed."""
    env = dict(os.environ if base is None else base, **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [sys.executable, "-m", "app", "--version"],
        env=env, cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    return env
