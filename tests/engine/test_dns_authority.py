"""dns.authoritative and dns.ttl against the sandbox's real nameservers, DnsClient.query_at,
the sandbox's authoritative mode, and the ``nameservers`` key of a scenario.

Every scenario here has the project apex shop.test and the host www.shop.test; unless it says
otherwise, the sandbox delegates shop.test to two identical servers, ns1 and ns2.
"""

from __future__ import annotations

import dataclasses
import socket

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from checks.engine.net.session import Net
from checks.sandbox import ScenarioError, parse_scenario
from checks.sandbox.dnsserver import DnsServer
from tests.engine.support import run_check

NS1, NS2, NS3 = "ns1.shop.test", "ns2.shop.test", "ns3.shop.test"
DOC_REFUSAL = "outbound policy refused 192.0.2.53: documentation range (RFC 5737, RFC 3849, RFC 9637)"


def _start(sandbox, *, timeout_s: float | None = None, **data):
    """A sandbox for shop.test with www.shop.test, plus ``data``; a Net with ``timeout_s``."""
    box, net = sandbox({"project": {"apex": "shop.test"}, "hosts": {"www.shop.test": {}}, **data})
    if timeout_s is not None:
        net = Net(dataclasses.replace(box.profile, dns_timeout_s=timeout_s))
    return box, net


def _server(box, name: str) -> str:
    return f"{box.nameserver_addresses[name]}:{box.dns.port}"


def _by_nameserver(result) -> dict:
    """nameserver → (state, answer or reason, serial): which server answered what."""
    return {
        s["nameserver"]: (s["state"], s.get("answer", s.get("reason")), s["serial"])
        for s in result.evidence["servers"]
    }


# ---------------------------------------------------------------------------------------------
# dns.authoritative


def test_two_nameservers_that_agree_pass_and_each_answer_is_in_the_evidence(sandbox):
    box, net = _start(sandbox)
    www = box.addresses["www.shop.test"]

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert result.status == "pass"
    assert result.summary == f"www.shop.test: A {www}, from all 2 nameservers of shop.test"
    evidence = result.evidence
    assert (evidence["zone"], evidence["nameservers"]) == ("shop.test", [NS1, NS2])
    assert [(s["nameserver"], s["address"], s["server"]) for s in evidence["servers"]] == [
        (NS1, box.nameserver_addresses[NS1], _server(box, NS1)),
        (NS2, box.nameserver_addresses[NS2], _server(box, NS2)),
    ]
    for server in evidence["servers"]:
        assert (server["state"], server["serial"], server["answer"]) == ("answered", 1, f"A {www}")
        assert server["records"] == {"A": [www], "AAAA": [], "CNAME": []}
        assert [(q["rdtype"], q["rcode"], q["aa"]) for q in server["queries"]] == [
            ("A", "NOERROR", True), ("AAAA", "NOERROR", True), ("CNAME", "NOERROR", True),
            ("SOA", "NOERROR", True),
        ]
    assert [(q["name"], q["rdtype"]) for q in evidence["zone_queries"]] == [
        ("www.shop.test", "NS"), ("shop.test", "NS"),
    ]


def test_a_stale_nameserver_fails_with_each_servers_answer_and_serial(sandbox):
    box, net = _start(sandbox, nameservers={
        NS1: {"serial": 2026011502},
        NS2: {"serial": 2026011501, "dns": {"www.shop.test": {"A": ["203.0.113.9"]}}},
    })
    www = box.addresses["www.shop.test"]

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == (
        f"the nameservers of shop.test disagree on www.shop.test: {NS1} (serial 2026011502) gives A {www}; "
        f"{NS2} (serial 2026011501) gives A 203.0.113.9"
    )
    assert _by_nameserver(result) == {
        NS1: ("answered", f"A {www}", 2026011502),
        NS2: ("answered", "A 203.0.113.9", 2026011501),
    }
    assert result.remediation.startswith(
        "Make every nameserver of shop.test serve the same copy of the zone: compare their SOA serials"
    )


