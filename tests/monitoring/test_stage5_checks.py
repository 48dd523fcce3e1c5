"""Stage 5 checks in the audit (engine, no database): monitors on the critical endpoints that
succeeded lately, a tested alert channel, a health endpoint, log hygiene; the scenario's
``monitoring:`` mapping that feeds them."""

from __future__ import annotations

import pytest

from checks.engine.audit import spec_from_dict
from checks.engine.checks import monitoring as stage5
from checks.engine.loghygiene import scan_log
from checks.engine.registry import Context
from checks.engine.result import Stage
from checks.engine.runner import plan
from checks.engine.spec import EndpointSpec, MonitorFacts, MonitoringFacts, ProjectSpec
from checks.sandbox import ScenarioError, load_scenario, parse_scenario
from tests.conftest import SCENARIOS

APEX = "shop.test"
ENDPOINTS = (
    EndpointSpec("homepage", "https://www.shop.test/"),
    EndpointSpec("login", "https://app.shop.test/login", "POST"),
    EndpointSpec("health", "https://api.shop.test/health"),
    EndpointSpec("webhook", "https://api.shop.test/hooks/stripe", "POST"),
)
ALL_UP = tuple(MonitorFacts(e.kind, e.url, last_ok_age_s=30.0) for e in ENDPOINTS)


def run(check, facts: MonitoringFacts | None, endpoints=ENDPOINTS):
    project = ProjectSpec(name="Shop", apex=APEX, endpoints=endpoints, monitoring=facts)
    return check(APEX, Context(None, project))


def test_stage5_plans_one_unit_per_check_on_the_apex_only_when_facts_are_given():
    with_facts = ProjectSpec(name="Shop", apex=APEX, monitoring=MonitoringFacts())
    without = ProjectSpec(name="Shop", apex=APEX)

    assert sorted((u.check.id, u.target) for u in plan(with_facts, stages=[Stage.MONITORING])) == [
        ("monitoring.alert_test", APEX), ("monitoring.health_endpoint", APEX),
        ("monitoring.log_hygiene", APEX), ("monitoring.monitors", APEX), ("monitoring.monitors_recent", APEX),
    ]
    assert plan(without, stages=[Stage.MONITORING]) == []


def test_monitors_on_the_four_critical_endpoints_pass():
    result = run(stage5.monitors, MonitoringFacts(monitors=ALL_UP))

    assert (result.status, result.summary) == ("pass", "monitors watch the homepage, login, health, webhook")
    assert result.evidence == {"monitored": ["homepage", "login", "health", "webhook"], "missing": [],
                               "disabled": [], "undeclared": [], "monitors": 4}


def test_a_declared_endpoint_without_an_enabled_monitor_fails_and_a_paused_one_says_so():
    facts = MonitoringFacts(monitors=(ALL_UP[0], MonitorFacts("health", ENDPOINTS[2].url, enabled=False)))

    result = run(stage5.monitors, facts)

    assert (result.status, result.summary) == (
        "fail", "no enabled monitor on: login, health (disabled), webhook")
    assert result.evidence["missing"] == ["login", "health", "webhook"]
    assert result.evidence["disabled"] == ["health"]
    assert result.metrics == {"monitors": 2}


def test_no_login_or_webhook_endpoint_declared_warns():
    endpoints = (ENDPOINTS[0], ENDPOINTS[2])
    facts = MonitoringFacts(monitors=(ALL_UP[0], ALL_UP[2]))

    result = run(stage5.monitors, facts, endpoints)

    assert (result.status, result.summary) == (
        "warn", "monitored: homepage, health; no login, webhook endpoint is declared to monitor")
    assert result.evidence["undeclared"] == ["login", "webhook"]


def test_the_homepage_is_always_needed():
    result = run(stage5.monitors, MonitoringFacts(), endpoints=())

    assert (result.status, result.summary) == ("fail", "no enabled monitor on: homepage")
    assert result.evidence["undeclared"] == ["login", "health", "webhook"]


def test_monitors_that_succeeded_within_their_window_pass():
    slow = MonitorFacts("", "https://status.shop.test/", interval_s=3600, last_ok_age_s=5000.0)

    result = run(stage5.monitors_recent, MonitoringFacts(monitors=(*ALL_UP, slow)))

    assert (result.status, result.summary) == (
        "pass", "each of the 5 enabled monitors succeeded within its window")
    assert result.evidence["monitors"][4] == {
        "kind": "", "url": "https://status.shop.test/", "window_s": 7200, "last_ok_age_s": 5000.0, "ok": True}
    assert result.metrics == {"stale_monitors": 0, "oldest_ok_age_s": 5000.0}


