"""Shared test setup: offscreen Qt, private app folders, no leaking AWS settings, servers."""

from __future__ import annotations

import os

# Before anything imports Qt: no display is needed (or used) by the tests.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.servers import (
    RcloneS3,
    S3Endpoint,
    SeaweedS3,
    free_ports,
    unique_bucket_name,
)

# AWS settings from the developer's shell or machine must not reach a test: a profile,
# keys, a region or an endpoint would change what boto3 does.
_AWS_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CA_BUNDLE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own app folders and a clean AWS environment.

    moto's ``mock_aws`` sets its own fake keys when it starts, which is after this.
    """
    monkeypatch.setenv("PHOTO_UPLOADER_DATA_DIR", str(tmp_path / "app-data"))
    monkeypatch.setenv("PHOTO_UPLOADER_CONFIG_DIR", str(tmp_path / "app-config"))
    for name in _AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    # No ~/.aws/config or credentials, and no instance-metadata lookups (they time out).
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """``rclone serve s3`` on a free loopback port over a temporary folder (one a session).

    Shared by tests: make buckets with ``fresh_bucket`` so names never clash.
    """
    server = RcloneS3(tmp_path_factory.mktemp("rclone-s3"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seaweedfs_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """SeaweedFS ``weed mini`` on pinned free loopback ports (one a session)."""
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Endpoint]:
    """moto's ThreadedMotoServer: a third S3 server, in this process, on a free loopback
    port (one a session). It shares moto's in-memory backends with ``mock_aws``, which
    resets them when a test using it ends: make buckets per test (``fresh_bucket``)."""
    from moto.server import ThreadedMotoServer

    (port,) = free_ports(1)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Endpoint(f"http://127.0.0.1:{port}", "testing", "testing")
    finally:
        server.stop()


@pytest.fixture
def fresh_bucket() -> Callable[[S3Endpoint], str]:
    """``fresh_bucket(endpoint)`` creates a bucket with a unique name and returns it."""

    def make(endpoint: S3Endpoint) -> str:
        return endpoint.make_bucket(unique_bucket_name())

    return make
