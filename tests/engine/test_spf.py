"""email.spf and the SPF evaluator (RFC 7208) against the sandbox's real DNS server.

The known traps SPF-01 and SPF-04 (``shared/cases/known-traps.json``) are played from their
scenario files in ``scenarios/cases/``; the faults of ``scenarios/faults/spf-*.yaml`` from
theirs; the rest from scenario data written here. Verdicts, summaries, counts and evidence
are asserted exactly.
"""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from checks.engine.email.spf import SpfResult, check_host, check_mail_from, walk_record
from checks.engine.email.spf_syntax import SpfSyntaxError, parse_record
from checks.engine.net.session import Net
from checks.engine.registry import Context, all_checks
from checks.engine.spec import ProjectSpec
from tests.conftest import SCENARIOS


def _scenario(sandbox, path: str):
    data = yaml.safe_load((SCENARIOS / path).read_text(encoding="utf-8"))
    box, net = sandbox(data)
    return net


def _spf(net: Net, apex: str, **project):
    checks = {c.id: c for c in all_checks()}
    spec = ProjectSpec(name="test", apex=apex, subdomains=(), **project)
    return checks["email.spf"].run(apex, Context(net, spec))


def _zone(sandbox, dns: dict, *, timeout_s: float | None = None) -> Net:
    box, net = sandbox({"dns": dns})
    if timeout_s is None:
        return net
    fast = Net(dataclasses.replace(box.profile, dns_timeout_s=timeout_s))
    return fast


# ---------------------------------------------------------------------------------------------
# The known traps


def test_spf_01_the_strings_of_one_txt_rr_are_joined_with_nothing_between(sandbox):
    net = _scenario(sandbox, "cases/SPF-01.yaml")

    result = _spf(net, "example.com")

    assert result.status == "pass"
    assert result.summary == "valid SPF record: 1 of 10 DNS lookups, 0 void, hosts not listed get fail (-all)"
    assert result.evidence["txt_records"] == [["v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -al", "l"]]
    assert result.evidence["record"] == "v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all"
    terms = [t["term"] for t in result.evidence["terms"]]
    assert terms == ["ip4:192.0.2.0/24", "include:_spf.example.net", "-all"]
    assert result.metrics == {"dns_lookups": 1, "void_lookups": 0}
    assert result.evidence["include_tree"] == {
        "domain": "example.com", "via": "record",
        "record": "v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all", "dns_lookups": 1,
        "includes": [{
            "domain": "_spf.example.net", "via": "include", "term": "include:_spf.example.net",
            "record": "v=spf1 ip4:198.51.100.0/24 -all", "dns_lookups": 0,
        }],
    }


def test_spf_01_the_trap_address_passes_through_the_include(sandbox):
    net = _scenario(sandbox, "cases/SPF-01.yaml")

    outcome = check_host(net.dns, "198.51.100.7", "example.com", "user@example.com", "mail.example.com")

    assert outcome.result is SpfResult.PASS
    assert outcome.matched == "include:_spf.example.net"
    assert (outcome.dns_lookups, outcome.void_lookups) == (1, 0)


def test_spf_01b_spaces_at_the_string_boundaries_are_part_of_the_record(sandbox):
    net = _scenario(sandbox, "cases/SPF-01b.yaml")

    result = _spf(net, "example.com")

    assert result.status == "pass"
    assert result.evidence["record"] == "v=spf1 ip4:192.0.2.1 -all"
    assert check_host(net.dns, "192.0.2.1", "example.com", "user@example.com").result is SpfResult.PASS