def test_a_monitor_that_never_succeeded_or_not_lately_fails_with_its_age():
    stale = MonitorFacts("health", ENDPOINTS[2].url, last_ok_age_s=1800.0)
    never = MonitorFacts("webhook", ENDPOINTS[3].url)
    paused = MonitorFacts("login", ENDPOINTS[1].url, enabled=False)

    result = run(stage5.monitors_recent, MonitoringFacts(monitors=(ALL_UP[0], stale, never, paused)))

    assert (result.status, result.summary) == (
        "fail",
        "2 monitors of 3 not successful lately — health: last success 30 min ago; webhook: never succeeded")
    assert result.metrics == {"stale_monitors": 2}
    assert [r["ok"] for r in result.evidence["monitors"]] == [True, False, False]


def test_no_enabled_monitor_skips_the_recency_check():
    paused = MonitorFacts("homepage", "https://www.shop.test/", enabled=False)

    result = run(stage5.monitors_recent, MonitoringFacts(monitors=(paused,)))

    assert (result.status, result.summary) == ("skipped", "no enabled monitor to judge")


@pytest.mark.parametrize("channels, tested, status, summary", [
    (0, 0, "fail", "no alert channel: an outage alerts nobody"),
    (2, 0, "fail", "none of the 2 alert channels has delivered a test alert"),
    (2, 1, "pass", "1 of 2 alert channels delivered a test alert"),
    (1, 1, "pass", "1 of 1 alert channel delivered a test alert"),
])
def test_an_alert_channel_must_have_delivered_a_test_alert(channels, tested, status, summary):
    result = run(stage5.alert_test, MonitoringFacts(alert_channels=channels, alert_channels_tested=tested))

    assert (result.status, result.summary) == (status, summary)
    assert result.evidence == {"channels": channels, "tested": tested}


def test_a_health_endpoint_must_be_declared():
    passed = run(stage5.health_endpoint, MonitoringFacts())
    failed = run(stage5.health_endpoint, MonitoringFacts(), endpoints=ENDPOINTS[:2])

    assert (passed.status, passed.summary) == ("pass", "health endpoint: https://api.shop.test/health")
    assert (failed.status, failed.summary, failed.evidence) == (
        "fail", "no health endpoint is declared", {"health_endpoints": []})


def test_log_hygiene_passes_warns_fails_and_cannot_test_without_a_sample():
    clean = scan_log("2026-11-30T07:40:01Z INFO GET / 200 14 ms\n", hash_key=b"k")
    personal = scan_log("signup jane@example.com\nsms +44 20 7946 0958\nsignup sam@example.com\n",
                        hash_key=b"k")
    secret = scan_log("Authorization: Bearer abcdefghijklmnop1234\nuser jane@example.com\n", hash_key=b"k")

    scans = {"clean": clean, "personal": personal, "secret": secret, "none": None}
    results = {name: run(stage5.log_hygiene, MonitoringFacts(log_scan=scan)) for name, scan in scans.items()}

    assert {name: (r.status, r.summary) for name, r in results.items()} == {
        "clean": ("pass", "no secrets or personal data in 1 line of log sample"),
        "personal": ("warn", "the log sample carries 2 email addresses, 1 phone number"),
        "secret": ("fail", "the log sample carries 1 bearer token and 1 email address"),
        "none": ("error", "could not test: no log sample was given"),
    }
    evidence = results["secret"].evidence
    assert evidence["counts"] == {"bearer_token": 1, "email": 1}
    assert [(f["line"], f["kind"]) for f in evidence["findings"]] == [(1, "bearer_token"), (2, "email")]
    assert "abcdefghijklmnop1234" not in repr(evidence) and "jane@example.com" not in repr(evidence)
    assert results["secret"].metrics == {"secrets": 1, "personal_data": 1, "lines": 2}


# --- the scenario's monitoring: mapping ---------------------------------------------------


def project_data(monitoring) -> dict:
    return {"apex": APEX, "preferred_host": f"www.{APEX}",
            "endpoints": [{"kind": e.kind, "url": e.url, "method": e.method} for e in ENDPOINTS],
            "monitoring": monitoring}


