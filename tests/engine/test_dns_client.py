"""The DNS client against the sandbox's DNS server: TXT character-strings kept apart, large
answers truncated over UDP and fetched again over TCP (RFC 1035 §4.2.1, RFC 7766)."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query


def test_a_txt_record_split_into_several_strings_comes_back_as_separate_strings(sandbox):
    # SPF-01's record: one RR of two character-strings; joining them is the SPF check's job.
    box, net = sandbox({"dns": {"shop.test": {"TXT": [
        ["v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -al", "l"],
        ["google-site-verification=abc"],
    ]}}})

    answer = net.dns.query("shop.test", "TXT")

    assert answer.rcode == "NOERROR"
    assert sorted(answer.records) == [
        ["google-site-verification=abc"],
        ["v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -al", "l"],
    ]


def test_a_txt_answer_over_512_bytes_is_truncated_over_udp_without_edns(sandbox):
    strings = ["a" * 250, "b" * 250, "c" * 100]
    box, net = sandbox({"dns": {"shop.test": {"TXT": [strings]}}})

    query = dns.message.make_query("shop.test", "TXT")  # no EDNS: the 512-byte UDP limit
    plain = dns.query.udp(query, box.dns_address, port=box.dns.port, timeout=2)
    answer = net.dns.query("shop.test", "TXT")

    assert plain.flags & dns.flags.TC
    assert plain.answer == []
    assert answer.records == [strings]


def test_an_answer_too_large_even_for_edns_is_fetched_again_over_tcp(sandbox):
    records = [[f"key{i}=" + "v" * 240] for i in range(8)]  # about 2 KB, over EDNS's 1232
    box, net = sandbox({"dns": {"shop.test": {"TXT": records}}})
    before = box.dns.queries

    answer = net.dns.query("shop.test", "TXT")

    assert box.dns.queries - before == 2  # once over UDP (truncated), once over TCP
    assert net.dns.queries_sent == 1
    assert answer.rcode == "NOERROR"
    assert sorted(answer.records) == records


def test_the_same_question_is_asked_once_per_audit(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})
    before = box.dns.queries

    first = net.dns.query("www.shop.test", "A")
    again = net.dns.query("WWW.shop.test.", "A")

    assert first is again
    assert box.dns.queries - before == 1


def test_a_nxdomain_that_carries_a_cname_keeps_the_chain(sandbox):
    box, net = sandbox({"dns": {"app.shop.test": {"CNAME": ["gone.paas.test"], "ttl": 60}}})

    answer = net.dns.query("app.shop.test", "A")

    assert (answer.rcode, answer.cname_chain, answer.records, answer.ttl) == (
        "NXDOMAIN", ["gone.paas.test"], [], 60,
    )
    assert answer.final_name == "gone.paas.test"
    assert answer.answered is True