def test_spf_01c_separate_txt_rrs_are_never_joined_and_no_all_means_neutral(sandbox):
    net = _scenario(sandbox, "cases/SPF-01c.yaml")

    result = _spf(net, "example.com")

    assert result.status == "warn"
    assert result.summary == (
        "no all and no redirect: hosts not listed get neutral, which protects nothing (RFC 7208 §4.7)"
    )
    assert result.evidence["spf_records"] == ["v=spf1 ip4:192.0.2.0/24"]
    assert sorted(result.evidence["txt_records"]) == [["-all"], ["v=spf1 ip4:192.0.2.0/24"]]
    assert result.remediation == "End the record with ~all or -all."
    other = check_host(net.dns, "198.51.100.7", "example.com", "user@example.com")
    assert other.result is SpfResult.NEUTRAL


def test_spf_04_two_void_terms_are_at_the_limit_a_warning_not_a_permerror(sandbox):
    net = _scenario(sandbox, "cases/SPF-04.yaml")

    result = _spf(net, "example.com")

    assert result.status == "warn"
    assert result.summary == (
        "2 void lookups, at the limit of 2 (a, mx found no records): one more is a permerror "
        "(RFC 7208 §4.6.4)"
    )
    assert result.metrics == {"dns_lookups": 2, "void_lookups": 2}
    assert result.evidence["include_tree"]["void_terms"] == ["a", "mx"]
    # The audit asked for A and AAAA for 'a' and still counted one void for the term.
    assert net.dns.query("example.com", "AAAA").void


def test_spf_04_the_trap_address_gets_fail_with_two_lookups_and_two_voids(sandbox):
    net = _scenario(sandbox, "cases/SPF-04.yaml")

    outcome = check_host(net.dns, "192.0.2.99", "example.com", "user@example.com")

    assert outcome.result is SpfResult.FAIL
    assert (outcome.dns_lookups, outcome.void_lookups) == (2, 2)


def test_spf_04b_an_mx_term_is_one_lookup_however_many_hosts_it_has(sandbox):
    net = _scenario(sandbox, "cases/SPF-04b.yaml")

    result = _spf(net, "example.org")

    assert result.status == "pass"
    assert result.summary == (
        "valid SPF record: 2 of 10 DNS lookups, 0 void, hosts not listed get softfail (~all)"
    )
    assert result.metrics == {"dns_lookups": 2, "void_lookups": 0}
    via_mx = check_host(net.dns, "192.0.2.13", "example.org", "user@example.org")
    assert (via_mx.result, via_mx.matched, via_mx.dns_lookups) == (SpfResult.PASS, "mx", 1)
    stranger = check_host(net.dns, "203.0.113.9", "example.org", "user@example.org")
    assert (stranger.result, stranger.dns_lookups, stranger.void_lookups) == (SpfResult.SOFTFAIL, 2, 0)


def test_an_mx_whose_hosts_have_no_address_is_not_three_void_lookups(sandbox):
    # pyspf counts a void per query (3 here, a permerror); RFC 7208 §4.6.4 counts terms.
    net = _zone(sandbox, {
        "example.test": {"TXT": [["v=spf1 mx -all"]], "MX": [[10, "m1.example.test"], [20, "m2.example.test"],
                                                         [30, "m3.example.test"]]},
    })

    outcome = check_host(net.dns, "192.0.2.1", "example.test", "user@example.test")

    assert (outcome.result, outcome.dns_lookups, outcome.void_lookups) == (SpfResult.FAIL, 1, 0)


# ---------------------------------------------------------------------------------------------
# The faults of scenarios/faults/spf-*.yaml


def test_two_spf_records_fail_as_a_permerror(sandbox):
    net = _scenario(sandbox, "faults/spf-multiple-records.yaml")

    result = _spf(net, "two-records.test")

    assert result.status == "fail"
    assert result.summary == "two-records.test has 2 SPF records: receivers give permerror (RFC 7208 §4.5)"
    assert sorted(result.evidence["spf_records"]) == [  # the server rotates RRs, as servers do
        "v=spf1 include:_spf.newmail.test ~all", "v=spf1 include:_spf.oldmail.test ~all",
    ]
    assert len(result.evidence["txt_records"]) == 3
    outcome = check_host(net.dns, "192.0.2.1", "two-records.test", "a@two-records.test")
    assert (outcome.result, outcome.problem) == (SpfResult.PERMERROR, "multiple-records")


