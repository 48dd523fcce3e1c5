"""performance.payload: bytes on the wire (counted raw, before decoding), compression offered
and taken, and the load-time estimate on Lighthouse's Slow 4G profile."""

from __future__ import annotations

import pytest
import yaml

from checks.engine import payload as payload_module
from checks.engine.payload import PROFILE_NAME, compressible, load_ms, measure
from tests.conftest import SCENARIOS
from tests.engine.test_caching import HOST, PROFILE, member_app, profile_route, run

CHECK = "performance.payload"
PAGE = f"https://{HOST}/"
HTML = ["Content-Type", "text/html; charset=utf-8"]


def _page(**route) -> dict:
    data = member_app([{"path": "/", "headers": [HTML], **route}, profile_route("private")],
                      endpoints=[{"kind": "login", "method": "POST", "url": f"https://{HOST}/login"},
                                 {"kind": "homepage", "url": PAGE}, {"kind": "profile", "url": PROFILE}])
    return data


def test_an_uncompressed_three_megabyte_page_warns_with_exact_numbers(sandbox):
    data = yaml.safe_load((SCENARIOS / "faults" / "payload-uncompressed.yaml").read_text(encoding="utf-8"))
    target = "https://www.big-payload.test/catalog"

    result = run(sandbox, data, CHECK, target)

    assert result.status == "warn"
    assert result.summary == (
        f"{target}: 3,000,000 bytes on the wire (over 1,000,000); about 15.2 s on {PROFILE_NAME} "
        "(over 2 s); text/html sent uncompressed although gzip and br were offered"
    )
    assert result.evidence == {
        "url": target, "profile": PROFILE_NAME, "status": 200, "size_bytes": 3_000_000,
        "size_capped": False, "content_type": "text/html; charset=utf-8", "content_encoding": None,
        "load_ms": 15248.4,
    }
    assert result.metrics == {"size_bytes": 3_000_000, "load_ms": 15248.4}  # 600 + 3e6 × 8 / 1,638,400 s


def test_the_size_is_counted_compressed_as_sent(sandbox):
    body = "<p>members only</p>" * 500  # 9,500 bytes that gzip shrinks to a few dozen

    result = run(sandbox, _page(body=body, compress="gzip"), CHECK, PAGE)

    assert result.status == "pass"
    size = result.metrics["size_bytes"]
    assert 30 < size < 200
    assert result.evidence["content_encoding"] == "gzip"
    assert result.summary == f"{PAGE}: {size:,} bytes, gzip, about 0.6 s on {PROFILE_NAME}"


def test_compressible_text_over_a_kilobyte_sent_plain_warns(sandbox):
    result = run(sandbox, _page(body="x" * 2_000), CHECK, PAGE)

    assert result.status == "warn"
    assert result.summary == f"{PAGE}: text/html sent uncompressed although gzip and br were offered"
    assert result.metrics == {"size_bytes": 2000, "load_ms": 609.8}


def test_a_small_plain_page_passes(sandbox):
    result = run(sandbox, _page(body="x" * 1_000), CHECK, PAGE)

    assert result.status == "pass"
    assert result.summary == f"{PAGE}: 1,000 bytes, about 0.6 s on {PROFILE_NAME}"


def test_a_personal_endpoint_is_measured_logged_in(sandbox):
    result = run(sandbox, _page(body="x"), CHECK, PROFILE)

    assert result.status == "pass"
    assert result.evidence["account"] == "alice"
    assert result.metrics["size_bytes"] == len(b'{"member": "alice"}')


def test_a_personal_endpoint_without_an_account_is_an_error(sandbox):
    data = _page(body="x")
    data["project"]["accounts"] = []

    result = run(sandbox, data, CHECK, PROFILE)

    assert result.status == "error"
    assert result.summary == f"needs a test account: {PROFILE} is personal and is read logged in"


def test_a_size_past_the_count_limit_is_reported_as_over_it(sandbox, monkeypatch):
    monkeypatch.setattr(payload_module, "MAX_COUNT_BYTES", 1_500_000)
    monkeypatch.setattr("checks.engine.checks.payload.MAX_COUNT_BYTES", 1_500_000)

    result = run(sandbox, _page(stream="endless", body="y" * 1024), CHECK, PAGE)

    assert result.status == "warn"
    assert result.summary == (
        f"{PAGE}: over 1,500,000 bytes on the wire (over 1,000,000); at least 7.9 s on {PROFILE_NAME} "
        "(over 2 s); text/html sent uncompressed although gzip and br were offered"
    )
    assert result.evidence["size_capped"] is True
    assert result.metrics == {"size_bytes": 1_500_000, "load_ms": 7924.2}


def test_an_error_answer_is_not_measured(sandbox):
    result = run(sandbox, _page(status=503, body="down"), CHECK, PAGE)

    assert result.status == "error"
    assert result.summary == f"{PAGE} answered HTTP 503: its payload was not measured"


def test_a_dripping_body_is_stopped_at_the_deadline(sandbox):
    box, net = sandbox(_page(stream="endless", body="z", chunk_delay_ms=200))

    transfer = measure(net.http, PAGE, timeout_s=1.0)

    assert transfer.error_kind == "timeout"
    assert transfer.elapsed_ms < 2_500


def test_a_policy_refusal_is_reported_not_raised(sandbox):
    box, net = sandbox(_page(body="x"))

    transfer = measure(net.http, "https://localhost.invalid/")

    assert transfer.status is None and transfer.error_kind in ("dns", "policy")


@pytest.mark.parametrize(("size", "https", "expected"), [
    (0, True, 600.0), (0, False, 450.0), (204_800, True, 1600.0), (3_000_000, True, 15248.4),
])
def test_load_ms_is_round_trips_plus_transfer_on_slow_4g(size, https, expected):
    assert load_ms(size, https=https) == expected


@pytest.mark.parametrize(("content_type", "expected"), [
    ("text/html; charset=utf-8", True), ("application/json", True), ("application/problem+json", True),
    ("image/svg+xml", True), ("text/javascript", True), ("image/png", False), ("font/woff2", False),
    (None, False),
])
def test_compressible_types_are_text(content_type, expected):
    assert compressible(content_type) is expected
