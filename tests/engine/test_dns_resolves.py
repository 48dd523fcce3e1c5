"""dns.resolves against the sandbox's real DNS server: every fault on and off."""

from __future__ import annotations

import dataclasses

from checks.engine.net.session import Net
from tests.engine.support import run_check


def test_a_host_with_an_a_record_passes_with_its_address(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})
    address = box.addresses["www.shop.test"]

    result = run_check(net, "dns.resolves", "www.shop.test")

    assert result.status == "pass"
    assert result.summary == f"www.shop.test → {address}"
    assert result.evidence["record_type"] == "A"
    assert result.evidence["cname_chain"] == []
    assert result.evidence["addresses"] == [address]
    assert [(q["rdtype"], q["rcode"]) for q in result.evidence["queries"]] == [
        ("A", "NOERROR"), ("AAAA", "NOERROR"),
    ]
    assert result.metrics == {"addresses": 1, "cname_hops": 0, "ttl_s": 300}


def test_a_cname_chain_to_an_a_record_is_reported_as_a_cname_with_every_hop(sandbox):
    box, net = sandbox({
        "dns": {
            "www.shop.test": {"CNAME": ["shop.edge.cdn.test"], "ttl": 600},
            "shop.edge.cdn.test": {"CNAME": ["lb.cdn.test"], "ttl": 120},
            "lb.cdn.test": {"A": ["192.0.2.80"], "ttl": 60},
        },
    })

    result = run_check(net, "dns.resolves", "www.shop.test")

    assert result.status == "pass"
    assert result.summary == "www.shop.test → shop.edge.cdn.test → lb.cdn.test → 192.0.2.80"
    assert result.evidence["record_type"] == "CNAME"
    assert result.evidence["cname_chain"] == ["shop.edge.cdn.test", "lb.cdn.test"]
    assert result.evidence["addresses"] == ["192.0.2.80"]
    assert result.evidence["target"] == "lb.cdn.test"
    assert result.evidence["target_status"] == "NOERROR"
    assert result.metrics == {"addresses": 1, "cname_hops": 2, "ttl_s": 60}


def test_an_absent_name_fails_as_nxdomain(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})

    result = run_check(net, "dns.resolves", "admin.shop.test")

    assert result.status == "fail"
    assert result.summary == "admin.shop.test does not exist (NXDOMAIN)"
    assert result.evidence["record_type"] is None
    assert result.evidence["addresses"] == []
    assert [q["rcode"] for q in result.evidence["queries"]] == ["NXDOMAIN", "NXDOMAIN"]
    assert result.remediation == (
        "Add an A (and AAAA) or CNAME record for admin.shop.test at the DNS provider."
    )
    assert result.metrics == {"addresses": 0, "cname_hops": 0}


def test_a_cname_to_a_name_that_does_not_exist_fails_as_dangling(sandbox):
    box, net = sandbox({"dns": {"app.shop.test": {"CNAME": ["shop-old.paas.test"]}}})

    result = run_check(net, "dns.resolves", "app.shop.test")

    assert result.status == "fail"
    assert result.summary == "app.shop.test is a CNAME to shop-old.paas.test, which does not exist (NXDOMAIN)"
    assert result.evidence["record_type"] == "CNAME"
    assert result.evidence["cname_chain"] == ["shop-old.paas.test"]
    assert result.evidence["target"] == "shop-old.paas.test"
    assert result.evidence["target_status"] == "NXDOMAIN"
    # RFC 6604 §3: the NXDOMAIN answer still carries the CNAME.
    assert result.evidence["queries"][0]["rcode"] == "NXDOMAIN"
    assert result.evidence["queries"][0]["cname_chain"] == ["shop-old.paas.test"]
    assert "subdomain takeover" in result.remediation
    assert result.metrics == {"addresses": 0, "cname_hops": 1, "ttl_s": 300}


def test_a_name_with_records_but_no_address_fails_as_no_data(sandbox):
    box, net = sandbox({"dns": {"mail.shop.test": {"MX": [[10, "mx.provider.test"]]}}})

    result = run_check(net, "dns.resolves", "mail.shop.test")

    assert result.status == "fail"
    assert result.summary == "mail.shop.test has no A or AAAA records"
    assert [q["rcode"] for q in result.evidence["queries"]] == ["NOERROR", "NOERROR"]
    assert result.evidence["addresses"] == []