def test_a_scenario_monitoring_mapping_becomes_the_facts():
    spec = spec_from_dict(project_data({
        "monitors": [
            {"kind": "homepage", "last_ok_minutes_ago": 1},
            {"kind": "health", "interval_s": 30, "last_ok_minutes_ago": 0.5},
            {"url": "https://shop.test/", "name": "Apex"},   # "/" of the apex: a homepage monitor too
            {"url": "https://status.shop.test/", "enabled": False},
        ],
        "alert_channels": [{"kind": "email", "email": "ops@shop.test", "tested": True}, {"kind": "discord"}],
        "log_sample": "GET /?password=hunter22 200\n",
        "log_phone_region": "gb",
    }))

    facts = spec.monitoring
    assert facts.monitors == (
        MonitorFacts("homepage", "https://www.shop.test/", True, 60, 60.0),
        MonitorFacts("health", "https://api.shop.test/health", True, 30, 30.0),
        MonitorFacts("homepage", "https://shop.test/", True, 60, None),
        MonitorFacts("", "https://status.shop.test/", False, 60, None),
    )
    assert (facts.alert_channels, facts.alert_channels_tested) == (2, 1)
    assert (facts.log_scan.lines, dict(facts.log_scan.counts)) == (1, {"password_in_url": 1})


def test_no_mapping_means_no_facts_and_an_empty_one_monitors_nothing():
    assert spec_from_dict({"apex": APEX}).monitoring is None
    assert spec_from_dict(project_data({})).monitoring == MonitoringFacts()
    assert spec_from_dict(project_data(None)).monitoring == MonitoringFacts()


KEYS = "monitors, alert_channels, log_sample, log_phone_region"
MON = "monitoring.monitors[1]"
CHAN = "monitoring.alert_channels[1]"


@pytest.mark.parametrize("monitoring, message", [
    ([], f"the project's monitoring must be a mapping of {KEYS}"),
    ({"monitor": []}, f"the project's monitoring has unknown keys ['monitor']: use {KEYS}"),
    ({"monitors": [{"kind": "feed"}]}, f"{MON}: the project has no feed endpoint to monitor; give a url"),
    ({"monitors": [{}]}, f"{MON} needs a kind (an endpoint of the project) or a url"),
    ({"monitors": [{"url": "ftp://shop.test/"}]}, f"{MON}: 'ftp://shop.test/' must start with http:// or https://"),
    ({"monitors": [{"kind": "health", "interval_s": 10}]}, f"{MON}: interval_s must be 30 to 3600 seconds"),
    ({"monitors": [{"kind": "health", "timeout_s": 60}]},
     f"{MON}: timeout_s must be 1 to 30 s, shorter than the interval"),
    ({"monitors": [{"kind": "health", "last_ok_minutes_ago": -1}]},
     f"{MON}: last_ok_minutes_ago cannot be negative"),
    ({"monitors": [{"kind": "health", "enabled": "yes"}]}, f"{MON}: enabled must be true or false"),
    ({"alert_channels": [{"kind": "pager"}]}, f"{CHAN}: kind must be one of email, slack, discord"),
    ({"alert_channels": [{"kind": "email"}]}, f"{CHAN}: an email channel needs an email address"),
    ({"alert_channels": [{"kind": "slack", "webhook_url": "http://hooks.example/x"}]},
     f"{CHAN}: webhook_url must be an https:// URL"),
    ({"log_sample": ["a"]}, "monitoring.log_sample must be text (a YAML block: log_sample: |)"),
    ({"log_phone_region": "XX"}, "monitoring.log_phone_region 'XX' is not a country code like US or GB"),
])
def test_a_wrong_monitoring_mapping_names_its_part(monitoring, message):
    with pytest.raises(ValueError) as caught:
        spec_from_dict(project_data(monitoring))

    assert str(caught.value) == message


def test_the_scenario_file_format_accepts_monitoring_and_refuses_typos():
    parse_scenario({"project": project_data({})})
    with pytest.raises(ScenarioError, match="unknown key 'monitorng'"):
        parse_scenario({"project": {"apex": APEX, "monitorng": {}}})


def test_the_demo_monitors_everything_and_its_log_sample_is_clean():
    facts = spec_from_dict(load_scenario(SCENARIOS / "demo.yaml").project).monitoring

    assert [m.kind for m in facts.monitors] == ["homepage", "login", "health", "webhook"]
    assert all(m.enabled and m.last_ok_age_s <= 120 for m in facts.monitors)
    assert (facts.alert_channels, facts.alert_channels_tested) == (1, 1)
    assert (facts.log_scan.lines, facts.log_scan.counts) == (9, ())
