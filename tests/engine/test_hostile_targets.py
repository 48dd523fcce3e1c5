"""Targets that fight back: endless bodies, slow routes, drip-fed bodies. Every fetch returns,
within its budget, with what it got and why it stopped."""

from __future__ import annotations

import dataclasses
import time

from checks.engine.net.session import Net
from tests.engine.support import route


def test_an_endless_body_is_capped_at_max_body_bytes_and_the_fetch_returns(sandbox):
    box, _ = sandbox({"hosts": {"www.shop.test": {"https": [route("/feed", stream="endless")]}}})
    profile = dataclasses.replace(box.profile, max_body_bytes=100_000)

    with Net(profile) as net:
        exchange = net.http.fetch("https://www.shop.test/feed")

    assert exchange.status == 200
    assert exchange.error is None
    assert exchange.truncated is True
    assert len(exchange.body) == 100_000
    assert exchange.body == b"x" * 100_000


def test_a_body_under_the_cap_is_not_marked_truncated(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"https": [route("/", body="hello")]}}})

    exchange = net.http.fetch("https://www.shop.test/")

    assert (exchange.status, exchange.body, exchange.truncated) == (200, b"hello", False)


def test_a_route_slower_than_the_timeout_is_a_timeout_error_within_budget(sandbox):
    box, _ = sandbox({"hosts": {"www.shop.test": {"https": [route("/", latency_ms=5000)]}}})
    profile = dataclasses.replace(box.profile, http_timeout_s=0.5)

    with Net(profile) as net:
        started = time.monotonic()
        exchange = net.http.fetch("https://www.shop.test/")
        wall_s = time.monotonic() - started

    assert exchange.status is None
    assert exchange.error_kind == "timeout"
    assert exchange.error.endswith(f"(after {exchange.elapsed_ms / 1000:.1f} s)")
    assert 500 <= exchange.elapsed_ms < 1000
    assert wall_s < 1.0


def test_a_drip_fed_body_is_stopped_by_the_total_deadline(sandbox):
    # One 64 KiB chunk every 100 ms: each read returns long before the per-read timeout, and
    # the body stays far under max_body_bytes; only the deadline over the whole exchange ends it.
    box, _ = sandbox({"hosts": {"www.shop.test": {
        "https": [route("/drip", body="y", stream="endless", chunk_delay_ms=100)],
    }}})
    profile = dataclasses.replace(box.profile, http_timeout_s=1)

    with Net(profile) as net:
        started = time.monotonic()
        exchange = net.http.fetch("https://www.shop.test/drip")
        wall_s = time.monotonic() - started

    assert exchange.status == 200  # the headers came in time
    assert exchange.error_kind == "timeout"
    assert exchange.error == f"timed out (ReadTimeout) (after {exchange.elapsed_ms / 1000:.1f} s)"
    assert 1000 <= exchange.elapsed_ms < 1500
    assert wall_s < 1.5
    assert exchange.truncated is False


def test_a_hostile_route_does_not_stall_the_other_hosts_of_the_sandbox(sandbox):
    box, net = sandbox({"hosts": {
        "feed.shop.test": {"https": [route("/", stream="endless")]},
        "www.shop.test": {},
    }})
    profile = dataclasses.replace(box.profile, max_body_bytes=10_000)

    with Net(profile) as hostile:
        assert hostile.http.fetch("https://feed.shop.test/").truncated is True
    exchange = net.http.fetch("https://www.shop.test/")
    answer = net.dns.query("www.shop.test", "A")

    assert (exchange.status, exchange.error) == (200, None)
    assert answer.records == [box.addresses["www.shop.test"]]