def test_a_cname_on_one_server_and_an_a_on_the_others_is_a_split_record(sandbox):
    box, net = _start(sandbox, nameservers={
        NS1: {}, NS2: {}, NS3: {"dns": {"www.shop.test": {"CNAME": ["shop-test.cdn.test"]}}},
    })
    www = box.addresses["www.shop.test"]

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert result.status == "fail"
    # Same serial everywhere: serials explain nothing here, so the summary leaves them out.
    assert result.summary == (
        f"the nameservers of shop.test disagree on www.shop.test: {NS1} and {NS2} give A {www}; "
        f"{NS3} gives CNAME shop-test.cdn.test"
    )
    servers = {s["nameserver"]: s for s in result.evidence["servers"]}
    assert servers[NS3]["records"] == {"A": [], "AAAA": [], "CNAME": ["shop-test.cdn.test"]}
    assert servers[NS1]["records"] == {"A": [www], "AAAA": [], "CNAME": []}


def test_a_server_that_never_answers_is_a_lame_delegation(sandbox):
    box, net = _start(sandbox, timeout_s=0.3, nameservers={NS1: {}, NS2: {}, NS3: "TIMEOUT"})

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == f"lame delegation: {NS3} does not answer (no reply within 0.3 s)"
    state, reason, serial = _by_nameserver(result)[NS3]
    assert (state, reason, serial) == ("lame", "does not answer (no reply within 0.3 s)", None)
    lame = result.evidence["servers"][2]
    assert [(q["rdtype"], q["rcode"]) for q in lame["queries"]] == [("A", "TIMEOUT")]  # asked once
    assert result.remediation.startswith(f"Remove {NS3} from the NS records of shop.test")


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("REFUSED", "answers REFUSED"),
        ("SERVFAIL", "answers SERVFAIL"),
        ({"authoritative": False}, "answers without the AA flag: it does not serve shop.test itself"),
    ],
)
def test_a_server_that_refuses_fails_or_is_not_authoritative_is_lame(sandbox, spec, reason):
    box, net = _start(sandbox, nameservers={NS1: {}, NS2: spec})

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert (result.status, result.summary) == ("fail", f"lame delegation: {NS2} {reason}")
    assert _by_nameserver(result)[NS1][0] == "answered"


def test_no_server_answering_at_all_is_an_error_not_a_verdict(sandbox):
    box, net = _start(sandbox, nameservers={NS1: "REFUSED", NS2: "SERVFAIL"})

    results = {c: run_check(net, c, "www.shop.test") for c in ("dns.authoritative", "dns.ttl")}

    reason = (f"could not test: no nameserver of shop.test answered for www.shop.test: "
              f"{NS1} answers REFUSED; {NS2} answers SERVFAIL")
    assert {c: (r.status, r.summary) for c, r in results.items()} == {
        "dns.authoritative": ("error", reason), "dns.ttl": ("error", reason),
    }


def test_nxdomain_on_every_server_is_the_same_answer(sandbox):
    box, net = _start(sandbox)

    result = run_check(net, "dns.authoritative", "admin.shop.test")

    assert (result.status, result.summary) == (
        "pass", "admin.shop.test: NXDOMAIN, from all 2 nameservers of shop.test",
    )


def test_a_cname_leaving_the_zone_is_the_whole_authoritative_answer(sandbox):
    box, net = _start(sandbox, dns={"www.shop.test": {"CNAME": ["shop-test.cdn.test"]}},
                      hosts={"shop-test.cdn.test": {}})

    result = run_check(net, "dns.authoritative", "www.shop.test")
    answer = net.dns.query_at(box.nameserver_addresses[NS1], "www.shop.test", "A")

    assert (result.status, result.summary) == (
        "pass", "www.shop.test: CNAME shop-test.cdn.test, from all 2 nameservers of shop.test",
    )
    # The zone's server gives the CNAME only; the resolver follows it elsewhere.
    assert (answer.rcode, answer.aa, answer.cname_chain, answer.records) == (
        "NOERROR", True, ["shop-test.cdn.test"], [],
    )


def test_an_ns_name_that_does_not_exist_fails_while_the_others_answer(sandbox):
    box, net = _start(sandbox, dns={"shop.test": {"NS": [NS1, "ns-gone.shop.test"]}},
                      nameservers={NS1: {}})

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == (
        "NS ns-gone.shop.test has no address: ns-gone.shop.test does not exist (NXDOMAIN)"
    )
    assert result.evidence["nameservers"] == ["ns-gone.shop.test", NS1]
    assert result.evidence["unresolved_nameservers"] == {
        "ns-gone.shop.test": "ns-gone.shop.test does not exist (NXDOMAIN)",
    }
    assert _by_nameserver(result) == {NS1: ("answered", f"A {box.addresses['www.shop.test']}", 1)}


