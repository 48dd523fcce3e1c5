"""The known traps of ``shared/cases/known-traps.json`` that concern DNS, TLS, redirects and
HSTS, each played from its scenario file in ``scenarios/cases/`` with exact verdicts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from checks.engine.checks.tls import days_left
from checks.engine.names import matching_name
from tests.conftest import SCENARIOS
from tests.engine.support import run_check


def _case(sandbox, case_id: str):
    data = yaml.safe_load((SCENARIOS / "cases" / f"{case_id}.yaml").read_text(encoding="utf-8"))
    box, net = sandbox(data)
    return box, net, data["project"]


def test_hsts_01_two_fields_warn_and_the_first_field_is_the_policy(sandbox):
    box, net, _ = _case(sandbox, "HSTS-01")

    result = run_check(net, "http.hsts", "www.example.com", apex="example.com")

    assert result.status == "warn"
    assert result.summary == (
        "2 Strict-Transport-Security fields; browsers use only the first "
        "(max-age=31536000, includeSubDomains off)"
    )
    # Each field parsed on its own, never folded into "a, b".
    assert result.evidence["fields"] == ["max-age=31536000", "max-age=31536000; includeSubDomains"]
    assert result.evidence["effective"] == {
        "max_age": 31536000, "include_subdomains": False, "preload": False,
    }
    assert result.metrics == {"max_age_s": 31536000}


def test_hsts_01b_one_field_with_comma_joined_values_fails_as_invalid(sandbox):
    box, net, _ = _case(sandbox, "HSTS-01b")

    result = run_check(net, "http.hsts", "example.com", apex="example.com")

    assert result.status == "fail"
    assert result.summary == (
        "the Strict-Transport-Security header is invalid, so browsers ignore it: "
        "value '31536000, max-age=31536000' of 'max-age' is neither a token nor a quoted-string"
    )
    assert result.evidence["effective"]["max_age"] is None


def test_tls_01_a_wildcard_covers_www_but_neither_the_apex_nor_two_labels(sandbox):
    box, net, _ = _case(sandbox, "TLS-01")

    verdicts = {
        host: run_check(net, "tls.certificate", host, apex="example.com")
        for host in ("example.com", "www.example.com", "a.b.example.com")
    }

    assert {host: r.status for host, r in verdicts.items()} == {
        "example.com": "fail", "www.example.com": "pass", "a.b.example.com": "fail",
    }
    assert verdicts["example.com"].summary == (
        "example.com is not covered by the certificate's names: *.example.com"
    )
    assert verdicts["a.b.example.com"].summary == (
        "a.b.example.com is not covered by the certificate's names: *.example.com"
    )
    assert verdicts["www.example.com"].evidence["matched_name"] == "*.example.com"


# TLS-01 as the case gives it: the presented leaf and the hosts, with "now" fixed.
TLS_01_LEAF = {
    "subject_cn": "*.example.com",
    "san_dns": ["*.example.com"],
    "issuer_cn": "Example Issuing CA",
    "not_before": "2024-01-01T00:00:00Z",
    "not_after": "2026-01-01T00:00:00Z",
}
TLS_01_NOW = "2025-06-01T00:00:00Z"
TLS_01_PER_HOST = {"example.com": "fail", "www.example.com": "pass", "a.b.example.com": "fail"}


def _utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _name_verdict(host: str, leaf: dict, now: datetime) -> str:
    in_validity = _utc(leaf["not_before"]) <= now < _utc(leaf["not_after"])
    return "pass" if in_validity and matching_name(host, leaf["san_dns"]) else "fail"


def test_tls_01_names_match_the_cases_per_host_verdicts_exactly():
    now = _utc(TLS_01_NOW)

    verdicts = {host: _name_verdict(host, TLS_01_LEAF, now) for host in TLS_01_PER_HOST}

    assert verdicts == TLS_01_PER_HOST
    # The subject CN "*.example.com" is never used for matching (RFC 9525 §6.3).
    assert matching_name("example.com", [], None) is None
    assert days_left(_utc(TLS_01_LEAF["not_after"]), now) == 214


@pytest.mark.parametrize(
    ("host", "san", "expected"),
    [
        ("content-api.example.net", ["example.net", "*.example.net"], "*.example.net"),  # TLS-01b
        ("example.net", ["example.net", "*.example.net"], "example.net"),
        ("WWW.Example.COM.", ["*.example.com"], "*.example.com"),  # case and trailing dot
        ("www.example.com", ["w*.example.com"], None),  # partial-label wildcards match nothing
        ("example.com", ["*.com"], None),  # no wildcard right under a top-level label
        ("example.com", ["*"], None),
        ("192.0.2.1", ["192.0.2.1"], None),  # an IP is matched against IP SANs only
    ],
)
def test_names_follow_rfc_9525(host, san, expected):
    assert matching_name(host, san) == expected


def test_names_match_ip_literals_against_ip_sans():
    assert matching_name("192.0.2.1", ["192.0.2.1"], ["192.0.2.1"]) == "192.0.2.1"
    assert matching_name("2001:db8::1", [], ["2001:db8:0::1"]) == "2001:db8:0::1"


def test_tls_01b_a_wildcard_covers_a_hyphenated_label(sandbox):
    box, net, _ = _case(sandbox, "TLS-01b")

    result = run_check(net, "tls.certificate", "content-api.example.net", apex="example.net")

    assert result.status == "pass"
    assert result.evidence["matched_name"] == "*.example.net"


def test_redir_01_a_downgrade_in_the_middle_of_the_chain_fails(sandbox):
    box, net, _ = _case(sandbox, "REDIR-01")

    result = run_check(net, "http.https_redirect", "example.com", apex="example.com")

    assert result.status == "fail"
    assert result.summary == "hop 2 goes back to plain HTTP: http://www.example.com/"
    assert [(h["url"], h["status"]) for h in result.evidence["chain"]] == [
        ("http://example.com/", 301),
        ("https://example.com/", 301),
        ("http://www.example.com/", 301),
        ("https://www.example.com/", 200),
    ]


def test_redir_01_the_canonical_redirect_fails_on_the_same_downgrade(sandbox):
    box, net, _ = _case(sandbox, "REDIR-01")

    result = run_check(
        net, "http.canonical_redirect", "example.com", apex="example.com", preferred_host="www.example.com"
    )

    assert result.status == "fail"
    assert result.summary == "hop 1 goes back to plain HTTP: http://www.example.com/launch-ready-probe?lr=1"


def test_dns_01_a_dangling_cname_fails_with_its_target_nxdomain(sandbox):
    box, net, _ = _case(sandbox, "DNS-01")

    result = run_check(net, "dns.resolves", "app.example.com", apex="example.com")

    # Takeover (fail) vs stale record (DNS-01c: warn): tests/engine/test_known_traps_dns.py.
    assert result.status == "fail"
    assert result.summary == (
        "app.example.com is a CNAME to app-legacy.herokuapp.com, which does not exist (NXDOMAIN)"
    )
    assert result.evidence["record_type"] == "CNAME"
    assert result.evidence["target"] == "app-legacy.herokuapp.com"
    assert result.evidence["target_status"] == "NXDOMAIN"
    assert result.evidence["cname_chain"] == ["app-legacy.herokuapp.com"]


def test_dns_01b_a_cname_chain_is_reported_as_a_chain_not_a_bare_a(sandbox):
    box, net, _ = _case(sandbox, "DNS-01b")

    result = run_check(net, "dns.resolves", "www.example.com", apex="example.com")

    assert result.status == "pass"
    assert result.summary == "www.example.com → example.com.edge.cdn.example.net → 192.0.2.80"
    assert result.evidence["record_type"] == "CNAME"
    assert result.evidence["cname_chain"] == ["example.com.edge.cdn.example.net"]
    assert result.evidence["addresses"] == ["192.0.2.80"]
