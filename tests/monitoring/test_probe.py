"""Probes against the sandbox's real DNS and HTTPS servers: the verdict and the exact reason."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from checks.monitoring.probe import BODY_CAP_BYTES, ProbeTarget, probe_all

APEX = "probe.test"
SCENARIO = {
    "name": "probe targets",
    "project": {"name": "Probe", "apex": APEX},
    "hosts": {
        f"www.{APEX}": {"https": [
            {"path": "/", "body": "<h1>Welcome home</h1>"},
            {"path": "/maintenance", "status": 503, "body": "Back soon"},
            {"path": "/slow", "latency_ms": 3000, "body": "late"},
            {"path": "/old", "status": 301, "headers": [["Location", "/"]]},
            {"path": "/big", "body": "x" * (BODY_CAP_BYTES + 10) + "Welcome"},
        ]},
        f"expired.{APEX}": {"certificate": "expired", "https": [{"path": "/", "body": "ok"}]},
        f"closed.{APEX}": {"https": False},
    },
    "dns": {f"internal.{APEX}": {"A": ["10.0.0.5"]}},
}


@pytest.fixture
def profile(sandbox):
    box, _ = sandbox(SCENARIO)
    return box.profile


def run(profile, *targets: ProbeTarget):
    numbered = [replace(t, monitor_id=i) for i, t in enumerate(targets)]
    return asyncio.run(probe_all(profile, numbered, concurrency=4))


def target(path: str, host: str = f"www.{APEX}", **kw) -> ProbeTarget:
    return ProbeTarget(monitor_id=0, url=f"https://{host}{path}", timeout_s=kw.pop("timeout_s", 2.0), **kw)


def test_a_page_that_answers_200_with_its_keyword_is_up(profile):
    [outcome] = run(profile, target("/", keyword="Welcome"))
    assert (outcome.ok, outcome.status_code, outcome.error) == (True, 200, "")
    assert 0 < outcome.latency_ms < 2000


def test_each_way_of_being_down_has_its_reason(profile):
    outcomes = run(
        profile,
        target("/maintenance"),
        target("/", keyword="Goodbye"),
        target("/slow", timeout_s=1.0),
        target("/", host=f"closed.{APEX}"),
        target("/", host=f"internal.{APEX}"),
        target("/", host=f"missing.{APEX}"),
        target("/", host=f"expired.{APEX}"),
    )
    assert [(o.ok, o.status_code, o.error) for o in outcomes] == [
        (False, 503, "status 503, expected 200"),
        (False, 200, "keyword 'Goodbye' missing"),
        (False, None, "timeout after 1 s"),
        (False, None, "connect refused"),
        (False, None, "outbound policy refused 10.0.0.5: private"),
        (False, None, f"missing.{APEX} does not exist (NXDOMAIN)"),
        (False, None, "TLS failed: certificate verify failed: certificate has expired"),
    ]
    assert [o.latency_ms is None for o in outcomes] == [False, False, True, True, True, True, True]


def test_a_timeout_stops_the_probe_at_its_deadline(profile):
    [outcome] = run(profile, target("/slow", timeout_s=0.5))
    assert outcome.error == "timeout after 0.5 s"
    assert outcome.latency_ms is None


def test_redirects_are_followed_unless_the_redirect_is_what_is_expected(profile):
    followed, expected = run(profile, target("/old"), target("/old", expected_status=301))
    assert (followed.ok, followed.status_code) == (True, 200)
    assert (expected.ok, expected.status_code) == (True, 301)


def test_the_keyword_is_searched_in_the_first_64_kb_only(profile):
    [outcome] = run(profile, target("/big", keyword="Welcome"))
    assert (outcome.ok, outcome.error) == (False, "keyword 'Welcome' missing")


def test_many_probes_run_concurrently_under_the_cap(profile):
    outcomes = run(profile, *[target("/", keyword="Welcome") for _ in range(40)])
    assert [o.ok for o in outcomes] == [True] * 40
    assert [o.monitor_id for o in outcomes] == list(range(40))  # in the order given