def test_an_ns_address_outside_the_sandbox_is_refused_without_a_socket(sandbox):
    box, net = _start(sandbox, dns={
        "shop.test": {"NS": [NS1, "ns9.shop.test"]},
        "ns9.shop.test": {"A": ["192.0.2.53"]},
    }, nameservers={NS1: {}})

    result = run_check(net, "dns.authoritative", "www.shop.test")

    www = box.addresses["www.shop.test"]
    assert result.status == "error"
    assert result.summary == f"could not test ns9.shop.test: {DOC_REFUSAL}; {NS1} gives A {www}"
    refused = result.evidence["servers"][1]
    assert (refused["nameserver"], refused["state"], refused["reason"]) == (
        "ns9.shop.test", "not tested", DOC_REFUSAL,
    )
    assert [(q["rcode"], q["server"]) for q in refused["queries"]] == [
        ("REFUSED_BY_POLICY", f"192.0.2.53:{box.dns.port}"),
    ]
    # Sent: NS www, NS apex, A/AAAA of each NS name, and 4 questions to ns1 — none to 192.0.2.53.
    assert net.dns.queries_sent == 2 + 4 + 4


def test_an_ns_at_a_loopback_address_outside_the_block_never_sees_a_datagram(sandbox):
    box, net = _start(sandbox, dns={
        "shop.test": {"NS": [NS1, "ns-local.shop.test"]},
        "ns-local.shop.test": {"A": ["127.0.0.1"]},
    }, nameservers={NS1: {}})

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", box.dns.port))  # at the very port 53 maps to
        listener.setblocking(False)
        result = run_check(net, "dns.authoritative", "www.shop.test")
        with pytest.raises(BlockingIOError):
            listener.recvfrom(512)

    assert result.status == "error"
    assert _by_nameserver(result)["ns-local.shop.test"] == (
        "not tested", "outbound policy refused 127.0.0.1: loopback", None,
    )


def test_no_ns_records_at_or_above_the_host_is_an_error(sandbox):
    box, net = _start(sandbox, nameservers={})

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert (result.status, result.summary) == (
        "error", "could not test: no NS records for www.shop.test or its parents",
    )
    assert [q["name"] for q in result.evidence["zone_queries"]] == ["www.shop.test", "shop.test"]


def test_a_zone_look_up_that_fails_is_an_error(sandbox):
    box, net = _start(sandbox, dns={"www.shop.test": "SERVFAIL"})

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert (result.status, result.summary) == (
        "error", "could not test: www.shop.test: NS query failed (SERVFAIL: server failure)",
    )


def test_a_subdomain_delegated_to_its_own_servers_is_judged_in_its_own_zone(sandbox):
    # shop.test's servers hold a delegation to ns.shop-cdn.test for cdn.shop.test; the resolver
    # returns cdn.shop.test's NS set first, and that server does not answer: lame for cdn.
    box, net = _start(sandbox, dns={
        "cdn.shop.test": {"NS": ["ns.shop-cdn.test"]},
        "ns.shop-cdn.test": {"A": ["192.0.2.53"]},
    })

    result = run_check(net, "dns.authoritative", "cdn.shop.test")

    assert result.status == "error"
    assert result.evidence["zone"] == "cdn.shop.test"
    assert result.summary == (
        f"could not test: no nameserver of cdn.shop.test answered for cdn.shop.test: "
        f"ns.shop-cdn.test: {DOC_REFUSAL}"
    )


# ---------------------------------------------------------------------------------------------
# dns.ttl


def test_a_ttl_of_two_days_warns_that_the_old_record_outlives_the_cutover(sandbox):
    box, net = _start(sandbox, dns={"www.shop.test": {"ttl": 172800}})
    www = box.addresses["www.shop.test"]

    result = run_check(net, "dns.ttl", "www.shop.test")

    assert result.status == "warn"
    assert result.summary == (
        "www.shop.test: A TTL is 172800 s (2 days): a record about to change stays cached up to "
        "2 days after the cutover; lower it to 300 s 2 days ahead"
    )
    assert result.metrics == {"max_ttl_s": 172800}
    assert result.evidence["records"] == [{"type": "A", "value": www, "ttl_s": 172800, "nameserver": NS1}]
    assert result.evidence["ttl_s_by_nameserver"] == {NS1: {"A": 172800}, NS2: {"A": 172800}}
    assert result.remediation.startswith(
        "At the DNS provider, set the TTL of www.shop.test's A record to 300 s at least 2 days before"
    )


