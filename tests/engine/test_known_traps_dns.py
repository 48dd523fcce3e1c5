"""The DNS-01 known traps of ``shared/cases/known-traps.json`` for dns.dangling_cname: a
takeover (DNS-01, fail) against a stale record (DNS-01c, warn), each played from its scenario
file in ``scenarios/cases/`` with exact verdicts."""

from __future__ import annotations

import yaml

from tests.conftest import SCENARIOS
from tests.engine.support import run_check


def _case(sandbox, case_id: str):
    data = yaml.safe_load((SCENARIOS / "cases" / f"{case_id}.yaml").read_text(encoding="utf-8"))
    box, net = sandbox(data)
    return net


def test_dns_01_a_cname_to_a_free_name_at_a_claimable_provider_is_a_takeover_risk(sandbox):
    net = _case(sandbox, "DNS-01")

    result = run_check(net, "dns.dangling_cname", "app.example.com", apex="example.com")

    assert result.status == "fail"
    assert result.summary == (
        "subdomain takeover risk: app.example.com is a CNAME to app-legacy.herokuapp.com (Heroku), "
        "which does not exist (NXDOMAIN)"
    )
    evidence = result.evidence
    assert evidence["record_type"] == "CNAME"
    assert evidence["target"] == "app-legacy.herokuapp.com"
    assert evidence["target_status"] == "NXDOMAIN"
    assert evidence["provider"] == "Heroku"


def test_dns_01_dns_resolves_still_fails_the_host_with_its_target_nxdomain(sandbox):
    net = _case(sandbox, "DNS-01")

    result = run_check(net, "dns.resolves", "app.example.com", apex="example.com")

    assert result.status == "fail"
    assert (result.evidence["record_type"], result.evidence["target_status"]) == ("CNAME", "NXDOMAIN")


def test_dns_01c_a_cname_to_a_free_name_elsewhere_is_a_stale_record_not_a_takeover(sandbox):
    net = _case(sandbox, "DNS-01c")

    result = run_check(net, "dns.dangling_cname", "docs.example.com", apex="example.com")

    assert result.status == "warn"
    assert result.summary == (
        "stale record: docs.example.com is a CNAME to old-docs.internal.example.org, "
        "which does not exist (NXDOMAIN)"
    )
    assert "takeover" not in result.summary
    assert result.evidence["record_type"] == "CNAME"
    assert result.evidence["target"] == "old-docs.internal.example.org"
    assert result.evidence["target_status"] == "NXDOMAIN"
    assert "provider" not in result.evidence


def test_dns_01b_a_live_chain_is_no_dangling_cname(sandbox):
    net = _case(sandbox, "DNS-01b")

    result = run_check(net, "dns.dangling_cname", "www.example.com", apex="example.com")

    assert result.status == "pass"
    assert result.summary == "www.example.com → example.com.edge.cdn.example.net → 192.0.2.80"