def test_every_address_of_the_name_is_reported(sandbox):
    box, net = sandbox({
        "dns": {"www.shop.test": {"A": ["192.0.2.80", "192.0.2.81"], "AAAA": ["2001:db8::80"]}},
    })

    result = run_check(net, "dns.resolves", "www.shop.test")

    assert result.status == "pass"
    assert sorted(result.evidence["addresses"]) == ["192.0.2.80", "192.0.2.81", "2001:db8::80"]
    assert result.metrics["addresses"] == 3


def test_an_ipv6_only_host_passes_and_is_reported_as_aaaa(sandbox):
    box, net = sandbox({"dns": {"v6.shop.test": {"AAAA": ["2001:db8::80"]}}})

    result = run_check(net, "dns.resolves", "v6.shop.test")

    assert result.status == "pass"
    assert result.summary == "v6.shop.test → 2001:db8::80"
    assert result.evidence["record_type"] == "AAAA"
    assert result.evidence["addresses"] == ["2001:db8::80"]


def test_a_servfail_is_an_error_not_a_verdict(sandbox):
    box, net = sandbox({"dns": {"api.shop.test": "SERVFAIL"}})

    result = run_check(net, "dns.resolves", "api.shop.test")

    assert result.status == "error"
    assert result.summary == "api.shop.test: A query failed (SERVFAIL: server failure)"
    assert [q["rcode"] for q in result.evidence["queries"]] == ["SERVFAIL", "SERVFAIL"]


def test_a_name_that_never_answers_is_an_error_after_the_dns_timeout(sandbox):
    box, _ = sandbox({"dns": {"api.shop.test": "TIMEOUT"}})
    profile = dataclasses.replace(box.profile, dns_timeout_s=0.3)
    server = f"{box.dns_address}:{box.dns.port}"

    with Net(profile) as net:
        result = run_check(net, "dns.resolves", "api.shop.test")

    assert result.status == "error"
    assert result.summary == f"api.shop.test: A query failed (TIMEOUT: no answer from {server} within 0.3 s)"
    a_query = result.evidence["queries"][0]
    assert (a_query["rcode"], a_query["error"]) == ("TIMEOUT", f"no answer from {server} within 0.3 s")
    assert 300 <= a_query["elapsed_ms"] < 1000


def test_a_cname_loop_fails_and_names_the_loop(sandbox):
    box, net = sandbox({
        "dns": {
            "www.shop.test": {"CNAME": ["edge.shop.test"]},
            "edge.shop.test": {"CNAME": ["www.shop.test"]},
        },
    })

    result = run_check(net, "dns.resolves", "www.shop.test")

    # The sandbox answers a looping chain with SERVFAIL, as Unbound and public resolvers do;
    # the check walks the CNAMEs itself to tell the loop from a broken server.
    assert result.status == "fail"
    assert result.summary == "www.shop.test is a CNAME loop: www.shop.test → edge.shop.test → www.shop.test"
    assert result.evidence["record_type"] == "CNAME"
    assert result.evidence["cname_chain"] == ["edge.shop.test", "www.shop.test"]
    assert [(q["name"], q["rdtype"], q["rcode"]) for q in result.evidence["queries"]] == [
        ("www.shop.test", "A", "SERVFAIL"),
        ("www.shop.test", "AAAA", "SERVFAIL"),
        ("www.shop.test", "CNAME", "NOERROR"),
        ("edge.shop.test", "CNAME", "NOERROR"),
    ]
    assert result.metrics["cname_hops"] == 2


def test_a_cname_to_itself_is_a_loop(sandbox):
    box, net = sandbox({"dns": {"www.shop.test": {"CNAME": ["www.shop.test"]}}})

    result = run_check(net, "dns.resolves", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == "www.shop.test is a CNAME loop: www.shop.test → www.shop.test"


def test_a_cname_chain_longer_than_16_hops_cannot_be_resolved_and_is_an_error(sandbox):
    zone = {f"h{i}.shop.test": {"CNAME": [f"h{i + 1}.shop.test"]} for i in range(20)}
    zone["h20.shop.test"] = {"A": ["192.0.2.1"]}
    box, net = sandbox({"dns": zone})

    result = run_check(net, "dns.resolves", "h0.shop.test")

    assert result.status == "error"