def test_a_ttl_of_an_hour_passes(sandbox):
    box, net = _start(sandbox, dns={"www.shop.test": {"ttl": 3600}})

    result = run_check(net, "dns.ttl", "www.shop.test")

    assert (result.status, result.summary) == ("pass", "www.shop.test: highest TTL 3600 s (A), at most a day")
    assert result.metrics == {"max_ttl_s": 3600}


def test_exactly_one_day_still_passes(sandbox):
    box, net = _start(sandbox, dns={"www.shop.test": {"ttl": 86400}})

    assert run_check(net, "dns.ttl", "www.shop.test").status == "pass"


def test_the_highest_ttl_of_any_server_counts(sandbox):
    box, net = _start(sandbox, nameservers={NS1: {}, NS2: {"dns": {"www.shop.test": {"ttl": 259200}}}})

    result = run_check(net, "dns.ttl", "www.shop.test")

    assert result.status == "warn"
    assert result.metrics == {"max_ttl_s": 259200}
    assert result.evidence["ttl_s_by_nameserver"] == {NS1: {"A": 300}, NS2: {"A": 259200}}
    assert result.evidence["records"][0]["nameserver"] == NS2


def test_a_cname_hosts_own_ttl_is_judged_not_its_targets(sandbox):
    box, net = _start(sandbox, dns={
        "www.shop.test": {"CNAME": ["edge.shop.test"], "ttl": 600},
        "edge.shop.test": {"A": ["192.0.2.80"], "ttl": 604800},  # the provider's, not ours
    })

    result = run_check(net, "dns.ttl", "www.shop.test")

    assert (result.status, result.summary) == (
        "pass", "www.shop.test: highest TTL 600 s (CNAME), at most a day",
    )
    assert result.evidence["records"] == [
        {"type": "CNAME", "value": "edge.shop.test", "ttl_s": 600, "nameserver": NS1},
    ]


def test_the_original_ttl_comes_from_the_nameserver_not_the_resolver(sandbox):
    box, net = _start(sandbox, dns={"www.shop.test": {"ttl": 172800}})

    answer = net.dns.query_at(box.nameserver_addresses[NS1], "www.shop.test", "A")

    assert (answer.ttl, answer.aa, answer.server) == (172800, True, _server(box, NS1))


def test_a_name_without_records_is_skipped(sandbox):
    box, net = _start(sandbox)

    result = run_check(net, "dns.ttl", "admin.shop.test")

    assert (result.status, result.summary) == (
        "skipped", "admin.shop.test has no A, AAAA or CNAME record at its nameservers",
    )


# ---------------------------------------------------------------------------------------------
# Memoised and direct queries


def test_both_checks_ask_each_server_each_question_once(sandbox):
    box, net = _start(sandbox)

    run_check(net, "dns.authoritative", "www.shop.test")
    sent = net.dns.queries_sent
    run_check(net, "dns.ttl", "www.shop.test")
    run_check(net, "dns.authoritative", "www.shop.test")

    assert net.dns.queries_sent == sent == 2 + 4 + 4 + 4
    assert [box.nameservers[n].queries for n in (NS1, NS2)] == [4, 4]  # A, AAAA, CNAME, SOA


def test_query_at_refused_by_the_policy_sends_nothing(sandbox):
    box, net = _start(sandbox)

    answer = net.dns.query_at("10.0.0.53", "www.shop.test", "A")

    assert (answer.rcode, answer.error, answer.aa) == (
        "REFUSED_BY_POLICY", "outbound policy refused 10.0.0.53: private", None,
    )
    assert net.dns.queries_sent == 0


def test_query_at_goes_to_the_mapped_port_53_with_recursion_off(sandbox):
    box, net = _start(sandbox)
    recursive = net.dns.query_at(box.dns_address, "www.shop.test", "A")  # the resolver: no AA

    assert box.profile.port(53) == box.dns.port
    assert box.dns.port in box.profile.allowed_ports
    assert (recursive.rcode, recursive.aa) == ("NOERROR", False)
    assert net.dns.query_at(box.nameserver_addresses[NS1], "www.shop.test", "A").aa is True


