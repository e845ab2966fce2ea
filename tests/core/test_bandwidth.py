"""app.core.bandwidth: rates as rclone writes them, one token bucket for every upload."""

from __future__ import annotations

import io

import pytest

from app.core.bandwidth import MeteredBody, RateError, RateLimit, describe_rate, parse_rate

MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("20M", 20 * MiB),
        ("20m", 20 * MiB),
        ("512K", 512 * 1024),
        ("1.5M", int(1.5 * MiB)),
        ("1G", 1024 * MiB),
        ("100", 100 * 1024),  # a bare number is KiB/s, as in rclone
        ("800B", 800),
        ("20MiB/s", 20 * MiB),
        (" 4M ", 4 * MiB),
        ("off", None),
        ("0", None),
        ("", None),
    ],
)
def test_rates_read_as_rclone_reads_them(text: str, rate: int | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["fast", "20X", "-5M", "M", "1,5M"])
def test_a_rate_that_cannot_be_read_says_how_to_write_one(text: str) -> None:
    with pytest.raises(RateError) as info:
        parse_rate(text)
    assert f"“{text}” is not an upload speed limit" in str(info.value)
    assert "20M" in str(info.value)


def test_rates_are_written_back_as_typed() -> None:
    assert describe_rate(20 * MiB) == "20M"
    assert describe_rate(512 * 1024) == "512K"
    assert describe_rate(None) == "off"


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_bucket_holds_a_sender_to_the_rate() -> None:
    time = FakeTime()
    limit = RateLimit(MiB, clock=time.clock, sleep=time.sleep)
    for _ in range(40):
        limit.pay(64 * 1024)  # 2.5 MiB in all
    assert time.now == pytest.approx(2.5, rel=0.01)
    time.now += 10  # a quiet spell earns a quarter second's burst, no more
    limit.pay(MiB // 4)
    assert time.now == pytest.approx(12.5, rel=0.01)  # sent at once
    limit.pay(MiB)
    assert time.now == pytest.approx(13.5, rel=0.01)


def test_no_limit_never_waits_and_a_new_rate_applies_at_once() -> None:
    time = FakeTime()
    limit = RateLimit(None, clock=time.clock, sleep=time.sleep)
    for _ in range(100):
        limit.pay(MiB)
    assert time.slept == []
    limit.set(2 * MiB)
    for _ in range(8):
        limit.pay(MiB // 2)  # 4 MiB at 2 MiB/s
    assert time.now == pytest.approx(2.0, rel=0.01)


def test_a_metered_body_pays_for_what_is_read_and_rewinds_for_a_retry() -> None:
    time = FakeTime()
    limit = RateLimit(64 * 1024, clock=time.clock, sleep=time.sleep)
    body = MeteredBody(b"x" * (256 * 1024), limit)
    sent = b"".join(iter(lambda: body.read(8192), b""))
    assert sent == b"x" * (256 * 1024)
    assert time.now == pytest.approx(4.0, rel=0.01)  # 256 KiB at 64 KiB/s
    body.seek(0)
    assert body.tell() == 0 and body.read(10) == b"x" * 10
    assert MeteredBody(io.BytesIO(b"abc"), limit).read() == b"abc"
