"""dns.dangling_cname against the sandbox's real DNS server, and the provider table on its own."""

from __future__ import annotations

import dataclasses
import json

import pytest

from checks.engine.checks.dns_records import DATA, claimable_provider
from checks.engine.net.session import Net
from tests.engine.support import run_check


def _dangling(sandbox, host: str, dns: dict, hosts: dict | None = None):
    box, net = sandbox({"dns": dns, "hosts": hosts or {}})
    return run_check(net, "dns.dangling_cname", host, apex="shop.test")


def test_a_cname_to_a_free_name_at_heroku_fails_as_a_takeover_risk(sandbox):
    result = _dangling(sandbox, "app.shop.test", {"app.shop.test": {"CNAME": ["app-legacy.herokuapp.com"]}})

    assert result.status == "fail"
    assert result.summary == (
        "subdomain takeover risk: app.shop.test is a CNAME to app-legacy.herokuapp.com (Heroku), "
        "which does not exist (NXDOMAIN)"
    )
    evidence = result.evidence
    assert (evidence["record_type"], evidence["target"], evidence["target_status"]) == (
        "CNAME", "app-legacy.herokuapp.com", "NXDOMAIN",
    )
    assert (evidence["provider"], evidence["provider_suffix"], evidence["provider_status"]) == (
        "Heroku", "herokuapp.com", "Edge case",
    )
    assert evidence["cname_chain"] == ["app-legacy.herokuapp.com"]
    assert evidence["query"]["rcode"] == "NXDOMAIN"
    assert evidence["source"].startswith("EdOverflow/can-i-take-over-xyz")
    assert result.remediation.startswith(
        "Remove the CNAME record of app.shop.test today, or re-create app-legacy.herokuapp.com at Heroku"
    )


def test_the_last_name_of_a_longer_chain_is_the_one_judged(sandbox):
    result = _dangling(sandbox, "www.shop.test", {
        "www.shop.test": {"CNAME": ["shop.trafficmanager.net"]},
        "shop.trafficmanager.net": {"CNAME": ["shop-eu.azurewebsites.net"]},
    })

    assert result.status == "fail"
    assert result.evidence["cname_chain"] == ["shop.trafficmanager.net", "shop-eu.azurewebsites.net"]
    assert result.evidence["target"] == "shop-eu.azurewebsites.net"
    assert (result.evidence["provider"], result.evidence["provider_suffix"]) == (
        "Microsoft Azure", "azurewebsites.net",
    )


def test_a_cname_to_a_free_name_elsewhere_warns_as_a_stale_record(sandbox):
    result = _dangling(sandbox, "docs.shop.test", {
        "docs.shop.test": {"CNAME": ["old-docs.internal.example.org"]},
        "example.org": {"SOA": ["ns.example.org. admin.example.org. 1 3600 600 86400 300"]},
    })

    assert result.status == "warn"
    assert result.summary == (
        "stale record: docs.shop.test is a CNAME to old-docs.internal.example.org, "
        "which does not exist (NXDOMAIN)"
    )
    assert (result.evidence["target"], result.evidence["target_status"]) == (
        "old-docs.internal.example.org", "NXDOMAIN",
    )
    assert "provider" not in result.evidence


def test_a_cname_chain_to_an_address_passes_and_names_every_hop(sandbox):
    result = _dangling(sandbox, "cdn.shop.test", {
        "cdn.shop.test": {"CNAME": ["shop.edge.cdn.test"]},
        "shop.edge.cdn.test": {"A": ["192.0.2.80"]},
    })

    assert result.status == "pass"
    assert result.summary == "cdn.shop.test → shop.edge.cdn.test → 192.0.2.80"
    assert result.evidence["record_type"] == "CNAME"
    assert result.evidence["target_status"] == "NOERROR"
    assert result.evidence["addresses"] == ["192.0.2.80"]


def test_a_cname_to_a_live_name_at_a_takeover_provider_passes(sandbox):
    result = _dangling(sandbox, "app.shop.test", {
        "app.shop.test": {"CNAME": ["clubhouse.herokuapp.com"]},
        "clubhouse.herokuapp.com": {"A": ["192.0.2.10"]},
    })

    assert result.status == "pass"
    assert result.summary == "app.shop.test → clubhouse.herokuapp.com → 192.0.2.10"