# ---------------------------------------------------------------------------------------------
# The sandbox's nameservers


def _ask(address: str, port: int, name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, address, port=port, timeout=2)


def test_every_nameserver_listens_on_the_resolvers_port_at_its_own_address(sandbox):
    box, net = _start(sandbox, nameservers={NS1: {}, NS2: {}, NS3: {}})

    assert box.nameserver_addresses == {
        NS1: f"{box.network}.3", NS2: f"{box.network}.4", NS3: f"{box.network}.5",
    }
    assert {n: s.port for n, s in box.nameservers.items()} == dict.fromkeys((NS1, NS2, NS3), box.dns.port)


def test_the_resolver_delegates_the_apex_to_the_nameservers(sandbox):
    box, net = _start(sandbox, nameservers={NS1: {}, "ns.provider.test": {}})

    assert sorted(net.dns.query("shop.test", "NS").records) == ["ns.provider.test.", "ns1.shop.test."]
    assert net.dns.query("ns.provider.test", "A").records == [box.nameserver_addresses["ns.provider.test"]]


def test_ns_records_given_in_dns_are_kept(sandbox):
    box, net = _start(sandbox, dns={"shop.test": {"NS": ["ns.elsewhere.test"], "MX": [[10, "mx.shop.test"]]}})

    assert net.dns.query("shop.test", "NS").records == ["ns.elsewhere.test."]
    assert net.dns.query("shop.test", "MX").records == ["10 mx.shop.test."]


def test_an_authoritative_server_sets_aa_clears_ra_and_refuses_other_zones(sandbox):
    box, net = _start(sandbox, dns={"other.test": {"A": ["192.0.2.1"]}})
    ns1 = box.nameserver_addresses[NS1]

    inside = _ask(ns1, box.dns.port, "www.shop.test", "A")
    outside = _ask(ns1, box.dns.port, "other.test", "A")
    recursive = _ask(box.dns_address, box.dns.port, "other.test", "A")
    soa = _ask(ns1, box.dns.port, "shop.test", "SOA")

    assert (bool(inside.flags & dns.flags.AA), bool(inside.flags & dns.flags.RA)) == (True, False)
    assert (outside.rcode(), outside.answer) == (dns.rcode.REFUSED, [])
    assert recursive.rcode() == dns.rcode.NOERROR and recursive.flags & dns.flags.RA
    assert soa.answer[0][0].to_text() == "ns1.shop.test. hostmaster.shop.test. 1 3600 600 1209600 300"


def test_a_taken_port_moves_every_dns_server_to_another(sandbox, monkeypatch):
    # A real socket takes the port on the first nameserver's address just before it binds, so
    # the OS answers EADDRINUSE and the sandbox starts all its DNS servers again elsewhere.
    original, taken = DnsServer.start, []

    async def start(self, port: int = 0):
        if port and not taken:
            blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            blocker.bind((self.address, port))
            taken.append(blocker)
        await original(self, port)

    monkeypatch.setattr(DnsServer, "start", start)
    try:
        box, net = _start(sandbox)
        blocked_port = taken[0].getsockname()[1]
        answer = net.dns.query_at(box.nameserver_addresses[NS1], "www.shop.test", "A")
    finally:
        for blocker in taken:
            blocker.close()

    assert box.dns.port != blocked_port
    assert {s.port for s in box.nameservers.values()} == {box.dns.port}
    assert (answer.rcode, answer.aa) == ("NOERROR", True)


def test_a_sandbox_without_a_project_runs_no_nameservers(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})

    assert (box.nameservers, box.nameserver_addresses) == ({}, {})
    assert 53 in box.profile.port_map  # the resolver itself can still be asked directly


# ---------------------------------------------------------------------------------------------
# Scenario validation