def test_eleven_lookups_through_nested_includes_fail_with_the_total(sandbox):
    net = _scenario(sandbox, "faults/spf-lookup-limit.yaml")

    result = _spf(net, "many-lookups.test")

    assert result.status == "fail"
    assert result.summary == (
        "11 DNS lookups, over the limit of 10: receivers give permerror (RFC 7208 §4.6.4)"
    )
    assert result.metrics == {"dns_lookups": 11, "void_lookups": 0}
    tree = result.evidence["include_tree"]
    assert tree["dns_lookups"] == 5
    assert [(i["domain"], i["dns_lookups"]) for i in tree["includes"]] == [
        ("_spf.mailhost.test", 3), ("spf.crm.test", 2), ("mail.helpdesk.test", 1),
    ]
    assert [t["dns_lookup"] for t in result.evidence["terms"]] == [True, True, True, True, True, False]


def test_a_receiver_stops_at_the_eleventh_lookup_but_not_before_a_match(sandbox):
    net = _scenario(sandbox, "faults/spf-lookup-limit.yaml")

    early = check_host(net.dns, "198.51.100.70", "many-lookups.test", "a@many-lookups.test")
    late = check_host(net.dns, "192.0.2.200", "many-lookups.test", "a@many-lookups.test")

    assert (early.result, early.dns_lookups) == (SpfResult.PASS, 5)
    assert (late.result, late.problem, late.dns_lookups) == (SpfResult.PERMERROR, "lookup-limit", 11)


def test_three_void_lookups_fail_and_name_the_terms(sandbox):
    net = _scenario(sandbox, "faults/spf-void-limit.yaml")

    result = _spf(net, "stale-hosts.test")

    assert result.status == "fail"
    assert result.summary == (
        "3 void lookups, over the limit of 2 (a:old-mail.stale-hosts.test, a:relay.stale-hosts.test, "
        "mx:legacy.stale-hosts.test found no records): receivers give permerror (RFC 7208 §4.6.4)"
    )
    assert result.metrics == {"dns_lookups": 3, "void_lookups": 3}
    assert result.evidence["problem"] == "void-limit"


def test_an_include_loop_fails_and_is_named_a_loop(sandbox):
    net = _scenario(sandbox, "faults/spf-include-loop.yaml")

    result = _spf(net, "loop.test")

    assert result.status == "fail"
    assert result.summary == "include loop: loop.test → _spf.loop.test → loop.test: receivers give permerror"
    assert result.remediation == (
        "Remove the include or redirect that leads back to a record already being evaluated."
    )
    assert result.evidence["include_tree"]["includes"][0]["includes"][0]["error"] == "loop"


def test_plus_all_fails_because_any_host_may_send(sandbox):
    net = _scenario(sandbox, "faults/spf-plus-all.yaml")

    result = _spf(net, "open-relay.test")

    assert result.status == "fail"
    assert result.summary == "+all lets any host on the internet send as open-relay.test"
    anyone = check_host(net.dns, "203.0.113.66", "open-relay.test", "a@open-relay.test")
    assert anyone.result is SpfResult.PASS


def test_a_provider_missing_from_the_record_fails_with_its_addresses(sandbox):
    net = _scenario(sandbox, "faults/spf-provider.yaml")

    result = _spf(net, "wrong-provider.test", mail_provider="google_workspace")

    assert result.status == "fail"
    assert result.summary == (
        "Google Workspace not authorised: 209.85.128.0 gets softfail (and 2 more); "
        "the record does not include _spf.google.com"
    )
    assert result.remediation == "Add include:_spf.google.com to the record, before the all."
    [sender] = result.evidence["senders"]
    assert sender["networks"] == ["209.85.128.0/17", "74.125.0.0/16", "2001:4860:4000::/36"]
    assert sender["results"] == {
        "209.85.128.0": "softfail", "74.125.0.0": "softfail", "2001:4860:4000::": "softfail",
    }