def test_a_cname_to_a_name_that_exists_without_an_a_record_passes(sandbox):
    result = _dangling(sandbox, "v6.shop.test", {
        "v6.shop.test": {"CNAME": ["v6.edge.cdn.test"]},
        "v6.edge.cdn.test": {"AAAA": ["2001:db8::80"]},
    })

    assert result.status == "pass"
    assert result.summary == "v6.shop.test → v6.edge.cdn.test: the target exists (it has no A record)"
    assert result.evidence["addresses"] == []


def test_a_host_with_its_own_address_is_skipped_as_not_a_cname(sandbox):
    result = _dangling(sandbox, "www.shop.test", {}, hosts={"www.shop.test": {}})

    assert result.status == "skipped"
    assert result.summary == "www.shop.test is not a CNAME"
    assert result.evidence["cname_chain"] == []


def test_an_absent_host_is_skipped_because_it_holds_no_cname(sandbox):
    result = _dangling(sandbox, "admin.shop.test", {}, hosts={"www.shop.test": {}})

    assert result.status == "skipped"
    assert result.summary == "admin.shop.test is not a CNAME"
    assert result.evidence["query"]["rcode"] == "NXDOMAIN"


def test_servfail_is_an_error_not_a_verdict(sandbox):
    result = _dangling(sandbox, "api.shop.test", {"api.shop.test": "SERVFAIL"})

    assert result.status == "error"
    assert result.summary == "could not test: api.shop.test: A query failed (SERVFAIL: server failure)"


def test_a_chain_that_runs_into_servfail_is_an_error(sandbox):
    result = _dangling(sandbox, "app.shop.test", {
        "app.shop.test": {"CNAME": ["app.paas.test"]},
        "app.paas.test": "SERVFAIL",
    })

    assert result.status == "error"
    assert result.summary == "could not test: app.shop.test: A query failed (SERVFAIL: server failure)"


def test_a_name_that_never_answers_is_an_error_after_the_dns_timeout(sandbox):
    box, _ = sandbox({"dns": {"app.shop.test": "TIMEOUT"}})
    profile = dataclasses.replace(box.profile, dns_timeout_s=0.3)

    with Net(profile) as net:
        result = run_check(net, "dns.dangling_cname", "app.shop.test")

    server = f"{profile.nameservers[0]}:{profile.dns_port}"
    assert result.status == "error"
    assert result.summary == (
        f"could not test: app.shop.test: A query failed (TIMEOUT: no answer from {server} within 0.3 s)"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("app-legacy.herokuapp.com", ("Heroku", "herokuapp.com")),
        ("APP-LEGACY.HerokuApp.com.", ("Heroku", "herokuapp.com")),  # case and trailing dot
        ("shop-prod.eu-west-1.elasticbeanstalk.com", ("AWS Elastic Beanstalk", "elasticbeanstalk.com")),
        ("assets.shop.test.s3-website-eu-west-1.amazonaws.com", ("AWS S3", "s3-website-*.amazonaws.com")),
        ("assets.s3-website.eu-central-1.amazonaws.com", ("AWS S3", "s3-website.*.amazonaws.com")),
        ("shop.github.io", ("GitHub Pages", "github.io")),
        ("herokuapp.com", None),  # the provider's own apex is nobody's to claim
        ("app.notherokuapp.com", None),  # a suffix is whole labels, not characters
        ("app.paas.example.net", None),
        ("shop.s3-website-eu-west-1.example.com", None),
    ],
)
def test_a_provider_matches_whole_labels_strictly_below_its_suffix(name, expected):
    found = claimable_provider(name)

    assert ((found[0].name, found[1]) if found else None) == expected


def test_each_data_file_names_its_source_and_date():
    for filename in ("takeover_providers.json", "caa_issuers.json"):
        data = json.loads((DATA / filename).read_text(encoding="utf-8"))

        assert data["source"]
        assert len(data["date"]) == 10 and data["date"][4] == "-"