NSX = "scenario: nameservers.ns1.shop.test"
APEX = {"apex": "shop.test"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"project": APEX, "nameservers": [NS1]},
         "scenario: nameservers must map nameserver names to their options"),
        ({"project": APEX, "nameservers": {f"ns{i}.shop.test": {} for i in range(8)}},
         "scenario: nameservers: at most 7 (the sandbox gives them .3 to .9), not 8"),
        ({"nameservers": {NS1: {}}}, "scenario: nameservers need project.apex, the zone they serve"),
        ({"project": APEX, "nameservers": {NS1: "NXDOMAIN"}},
         f"{NSX} must be a mapping, or one of TIMEOUT, REFUSED, SERVFAIL"),
        ({"project": APEX, "nameservers": {NS1: [1]}},
         f"{NSX} must be a mapping, or one of TIMEOUT, REFUSED, SERVFAIL"),
        ({"project": APEX, "nameservers": {NS1: {"zone": {}}}},
         f"{NSX}: unknown key 'zone' (known: dns, serial, authoritative)"),
        ({"project": APEX, "nameservers": {NS1: {"serial": -1}}},
         f"{NSX}.serial must be a whole number from 0 to 4294967295, not -1"),
        ({"project": APEX, "nameservers": {NS1: {"serial": "2026"}}},
         f"{NSX}.serial must be a whole number from 0 to 4294967295, not '2026'"),
        ({"project": APEX, "nameservers": {NS1: {"serial": 2**32}}},
         f"{NSX}.serial must be a whole number from 0 to 4294967295, not 4294967296"),
        ({"project": APEX, "nameservers": {NS1: {"authoritative": "no"}}},
         f"{NSX}.authoritative must be true or false, not 'no'"),
        ({"project": APEX, "nameservers": {NS1: {"dns": {"www.other.test": {"A": ["192.0.2.1"]}}}}},
         f"{NSX}: dns.www.other.test is outside the zone shop.test: this server would not serve it"),
        ({"project": APEX, "nameservers": {NS1: {"dns": {"www.shop.test": {"A": ["nope"]}}}}},
         f"{NSX}: dns.www.shop.test.A: 'nope' is not a valid A value (Text input is malformed.)"),
        ({"project": APEX, "nameservers": {NS1: {"dns": {"www.shop.test": "NXDOMAIN"}}}},
         f"{NSX}: dns.www.shop.test must be records, TIMEOUT or SERVFAIL"),
        ({"project": APEX, "nameservers": {"ns 1.shop.test": {}}},
         "scenario: nameservers: 'ns 1.shop.test' contains a space"),
        ({"project": APEX, "nameservers": {NS1: {}}, "hosts": {NS1: {}}},
         f"{NSX} is also under hosts: a name has one address in the sandbox"),
    ],
)
def test_invalid_nameservers_are_refused_with_the_place_and_the_reason(data, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data)

    assert str(caught.value) == message


def test_valid_nameservers_load_with_their_options():
    scenario = parse_scenario({"project": APEX, "nameservers": {
        "NS1.Shop.Test.": None,
        NS2: {"serial": 7, "authoritative": False, "dns": {"WWW.shop.test": {"A": ["192.0.2.9"]}}},
        NS3: "timeout",
    }})

    ns = scenario.nameservers
    assert list(ns) == [NS1, NS2, NS3]
    assert (ns[NS1].dns, ns[NS1].failure, ns[NS1].serial, ns[NS1].authoritative) == ({}, None, None, True)
    assert (ns[NS2].dns, ns[NS2].serial, ns[NS2].authoritative) == (
        {"www.shop.test": {"A": ["192.0.2.9"]}}, 7, False,
    )
    assert ns[NS3].failure == "TIMEOUT"


def test_a_scenario_without_the_key_has_no_declared_nameservers():
    assert parse_scenario({"project": APEX}).nameservers is None
    assert parse_scenario({"project": APEX, "nameservers": {}}).nameservers == {}


def test_an_ns_set_over_thirteen_names_is_not_a_pass_for_the_names_not_asked(sandbox):
    # Fifteen NS names, all leading to ns1 through a CNAME: the first 13 (in name order) are
    # asked — one server, so one set of questions — and the last two are named as not asked.
    extra = [f"ns{i:02}.shop.test" for i in range(2, 16)]
    box, net = _start(sandbox, nameservers={NS1: {}}, dns={
        "shop.test": {"NS": [NS1, *extra]},
        **{name: {"CNAME": [NS1]} for name in extra},
    })
    www = box.addresses["www.shop.test"]

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert result.status == "error"
    assert result.summary == (
        "could not test ns14.shop.test, ns15.shop.test: only the first 13 NS names are asked; "
        f"13 nameservers give A {www}"
    )
    assert result.evidence["nameservers_not_asked"] == ["ns14.shop.test", "ns15.shop.test"]
    assert box.nameservers[NS1].queries == 4
