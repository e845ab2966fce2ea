"""Running the headless uploader as a user does: `python -m app upload ...` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.helpers.servers import S3Endpoint

REPO = Path(__file__).resolve().parents[2]


def run_upload(
    *args: str | Path, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m app upload ARGS...` from the repository, with `env` added to ours."""
    return run_app("upload", *args, env=env, timeout=timeout)


def run_app(
    command: str,
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m app COMMAND ARGS...` from the repository, with `env` added to ours."""
    return subprocess.run(
        [sys.executable, "-m", "app", command, *map(str, args)],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
    )


def credentials(endpoint: S3Endpoint) -> dict[str, str]:
    """The environment that signs in to `endpoint` through boto3's standard chain."""
    return {"AWS_ACCESS_KEY_ID": endpoint.access_key, "AWS_SECRET_ACCESS_KEY": endpoint.secret_key}