# ---------------------------------------------------------------------------------------------
# The other rules


GOOGLE = {
    "_spf.google.com": {"TXT": [["v=spf1 include:_netblocks.google.com ~all"]]},
    "_netblocks.google.com": {"TXT": [["v=spf1 ip4:209.85.128.0/17 ip6:2001:4860:4000::/36 ~all"]]},
}


def test_the_provider_and_custom_ips_pass_when_the_record_authorises_them(sandbox):
    net = _zone(sandbox, {
        "shop.test": {"TXT": [["v=spf1 include:_spf.google.com ip4:198.51.100.10 -all"]]}, **GOOGLE,
    })

    result = _spf(net, "shop.test", mail_provider="google_workspace", mail_sending_ips=("198.51.100.10",))

    assert result.status == "pass"
    assert result.summary == (
        "valid SPF record: 2 of 10 DNS lookups, 0 void, hosts not listed get fail (-all); "
        "Google Workspace authorised (2 addresses tested); the project's sending IPs authorised "
        "(1 address tested)"
    )
    assert [s["results"] for s in result.evidence["senders"]] == [
        {"209.85.128.0": "pass", "2001:4860:4000::": "pass"}, {"198.51.100.10": "pass"},
    ]


def test_a_custom_network_is_tested_at_both_ends(sandbox):
    net = _zone(sandbox, {"shop.test": {"TXT": [["v=spf1 ip4:198.51.100.0/25 -all"]]}})

    result = _spf(net, "shop.test", mail_sending_ips=("198.51.100.0/24",))

    assert result.status == "fail"
    assert result.summary == "the project's sending IPs not authorised: 198.51.100.255 gets fail"
    assert result.evidence["senders"][0]["results"] == {"198.51.100.0": "pass", "198.51.100.255": "fail"}


def test_a_provider_whose_include_cannot_be_read_is_an_error(sandbox):
    net = _zone(sandbox, {"shop.test": {"TXT": [["v=spf1 include:_spf.google.com -all"]]}})

    result = _spf(net, "shop.test", mail_provider="google_workspace")

    assert result.status == "fail"  # the include itself has no record: a permerror for receivers
    assert result.summary == (
        "include:_spf.google.com: _spf.google.com has no SPF record (RFC 7208 §5.2): receivers give permerror"
    )
    net = _zone(sandbox, {"shop2.test": {"TXT": [["v=spf1 ip4:192.0.2.1 -all"]]}})
    result = _spf(net, "shop2.test", mail_provider="google_workspace")
    assert result.status == "error"
    assert result.summary == (
        "could not test Google Workspace's addresses: _spf.google.com: _spf.google.com has no SPF record"
    )


def test_no_record_fails_and_suggests_the_providers_record(sandbox):
    net = _zone(sandbox, {"bare.test": {"TXT": [["google-site-verification=abc"]]}})

    result = _spf(net, "bare.test", mail_provider="microsoft_365")

    assert result.status == "fail"
    assert result.summary == (
        "bare.test has no SPF record: receivers get none and cannot tell its senders from forgers"
    )
    assert result.remediation == (
        "Publish one TXT record at bare.test: v=spf1 include:spf.protection.outlook.com -all."
    )


