"""The domain & edge checks attacked as a hostile target and as bad input would.

Nameservers that answer garbage, stay truncated, hang up, or answer slowly on purpose; zones
with hundreds of NS names, addresses and decoys; pages with hostile canonical links; WAF
markers that every response through a service carries; Cloudflare range lists that hold
private space. Each test pins the verdict the check must give instead of a crash, a hang, a
one-line summary of kilobytes, or a verdict it never tested.

Hostile DNS servers run in this module (``HostileNameserver``) on a sandbox host's address at
the port the profile maps 53 to: the sandbox's HTTP(S) servers listen there on TCP ports of
their own, so that DNS port is free, and the outbound policy allows it like any sandbox server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import socket
import struct
import threading
import time
from datetime import date

import dns.flags
import dns.message
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from checks.engine.cloudflare import RangesRefreshError, parse_range_list, refresh_ranges
from checks.engine.net.session import Net
from checks.engine.registry import Context, all_checks
from checks.engine.spec import ProjectSpec
from checks.sandbox import Sandbox, ScenarioError, parse_scenario
from tests.engine.support import redirect, route, run_check

NS1 = "ns1.shop.test"
EVIL = "evil.shop.test"
HTML = ("Content-Type", "text/html; charset=utf-8")


# ---------------------------------------------------------------------------------------------
# Helpers


class HostileNameserver:
    """A DNS server on UDP and TCP at ``(address, port)`` that misbehaves as ``mode`` says:

    - ``garbage``: bytes that are no DNS message; ``wrong_id``: a response with another ID;
      ``other_question``: an answer about another name;
    - ``tc_forever``: TC set over UDP *and* TCP; ``tcp_close``: TC over UDP, then the TCP
      connection is closed without an answer;
    - ``huge``: ``count`` A records for the name asked (TC over UDP, the whole RRset over TCP);
    - ``slow``: an authoritative empty answer after ``delay_s``, TC over UDP so that every
      question costs the wait twice.
    """

    def __init__(self, address: str, port: int, mode: str, *, count: int = 2500, delay_s: float = 0.0):
        self.mode, self.count, self.delay_s = mode, count, delay_s
        self.queries = 0
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((address, port))
        self._tcp = socket.socket()
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind((address, port))
        self._tcp.listen(64)
        for loop in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=loop, daemon=True).start()

    def close(self) -> None:
        self._udp.close()
        self._tcp.close()

    def _reply(self, wire: bytes, tcp: bool) -> bytes | None:
        self.queries += 1
        if self.mode == "garbage":
            return b"\x00\x01garbage" * 10
        query = dns.message.from_wire(wire)
        if self.mode == "other_question":
            query = dns.message.make_query("elsewhere.example", "A", id=query.id)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if self.mode == "wrong_id":
            response.id = (query.id + 1) % 65536
        elif self.mode == "slow":
            time.sleep(self.delay_s)
        elif self.mode in ("tc_forever", "tcp_close") and not (tcp and self.mode == "tcp_close"):
            response.flags |= dns.flags.TC
        elif self.mode == "tcp_close":
            return None
        elif self.mode == "huge" and query.question[0].rdtype == dns.rdatatype.A:
            rrset = dns.rrset.RRset(query.question[0].name, dns.rdataclass.IN, dns.rdatatype.A)
            for i in range(self.count):
                rrset.add(dns.rdata.from_text("IN", "A", f"198.18.{i // 250}.{i % 250}"))
            rrset.update_ttl(300)
            response.answer.append(rrset)
        if not tcp and (self.mode == "slow" or len(response.to_wire(max_size=65535)) > 512):
            response.answer = []
            response.flags |= dns.flags.TC
        return response.to_wire(max_size=65535)

    def _serve_udp(self) -> None:
        while True:
            try:
                data, peer = self._udp.recvfrom(65535)
            except OSError:
                return
            threading.Thread(target=self._answer_udp, args=(data, peer), daemon=True).start()

    def _answer_udp(self, data: bytes, peer) -> None:
        reply = self._reply(data, tcp=False)
        with contextlib.suppress(OSError):  # closed by the test's teardown
            self._udp.sendto(reply, peer)

    def _serve_tcp(self) -> None:
        while True:
            try:
                conn, _ = self._tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._answer_tcp, args=(conn,), daemon=True).start()

    def _answer_tcp(self, conn: socket.socket) -> None:
        with conn:
            try:
                (length,) = struct.unpack("!H", _read_exactly(conn, 2))
                wire = _read_exactly(conn, length)
                reply = self._reply(wire, tcp=True)
                if reply is not None:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except (OSError, EOFError):  # the client gave up first: its budget ran out
                pass


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    """``size`` bytes from ``conn``; ``EOFError`` when the peer closes before sending them."""
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


@pytest.fixture
def hostile():
    """``hostile(address, port, mode, **options)``: start a ``HostileNameserver``."""
    servers: list[HostileNameserver] = []

    def start(*args, **kwargs) -> HostileNameserver:
        servers.append(HostileNameserver(*args, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def staged():
    """``staged(data, dns=lambda box: {...}) -> (Sandbox, Net)``: like ``sandbox``, but the
    records ``dns(box)`` returns are added to the zone before it starts: they can name the
    addresses the sandbox has just picked (several A records of sandbox hosts on one name)."""
    started: list[tuple[Sandbox, Net]] = []

    def start(data: dict, dns=lambda box: {}, **profile) -> tuple[Sandbox, Net]:
        box = Sandbox(parse_scenario(data))
        box.scenario.dns.update(dns(box))
        box.start()
        net = Net(dataclasses.replace(box.profile, **profile) if profile else box.profile)
        started.append((box, net))
        return box, net

    yield start
    for box, net in started:
        net.close()
        box.stop()


def _with_evil_ns(**extra) -> dict:
    """shop.test delegated to ns1 (a sandbox server) and evil.shop.test (a hostile one)."""
    return {
        "project": {"apex": "shop.test"},
        "hosts": {"www.shop.test": {}, EVIL: {}},
        "nameservers": {NS1: {}},
        "dns": {"shop.test": {"NS": [NS1, EVIL]}},
        **extra,
    }


def _servers(result) -> dict:
    """nameserver → (state, its answer or why not)."""
    return {s["nameserver"]: (s["state"], s.get("answer", s.get("reason")))
            for s in result.evidence["servers"]}


# ---------------------------------------------------------------------------------------------
# dns.authoritative / dns.ttl: hostile nameservers


@pytest.mark.parametrize(("mode", "reason"), [
    ("garbage", "The label type in DNS name wire format is unknown."),
    ("wrong_id", "A DNS query response does not respond to the question asked."),
    ("other_question", "A DNS query response does not respond to the question asked."),
    ("tcp_close", "the connection closed before the answer came"),
    ("tc_forever", "the answer is truncated (TC) even over TCP"),
])
def test_a_nameserver_that_answers_nonsense_is_lame_and_never_a_crash(sandbox, hostile, mode, reason):
    box, net = sandbox(_with_evil_ns())
    evil = box.addresses[EVIL]
    hostile(evil, box.dns.port, mode)

    results = {c: run_check(net, c, "www.shop.test") for c in ("dns.authoritative", "dns.ttl")}

    where = f"{evil}:{box.dns.port}"
    assert (results["dns.authoritative"].status, results["dns.authoritative"].summary) == (
        "fail", f"lame delegation: {EVIL} gives no usable answer ({where}: {reason})",
    )
    assert _servers(results["dns.authoritative"])[EVIL] == (
        "lame", f"gives no usable answer ({where}: {reason})",
    )
    # ns1 still answers: its TTL is judged.
    assert (results["dns.ttl"].status, results["dns.ttl"].metrics) == ("pass", {"max_ttl_s": 300})


def test_a_huge_answer_is_compared_but_the_summary_names_only_the_first_records(sandbox, hostile):
    box, net = sandbox(_with_evil_ns())
    hostile(box.addresses[EVIL], box.dns.port, "huge", count=2500)
    www = box.addresses["www.shop.test"]

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == (
        f"the nameservers of shop.test disagree on www.shop.test: {EVIL} (serial None) gives "
        "A 198.18.0.0, 198.18.0.1, 198.18.0.10 and 2497 more; "
        f"{NS1} (serial 1) gives A {www}"
    )
    evil = next(s for s in result.evidence["servers"] if s["nameserver"] == EVIL)
    assert len(evil["records"]["A"]) == 2500  # the evidence keeps every record


def test_thousands_of_a_records_in_the_zone_give_a_short_pass(sandbox):
    addresses = [f"198.18.{i // 250}.{i % 250}" for i in range(2000)]
    box, net = sandbox({"project": {"apex": "shop.test"}, "hosts": {"www.shop.test": {}},
                        "dns": {"www.shop.test": {"A": addresses}}})

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert (result.status, result.summary) == (
        "pass",
        "www.shop.test: A 198.18.0.0, 198.18.0.1, 198.18.0.10 and 1997 more, "
        "from all 2 nameservers of shop.test",
    )


def test_fifty_ns_names_are_named_in_the_summary_by_count(sandbox):
    extra = [f"ns{i:02}.shop.test" for i in range(2, 52)]
    box, net = sandbox({
        "project": {"apex": "shop.test"}, "hosts": {"www.shop.test": {}}, "nameservers": {NS1: {}},
        "dns": {"shop.test": {"NS": [NS1, *extra]}, **{name: {"CNAME": [NS1]} for name in extra}},
    })
    www = box.addresses["www.shop.test"]

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert result.status == "error"
    assert result.summary == (
        "could not test ns14.shop.test, ns15.shop.test, ns16.shop.test and 35 more: only the first 13 "
        f"NS names are asked; 13 nameservers give A {www}"
    )
    assert len(result.evidence["nameservers_not_asked"]) == 38


def test_a_thousand_ns_names_that_do_not_exist_are_an_error_with_a_bounded_summary(sandbox):
    names = [f"ns{i:04}.shop.test" for i in range(1000)]
    box, net = sandbox({"project": {"apex": "shop.test"}, "hosts": {"www.shop.test": {}},
                        "nameservers": {NS1: {}}, "dns": {"shop.test": {"NS": [NS1, *names]}}})

    result = run_check(net, "dns.authoritative", "www.shop.test")

    # In name order ns0000 … ns0012 come first, and none exists: nothing was compared.
    assert result.status == "error"
    assert result.summary.startswith(
        "could not test: no nameserver of shop.test answered for www.shop.test: "
        "ns0000.shop.test: ns0000.shop.test does not exist (NXDOMAIN); "
    )
    assert result.summary.endswith(" and 10 more")
    assert len(result.evidence["nameservers_not_asked"]) == 988
    assert box.nameservers[NS1].queries == 0


METADATA_AND_PRIVATE = {
    "ns-meta.shop.test": {"A": ["169.254.169.254"], "AAAA": ["fd00:ec2::254"]},
    "ns-private.shop.test": {"A": ["10.0.0.1", "192.168.1.1", "172.16.0.1", "100.64.0.1"]},
    "ns-odd.shop.test": {"A": ["0.0.0.0", "255.255.255.255", "224.0.0.1"], "AAAA": ["::1"]},
    "ns-mapped.shop.test": {"AAAA": ["::ffff:169.254.169.254", "::ffff:127.0.0.1",
                                     "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1"]},
}


def test_nameservers_at_metadata_private_and_mapped_addresses_are_never_sent_a_packet(sandbox):
    box, net = sandbox({
        "project": {"apex": "shop.test"}, "hosts": {"www.shop.test": {}}, "nameservers": {NS1: {}},
        "dns": {"shop.test": {"NS": [NS1, *METADATA_AND_PRIVATE]}, **METADATA_AND_PRIVATE},
    })
    www = box.addresses["www.shop.test"]

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert result.status == "error"
    refused = [s for s in result.evidence["servers"] if s["state"] == "not tested"]
    assert len(refused) == 14
    assert all(s["reason"].startswith(f"outbound policy refused {s['address']}: ") for s in refused)
    assert result.summary.startswith("could not test ns-mapped.shop.test (")
    assert result.summary.endswith(f" and 11 more; {NS1} gives A {www}")
    # Sent: NS of www and of the apex, A and AAAA of the 5 NS names, 4 questions to ns1. None
    # to a refused address: not a datagram, not a connection.
    assert net.counters() == {"dns_queries": 2 + 10 + 4, "connections_opened": 0,
                              "http_connections": 0, "tls_probe_connections": 0, "smtp_connections": 0}


def test_a_resolver_that_hangs_up_on_tcp_is_a_failed_query_not_a_crash(sandbox, hostile):
    box, _ = sandbox({"hosts": {EVIL: {}}})
    hostile(box.addresses[EVIL], box.dns.port, "tcp_close")
    net = Net(dataclasses.replace(box.profile, nameservers=(box.addresses[EVIL],)))

    answer = net.dns.query("www.shop.test", "A")

    assert (answer.rcode, answer.error) == (
        "ERROR", f"{box.addresses[EVIL]}:{box.dns.port}: the connection closed before the answer came",
    )


def test_slow_nameservers_cannot_hold_the_check_past_its_budget(staged, hostile):
    # 12 NS names of 4 addresses each, every address a server that answers each question after
    # 0.2 s, first truncated (so over TCP again): 48 servers × 4 questions × 0.4 s, 16 at a
    # time, would be 4.8 s. The look-up's budget is 5 resolver timeouts: 2 s here. The wait is
    # half the 0.4 s timeout so that a busy machine still gets answers: servers that time out
    # instead are dropped after one try, and 48 of those fit in the budget.
    evil = [f"evil{i:02}.shop.test" for i in range(48)]
    names = [f"ns-slow{i:02}.shop.test" for i in range(12)]
    box, net = staged(
        {"project": {"apex": "shop.test"}, "hosts": {"www.shop.test": {}, **{e: {} for e in evil}},
         "nameservers": {NS1: {}}, "dns": {"shop.test": {"NS": [NS1, *names]}}},
        dns=lambda box: {name: {"A": [box.addresses[e] for e in evil[i * 4:i * 4 + 4]]}
                         for i, name in enumerate(names)},
        dns_timeout_s=0.4,
    )
    for name in evil:
        hostile(box.addresses[name], box.dns.port, "slow", delay_s=0.2)

    result = run_check(net, "dns.authoritative", "www.shop.test")

    assert result.status == "error"
    out_of_time = [s for s in result.evidence["servers"]
                   if s.get("reason") == "not asked: the look-up's 2 s budget ran out"]
    assert out_of_time
    assert "the look-up's 2 s budget ran out" in result.summary


def test_a_host_of_a_hundred_labels_climbs_to_its_zone_within_the_budget(sandbox):
    box, net = sandbox({"project": {"apex": "shop.test"}, "hosts": {"www.shop.test": {}},
                        "dns_latency_ms": 60})
    net = Net(dataclasses.replace(box.profile, dns_timeout_s=0.3))  # budget: 1.5 s
    host = "a." * 100 + "shop.test"

    result = run_check(net, "dns.authoritative", host)

    # 101 NS queries of 60 ms each would take 6 s; the climb stops at the budget instead.
    assert (result.status, result.summary) == (
        "error", f"could not test: the look-up's 1.5 s budget ran out before the zone of {host} was found",
    )


@pytest.mark.parametrize(("ttl_s", "status", "shown"), [
    (0, "pass", "www.shop.test: highest TTL 0 s (A), at most a day"),
    (86401, "warn", "www.shop.test: A TTL is 86401 s (1 day): a record about to change stays cached up "
                    "to 1 day after the cutover; lower it to 300 s 1 day ahead"),
    (2**31 - 1, "warn", "www.shop.test: A TTL is 2147483647 s (24855 days): a record about to change "
                        "stays cached up to 24855 days after the cutover; lower it to 300 s 24855 days "
                        "ahead"),
])
def test_ttls_at_the_ends_of_the_range_read_in_plain_days(sandbox, ttl_s, status, shown):
    box, net = sandbox({"project": {"apex": "shop.test"}, "hosts": {"www.shop.test": {}},
                        "dns": {"www.shop.test": {"ttl": ttl_s}}})

    result = run_check(net, "dns.ttl", "www.shop.test")

    assert (result.status, result.summary, result.metrics) == (status, shown, {"max_ttl_s": ttl_s})


def test_an_empty_record_list_is_no_data_not_a_malformed_message(sandbox):
    box, net = sandbox({"project": {"apex": "shop.test"}, "hosts": {"www.shop.test": {}},
                        "dns": {"shop.test": {"NS": []}, "www.shop.test": {"A": []}}})

    answers = [net.dns.query("www.shop.test", "A"), net.dns.query("shop.test", "NS"),
               net.dns.query_at(box.nameserver_addresses[NS1], "www.shop.test", "A")]

    assert [(a.rcode, a.error, a.records) for a in answers] == [("NOERROR", None, [])] * 3


# ---------------------------------------------------------------------------------------------
# edge.cloudflare / edge.origin_exposure: hostile zones


def _run(net, check_id: str, target: str, **project) -> object:
    checks = {c.id: c for c in all_checks()}
    spec = ProjectSpec(name="test", apex="shop.test", **project)
    return checks[check_id].run(target, Context(net, spec))


def test_decoys_on_one_origin_name_cannot_hide_the_origin_behind_another(staged):
    # origin.shop.test lists 25 addresses that refuse; mail.shop.test points at the machine that
    # answers for www. Taken in order, the decoys alone filled the 20 places and the check passed.
    decoys = [f"decoy{i:02}.shop.test" for i in range(25)]
    box, net = staged(
        {"project": {"apex": "shop.test"}, "nameservers": {},
         "hosts": {"shop.test": {"edge": "cloudflare"}, "www.shop.test": {"edge": "cloudflare"},
                   "backend.shop.test": {}, **{d: {"https": False} for d in decoys}},
         "dns": {"mail.shop.test": {"CNAME": ["backend.shop.test"]}}},
        dns=lambda box: {"origin.shop.test": {"A": [box.addresses[d] for d in decoys]}},
    )
    backend = box.addresses["backend.shop.test"]

    result = _run(net, "edge.origin_exposure", "www.shop.test", preferred_host="www.shop.test",
                  subdomains=["www"])

    assert result.status == "warn"
    assert result.summary == (
        f"origin exposed: mail.shop.test ({backend}) answers for www.shop.test with a valid certificate"
    )
    assert result.metrics == {"candidates": 20, "exposed": 1}
    assert result.evidence["left_out"] == 6
    assert sum(1 for c in result.evidence["candidates"] if c["name"] == "origin.shop.test") == 19


def test_a_pass_says_how_many_addresses_the_cap_left_untried(staged):
    decoys = [f"decoy{i:02}.shop.test" for i in range(25)]
    box, net = staged(
        {"project": {"apex": "shop.test"}, "nameservers": {},
         "hosts": {"www.shop.test": {"edge": "cloudflare"}, **{d: {"https": False} for d in decoys}}},
        dns=lambda box: {"origin.shop.test": {"A": [box.addresses[d] for d in decoys]}},
    )

    result = _run(net, "edge.origin_exposure", "www.shop.test", preferred_host="www.shop.test",
                  subdomains=["www"])

    assert (result.status, result.summary) == (
        "pass",
        "no origin found: none of 20 candidate addresses answers for www.shop.test with a certificate "
        "naming it (5 more addresses were not tried: at most 20 are)",
    )


def test_an_mx_pointing_at_the_proxied_host_is_no_candidate(sandbox):
    box, net = sandbox({"project": {"apex": "shop.test"}, "nameservers": {},
                        "hosts": {"shop.test": {"edge": "cloudflare"},
                                  "www.shop.test": {"edge": "cloudflare"}},
                        "dns": {"shop.test": {"MX": [[10, "www.shop.test"], [20, "shop.test"]]}}})

    result = _run(net, "edge.origin_exposure", "www.shop.test", preferred_host="www.shop.test",
                  subdomains=["www"])

    assert result.status == "pass"
    assert result.evidence["candidates"] == []
    assert result.evidence["names"]["shop.test"]["source"] == "project host"  # named first as that


def test_hundreds_of_addresses_in_and_out_of_the_ranges_give_a_short_summary(sandbox):
    inside = [f"2001:db8:cf::{i:x}" for i in range(1, 301)]  # the sandbox's Cloudflare IPv6 block
    outside = [f"198.18.{i // 250}.{i % 250}" for i in range(300)]
    box, net = sandbox({"project": {"apex": "shop.test"}, "nameservers": {},
                        "hosts": {"shop.test": {"edge": "cloudflare"}},
                        "dns": {"www.shop.test": {"A": outside, "AAAA": inside}}})

    result = _run(net, "edge.cloudflare", "www.shop.test", preferred_host="www.shop.test",
                  subdomains=["www"])

    assert result.status == "warn"
    # Three of each, in the order the DNS answer gave them (dnspython's, not the zone's).
    v6, v4 = r"2001:db8:cf::[0-9a-f]+", r"198\.18\.\d+\.\d+"
    assert re.fullmatch(
        rf"www\.shop\.test resolves both into Cloudflare's ranges \({v6}, {v6}, {v6} and 297 more\) "
        rf"and outside them \({v4}, {v4}, {v4} and 297 more\): part of its traffic bypasses Cloudflare",
        result.summary,
    )
    assert result.metrics == {"addresses": 600, "addresses_in_ranges": 300}


def test_a_host_with_thousands_of_refused_addresses_keeps_every_summary_short(sandbox):
    # 2000 A records in 198.18.0.0/15 (benchmarking space, which the policy refuses): the
    # refusals were joined one by one into a summary of 93 KB on every HTTP and TLS check.
    addresses = [f"198.18.{i // 250}.{i % 250}" for i in range(2000)]
    box, net = sandbox({"project": {"apex": "shop.test"}, "hosts": {"www.shop.test": {}},
                        "dns": {"www.shop.test": {"A": addresses}}})

    results = {c: run_check(net, c, "www.shop.test")
               for c in ("dns.resolves", "tls.certificate", "http.hsts", "http.https_redirect")}

    assert {c: r.status for c, r in results.items()} == {
        "dns.resolves": "pass", "tls.certificate": "error", "http.hsts": "error",
        "http.https_redirect": "error",
    }
    assert re.fullmatch(r"www\.shop\.test → (198\.18\.\d+\.\d+, ){2}198\.18\.\d+\.\d+ and 1997 more",
                        results["dns.resolves"].summary)
    for check_id in ("tls.certificate", "http.hsts", "http.https_redirect"):
        summary = results[check_id].summary
        assert re.fullmatch(r"could not test: (outbound policy refused 198\.18\.\d+\.\d+: private; ){2}"
                            r"outbound policy refused 198\.18\.\d+\.\d+: private and 1997 more", summary)
    assert net.counters()["connections_opened"] == 0


def test_a_name_with_150_closed_addresses_costs_8_connection_attempts_not_150(staged):
    closed = [f"closed{i:03}.shop.test" for i in range(150)]
    box, net = staged({"hosts": {c: {"https": False, "http": False} for c in closed}},
                      dns=lambda box: {"www.shop.test": {"A": [box.addresses[c] for c in closed]}})

    response = net.http.fetch("https://www.shop.test/")

    assert response.error_kind == "connect"
    assert re.fullmatch(r"(127\.\d+\.\d+\.\d+:443: \[Errno 111\] Connection refused; ){2}"
                        r"127\.\d+\.\d+\.\d+:443: \[Errno 111\] Connection refused and 5 more; "
                        r"142 more addresses not tried", response.error)


# ---------------------------------------------------------------------------------------------
# WAF detection: the site's own answers must still be judged


@pytest.mark.parametrize("headers", [
    # Imperva adds X-Iinfo to every response through it, DataDome X-DataDome: protected; an
    # Azure-free page may say "the request is blocked." in its own words.
    [("X-Iinfo", "13-1234-0 0NNN RT(1 2) q(0 -1 -1 -1) r(0 -1)"), ("Server", "nginx")],
    [("X-DataDome", "protected")],
    [("Server", "nginx")],
])
def test_the_sites_own_403_behind_a_service_is_still_judged(sandbox, headers):
    body = "<h1>Forbidden</h1><p>Sorry, the request is blocked. Access denied.</p>"
    box, net = sandbox({"project": {"apex": "shop.test"},
                        "hosts": {"shop.test": {"http": [route("/*", 403, *headers, body=body)]}}})

    result = run_check(net, "http.https_redirect", "shop.test")

    assert (result.status, result.summary) == (
        "fail", "http://shop.test/ answers 403 over plain HTTP instead of redirecting to https://",
    )


@pytest.mark.parametrize(("headers", "body", "service", "marker"), [
    ([("X-Iinfo", "13-1")], "<iframe src=/_Incapsula_Resource>Incapsula incident ID: 4</iframe>",
     "Imperva", "page contains 'incapsula incident id'"),
    ([("X-DataDome", "protected")], "<script src='https://ct.captcha-delivery.com/c.js'></script>",
     "DataDome", "page contains 'captcha-delivery.com'"),
    ([("X-DD-B", "1")], "{}", "DataDome", "x-dd-b: 1"),
    ([("X-Azure-Ref", "0abc")], "<h2>The request is blocked.</h2>",
     "Azure Front Door", "page contains 'the request is blocked.' with x-azure-ref"),
])
def test_block_pages_of_those_services_are_still_blocks(sandbox, headers, body, service, marker):
    box, net = sandbox({"project": {"apex": "shop.test"},
                        "hosts": {"shop.test": {"http": [route("/*", 403, *headers, body=body)]}}})

    result = run_check(net, "http.https_redirect", "shop.test")

    assert result.status == "error"
    assert result.evidence["blocked_by"] == {"service": service, "marker": marker}


def test_a_waf_block_on_a_later_hop_is_an_error_not_a_wrong_redirect(sandbox):
    # The apex sends visitors through a forwarder whose WAF blocks the scanner: where the
    # forwarder would send a browser is unknown, so neither check may judge the chain.
    box, net = sandbox({
        "project": {"apex": "shop.test"},
        "hosts": {"shop.test": {"http": redirect("http://fwd.shop.test{path}"),
                                "https": redirect("https://fwd.shop.test{path}")},
                  "fwd.shop.test": {"http": [route("/*", 403, ("x-amzn-waf-action", "block"))],
                                    "https": [route("/*", 403, ("x-amzn-waf-action", "block"))]},
                  "www.shop.test": {}},
    })

    results = {c: run_check(net, c, "shop.test", preferred_host="www.shop.test")
               for c in ("http.canonical_redirect", "http.https_redirect")}

    assert {c: (r.status, r.summary) for c, r in results.items()} == {
        "http.canonical_redirect": (
            "error", "could not test: https://fwd.shop.test/launch-ready-probe?lr=1 answered 403 from "
                     "AWS WAF, which blocked the scanner (x-amzn-waf-action: block)"),
        "http.https_redirect": (
            "error", "could not test: http://fwd.shop.test/ answered 403 from AWS WAF, which blocked "
                     "the scanner (x-amzn-waf-action: block)"),
    }


# ---------------------------------------------------------------------------------------------
# http.canonical_host: hostile canonical links, slow starts


def _canonical(sandbox, *routes) -> object:
    box, net = sandbox({"project": {"apex": "shop.test"},
                        "hosts": {"shop.test": {"https": redirect("https://www.shop.test{path}")},
                                  "www.shop.test": {"https": list(routes)}}})
    return run_check(net, "http.canonical_host", "shop.test", preferred_host="www.shop.test")


@pytest.mark.parametrize("page", [
    route("/*", 200, HTML, body='<link rel=canonical href="javascript:alert(1)">'),
    route("/*", 200, HTML, body='<link rel=canonical href="data:text/html,<h1>x</h1>">'),
    route("/*", 200, ("Link", "<javascript:alert(1)>; rel=canonical")),
    route("/*", 200, ("Link", "<mailto:owner@shop.test>; rel=canonical")),
    # A <template>'s content is inert; a canonical outside <head> is ignored by search engines.
    route("/*", 200, HTML, body='<template><link rel=canonical href="https://evil.test/"></template>'),
    route("/*", 200, HTML, body='<title>t</title><p>comment</p><link rel=canonical href="https://evil.test/">'),
])
def test_a_canonical_that_no_search_engine_follows_is_ignored(sandbox, page):
    result = _canonical(sandbox, page)

    assert (result.status, result.summary) == ("pass", "all 4 start URLs land on https://www.shop.test")
    assert result.evidence["declared_canonical"] == []


def test_a_link_header_of_thousands_of_entries_is_read_to_the_canonical(sandbox):
    links = ", ".join(f"<https://www.shop.test/{i}>; rel=preload" for i in range(600))
    result = _canonical(sandbox, route("/*", 200, ("Link", links + ", <https://evil.test/>; rel=canonical")))

    assert (result.status, result.evidence["declared_canonical"]) == ("warn", ["https://evil.test"])


@contextlib.contextmanager
def _peak_calls(obj, method: str):
    """Count how many calls of ``obj.method`` run at the same time; yields a function giving
    the peak. Concurrency is asserted as a count, not as wall time (which a loaded machine bends)."""
    real, lock, state = getattr(obj, method), threading.Lock(), {"now": 0, "peak": 0}

    def counted(*args, **kwargs):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                state["now"] -= 1

    setattr(obj, method, counted)
    try:
        yield lambda: state["peak"]
    finally:
        setattr(obj, method, real)


def test_four_slow_start_urls_are_followed_at_the_same_time(sandbox):
    box, net = sandbox({"project": {"apex": "shop.test"}, "hosts": {
        "shop.test": {"http": redirect("https://www.shop.test/a"), "https": redirect("https://www.shop.test/b")},
        "www.shop.test": {"http": redirect("https://www.shop.test/c"),
                          "https": [route("/*", 200, HTML, latency_ms=1200)]},
    }})

    with _peak_calls(net.http, "follow") as peak:
        result = run_check(net, "http.canonical_host", "shop.test", preferred_host="www.shop.test")

    assert result.status == "pass"
    assert peak() == 4  # all four chains under way at once, not one slow page after another


def test_the_root_and_the_deep_link_are_followed_at_the_same_time(sandbox):
    box, net = sandbox({"project": {"apex": "shop.test"}, "hosts": {"shop.test": {
        "http": [route("/*", 301, ("Location", "https://shop.test{path}"), latency_ms=1000)],
        "https": [route("/*", 200, HTML, latency_ms=1000)],
    }}})

    with _peak_calls(net.http, "follow") as peak:
        result = run_check(net, "http.https_redirect", "shop.test")

    assert result.status == "pass"
    assert peak() == 2  # the root and the deep link under way at once


# ---------------------------------------------------------------------------------------------
# Cloudflare range refresh: implausible lists


@pytest.mark.parametrize(("line", "held"), [
    ("172.0.0.0/8", "172.16.0.0/12"),
    ("169.0.0.0/8", "169.254.0.0/16"),
    ("100.0.0.0/8", "100.64.0.0/10"),
    ("192.160.0.0/12", "192.168.0.0/16"),
    ("2001:db0::/28", "2001:db8::/32"),
])
def test_a_range_that_reaches_into_special_purpose_space_is_refused(line, held):
    version = 6 if ":" in line else 4
    with pytest.raises(RangesRefreshError) as raised:
        parse_range_list(f"{line}\n".encode(), version, "https://www.cloudflare.com/ips")

    assert str(raised.value) == (
        f"https://www.cloudflare.com/ips: refused: line 1 ({line!r}) is not a public range (it holds {held})"
    )


def test_a_list_dripped_slower_than_the_timeout_is_refused_and_the_file_kept(sandbox, tmp_path):
    box, _ = sandbox({"hosts": {"www.cloudflare.com": {"https": [
        route("/ips-v4", 200, ("Content-Type", "text/plain"), stream="endless", body="104.16.0.0/13\n",
              chunk_delay_ms=200),
    ]}}})
    output = tmp_path / "cloudflare_ips.json"
    output.write_text("the old file\n", encoding="utf-8")

    timed_out = r"^https://www.cloudflare.com/ips-v4: could not fetch the list \(timed out"
    # The 1 s deadline ends the fetch of an endless body: "timed out", not a hang.
    with Net(dataclasses.replace(box.profile, http_timeout_s=1.0)) as net, \
            pytest.raises(RangesRefreshError, match=timed_out):
        refresh_ranges(net.http, output, today=date(2026, 12, 1))

    assert output.read_text(encoding="utf-8") == "the old file\n"


# ---------------------------------------------------------------------------------------------
# Scenario parser: bad `nameservers` and `edge` values


@pytest.mark.parametrize(("data", "message"), [
    ({"nameservers": {NS1: []}},
     f"scenario: nameservers.{NS1} must be a mapping, or one of TIMEOUT, REFUSED, SERVFAIL"),
    ({"nameservers": {NS1: {}, "NS1.Shop.Test.": {}}},
     f"scenario: nameservers.{NS1} is given twice (names are compared without case and final dot)"),
    ({"nameservers": {NS1: {"dns": {"www.shop.test": {"A": ["nope"]}}}}},
     f"scenario: nameservers.{NS1}: dns.www.shop.test.A: 'nope' is not a valid A value "
     "(Text input is malformed.)"),
    ({"nameservers": {NS1: {"serial": 2**32}}},
     f"scenario: nameservers.{NS1}.serial must be a whole number from 0 to 4294967295, not 4294967296"),
    ({"hosts": {"www.shop.test": {"edge": ["cloudflare"]}}},
     "scenario: hosts.www.shop.test.edge must be one of cloudflare, not ['cloudflare']"),
    ({"hosts": {"www.shop.test": {"edge": True}}},
     "scenario: hosts.www.shop.test.edge must be one of cloudflare, not True"),
])
def test_bad_nameservers_and_edge_values_name_the_place(data, message):
    with pytest.raises(ScenarioError) as raised:
        parse_scenario({"project": {"apex": "shop.test"}, **data})

    assert str(raised.value) == message