@pytest.mark.parametrize(
    ("record", "status", "summary"),
    [
        ("v=spf1 ip4:192.0.2.0/24 ?all", "warn",
         "?all: hosts not listed get neutral, which protects nothing (RFC 7208 §4.7)"),
        ("v=spf1 ip4:192.0.2.0/24 ptr -all", "warn",
         "ptr: ptr is slow and unreliable and SHOULD NOT be used (RFC 7208 §5.5)"),
        ("v=spf1 ip4:192.0.2.0/24 ~all", "pass",
         "valid SPF record: 0 of 10 DNS lookups, 0 void, hosts not listed get softfail (~all)"),
        ("v=spf1 ip4:0.0.0.0/0 -all", "fail",
         "ip4:0.0.0.0/0 lets any host on the internet send as mail.test"),
        ("v=spf1 ip4:192.0.2.0/24 moo -all", "fail",
         "syntax error in mail.test's record: unknown mechanism 'moo' in 'moo': receivers give permerror"),
        ("v=spf1 ip4:192.0.2.300 -all", "fail",
         "syntax error in mail.test's record: 'ip4:192.0.2.300': '192.0.2.300' is not an IPv4 address "
         "(RFC 7208 §5.6): receivers give permerror"),
        ("v=spf1 redirect=_spf.mail.test", "pass",
         "valid SPF record: 1 of 10 DNS lookups, 0 void, hosts not listed get fail (-all)"),
    ],
)
def test_the_verdict_follows_the_record(sandbox, record, status, summary):
    net = _zone(sandbox, {
        "mail.test": {"TXT": [[record]]}, "_spf.mail.test": {"TXT": [["v=spf1 ip4:192.0.2.0/24 -all"]]},
    })

    result = _spf(net, "mail.test")

    assert (result.status, result.summary) == (status, summary)


def test_an_included_plus_all_fails_but_a_minus_include_of_it_does_not(sandbox):
    net = _zone(sandbox, {
        "a.test": {"TXT": [["v=spf1 include:_spf.open.test -all"]]},
        "b.test": {"TXT": [["v=spf1 -include:_spf.open.test ip4:192.0.2.1 -all"]]},
        "_spf.open.test": {"TXT": [["v=spf1 +all"]]},
    })

    assert _spf(net, "a.test").summary == (
        "+all in _spf.open.test lets any host on the internet send as a.test"
    )
    assert _spf(net, "b.test").status == "pass"


def _strings(record: str) -> list[str]:
    """A long record as one RR of strings of at most 200 octets (RFC 1035 §3.3.14)."""
    return [record[i:i + 200] for i in range(0, len(record), 200)]


def test_the_walk_counts_past_the_limit_and_stops_at_forty(sandbox):
    hosts = {f"h{i}.many.test": {"A": ["192.0.2.1"]} for i in range(45)}
    def record(count: int) -> list[str]:
        return _strings("v=spf1 " + " ".join(f"a:h{i}.many.test" for i in range(count)) + " -all")

    zone = {"thirteen.test": {"TXT": [record(13)]}, "hostile.test": {"TXT": [record(45)]}, **hosts}
    net = _zone(sandbox, zone)

    assert _spf(net, "thirteen.test").summary == (
        "13 DNS lookups, over the limit of 10: receivers give permerror (RFC 7208 §4.6.4)"
    )
    before = net.dns.queries_sent
    result = _spf(net, "hostile.test")
    assert result.summary == (
        "more than 40 DNS lookups, over the limit of 10: receivers give permerror (RFC 7208 §4.6.4)"
    )
    assert net.dns.queries_sent - before == 1 + 2 * 27  # TXT, then A and AAAA of h13 … h39


def test_a_dns_timeout_is_an_error_not_a_verdict(sandbox):
    net = _zone(sandbox, {
        "slow.test": {"TXT": [["v=spf1 include:_spf.slow.test -all"]]}, "_spf.slow.test": "TIMEOUT",
        "silent.test": {"TXT": "TIMEOUT", "A": ["192.0.2.1"]},
    }, timeout_s=0.3)

    result = _spf(net, "slow.test")
    assert result.status == "error"
    assert result.summary.startswith("could not test: TXT _spf.slow.test: TIMEOUT (no answer from ")
    # One record type alone can time out: the name's A still answers.
    assert net.dns.query("silent.test", "A").records == ["192.0.2.1"]
    result = _spf(net, "silent.test")
    assert (result.status, result.summary[:40]) == ("error", "could not test: TXT silent.test: TIMEOUT")


def test_no_question_is_sent_twice_during_the_check(sandbox):
    net = _scenario(sandbox, "faults/spf-provider.yaml")

    _spf(net, "wrong-provider.test", mail_provider="google_workspace")

    assert net.dns.queries_sent == len(net.dns._memo._futures)


def test_the_explanation_of_a_fail_comes_from_exp(sandbox):
    net = _zone(sandbox, {
        "exp.test": {"TXT": [["v=spf1 ip4:192.0.2.0/24 -all exp=why.exp.test"]]},
        "why.exp.test": {"TXT": [["%{i} may not send for %{d}: see https://exp.test/spf"]]},
    })

    outcome = check_mail_from(net.dns, "203.0.113.5", "", "exp.test")

    assert outcome.result is SpfResult.FAIL
    assert outcome.explanation == "203.0.113.5 may not send for exp.test: see https://exp.test/spf"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("v=spf1 a:example.com:8080",
         "'a:example.com:8080': 'example.com:8080' does not end in a valid top-level label (RFC 7208 §7.1)"),
        ("v=spf1 -all/8", "'-all/8': 'all' takes no argument (RFC 7208 §5.1)"),
        ("v=spf1 a//129", "'a//129': /129 is not a prefix length from 0 to 128 (RFC 7208 §5.6)"),
        ("v=spf1 exists:%{x}.test",
         "'exists:%{x}.test': macro letter 'x' is not allowed here (RFC 7208 §7.2)"),
        ("v=spf1 exp=a.test exp=b.test", "exp= appears more than once (RFC 7208 §6)"),
        ("v=spf1 a:x.test\x00", "'a:x.test\\x00': character '\\x00' is not allowed (RFC 7208 §7.1)"),
        ("v=spf1 ip4:1.2.3.4 é", "non-ASCII character 'é': records are 7-bit ASCII (RFC 7208 §3.1)"),
    ],
)
def test_syntax_errors_name_the_term_and_the_rule(record, message):
    with pytest.raises(SpfSyntaxError) as caught:
        parse_record(record)

    assert str(caught.value) == message


def test_the_walk_of_a_record_with_ip_macros_counts_but_does_not_guess(sandbox):
    net = _zone(sandbox, {"m.test": {"TXT": [["v=spf1 exists:%{ir}.%{v}._spf.m.test -all"]]}})

    outcome = walk_record(net.dns, "m.test")

    assert (outcome.result, outcome.dns_lookups, outcome.void_lookups) == (SpfResult.FAIL, 1, 0)
    assert outcome.tree.notes == [
        "exists:%{ir}.%{v}._spf.m.test: depends on the sending address; not evaluated",
    ]
    assert check_host(net.dns, "192.0.2.1", "m.test", "a@m.test").void_lookups == 1


def test_the_project_refuses_an_unknown_provider_or_a_bad_ip():
    with pytest.raises(ValueError) as caught:
        ProjectSpec(name="x", apex="example.com", mail_provider="yahoo")
    assert str(caught.value).startswith("'yahoo' is not a sending provider: use one of google_workspace,")
    with pytest.raises(ValueError) as caught:
        ProjectSpec(name="x", apex="example.com", mail_sending_ips=("192.0.2.300",))
    assert str(caught.value) == (
        "'192.0.2.300' is not an IP address or network, like 192.0.2.10 or 192.0.2.0/24"
    )
    spec = ProjectSpec(name="x", apex="example.com", mail_provider="SendGrid",
                       mail_sending_ips=("192.0.2.10", "2001:db8::/48", "192.0.2.10/32"))
    assert (spec.mail_provider, spec.mail_sending_ips) == ("sendgrid", ("192.0.2.10", "2001:db8::/48"))
