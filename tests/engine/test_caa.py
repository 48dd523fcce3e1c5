"""dns.caa against the sandbox's real DNS and HTTPS servers, and the RFC 8659 parser on its own.

Every sandbox host's certificate comes from the sandbox CA (organisation "Launch Ready sandbox
CA"), which data/caa_issuers.json maps to the CAA identifier ``sandbox.test``.
"""

from __future__ import annotations

import dataclasses

import pytest

from checks.engine.checks.dns_records import caa_identifiers, parse_caa
from checks.engine.net.session import Net
from tests.engine.support import run_check

SANDBOX_O = "O=Launch Ready sandbox CA"
REFUSED = "outbound policy refused 192.0.2.10: documentation range (RFC 5737, RFC 3849, RFC 9637)"


def _caa(sandbox, host: str, dns: dict, hosts: dict | None = None):
    box, net = sandbox({"dns": dns, "hosts": hosts if hosts is not None else {host: {}}})
    return run_check(net, "dns.caa", host, apex="shop.test")


def test_apex_caa_naming_the_served_ca_passes_for_a_subdomain(sandbox):
    result = _caa(sandbox, "www.shop.test", {"shop.test": {"CAA": [[0, "issue", "sandbox.test"]]}})

    assert result.status == "pass"
    assert result.summary == (
        "CAA at shop.test allows sandbox.test, the served certificate's CA (Launch Ready sandbox CA)"
    )
    evidence = result.evidence
    assert evidence["relevant_name"] == "shop.test"
    assert evidence["names_queried"] == ["www.shop.test", "shop.test"]
    assert evidence["records"] == [
        {"flags": 0, "tag": "issue", "value": "sandbox.test", "issuer": "sandbox.test", "parameters": {}},
    ]
    assert evidence["served_issuer"].endswith(SANDBOX_O)
    assert evidence["issuer_ca"] == "Launch Ready sandbox CA"
    assert evidence["issuer_identifiers"] == ["sandbox.test"]
    assert (evidence["property"], evidence["allowed"]) == ("issue", ["sandbox.test"])


def test_caa_that_allows_only_another_ca_fails_because_renewal_would_be_refused(sandbox):
    result = _caa(sandbox, "www.shop.test", {"shop.test": {"CAA": [[0, "issue", "letsencrypt.org"]]}})

    assert result.status == "fail"
    assert result.summary == (
        "CAA at shop.test allows only letsencrypt.org: Launch Ready sandbox CA (sandbox.test), "
        "which issued the served certificate, would be refused at renewal"
    )
    assert result.evidence["allowed"] == ["letsencrypt.org"]
    assert result.remediation == (
        'Add `0 issue "sandbox.test"` to the CAA records of shop.test before the certificate expires, '
        "or move to a CA the records allow."
    )


def test_no_caa_anywhere_warns_that_any_ca_may_issue(sandbox):
    result = _caa(sandbox, "www.shop.test", {})

    assert result.status == "warn"
    assert result.summary == "no CAA record for www.shop.test or its parents: any CA may issue"
    # The climb stops below the root (RFC 8659 §3): host, apex, top-level label.
    assert result.evidence["names_queried"] == ["www.shop.test", "shop.test", "test"]
    assert result.evidence["relevant_name"] is None
    assert result.evidence["records"] == []


def test_the_closest_rrset_wins_over_the_apex(sandbox):
    result = _caa(sandbox, "www.shop.test", {
        "shop.test": {"CAA": [[0, "issue", "letsencrypt.org"]]},
        "www.shop.test": {"CAA": [[0, "issue", "sandbox.test"]]},
    })

    assert result.status == "pass"
    assert result.evidence["relevant_name"] == "www.shop.test"
    assert result.evidence["names_queried"] == ["www.shop.test"]


def test_issue_semicolon_alone_allows_no_ca_and_fails(sandbox):
    result = _caa(sandbox, "www.shop.test", {"shop.test": {"CAA": [[0, "issue", ";"]]}})

    assert result.status == "fail"
    assert result.summary == 'CAA at shop.test allows no CA to issue (issue ";"): renewal would be refused'
    assert result.evidence["records"][0]["issuer"] == ""


def test_an_unknown_critical_property_fails_because_every_ca_must_refuse(sandbox):
    result = _caa(sandbox, "www.shop.test", {
        "shop.test": {"CAA": [[0, "issue", "sandbox.test"], [128, "tbs", "unknown"]]},
    })

    assert result.status == "fail"
    assert result.summary == (
        "CAA at shop.test has a critical property 'tbs' that CAs do not know: every CA must refuse to issue"
    )


def test_a_known_property_with_the_critical_flag_is_honoured(sandbox):
    result = _caa(sandbox, "www.shop.test", {"shop.test": {"CAA": [[128, "issue", "sandbox.test"]]}})

    assert result.status == "pass"


def test_parameters_after_the_issuer_are_kept_and_do_not_change_the_match(sandbox):
    result = _caa(sandbox, "www.shop.test", {
        "shop.test": {"CAA": [[0, "issue", "sandbox.test; validationmethods=dns-01"]]},
    })

    assert result.status == "pass"
    assert result.evidence["records"][0]["parameters"] == {"validationmethods": "dns-01"}


def test_records_without_an_issue_property_restrict_nothing_and_warn(sandbox):
    result = _caa(sandbox, "www.shop.test", {
        "shop.test": {"CAA": [[0, "iodef", "mailto:security@shop.test"]]},
    })

    assert result.status == "warn"
    assert result.summary == "CAA at shop.test has no issue property: any CA may issue"


def test_an_issuer_missing_from_the_table_warns_that_it_could_not_be_compared(sandbox):
    result = _caa(sandbox, "www.shop.test", {"shop.test": {"CAA": [[0, "issue", "sandbox.test"]]}},
                  hosts={"www.shop.test": {"certificate": "self_signed"}})

    assert result.status == "warn"
    assert result.summary == (
        "CAA at shop.test allows only sandbox.test; the served certificate's issuer (CN=www.shop.test) "
        "is not in the CAA table, so it could not be compared"
    )
    assert result.evidence["issuer_identifiers"] == []


def test_without_a_handshake_the_records_alone_are_judged(sandbox):
    # 192.0.2.10 is a documentation address: the outbound policy refuses it, so no TLS probe.
    result = _caa(sandbox, "www.shop.test", {
        "shop.test": {"CAA": [[0, "issue", "sandbox.test"]]},
        "www.shop.test": {"A": ["192.0.2.10"]},
    }, hosts={})

    assert result.status == "pass"
    assert result.summary == (
        f"CAA at shop.test allows only sandbox.test; the served issuer could not be compared ({REFUSED})"
    )
    assert result.evidence["served_issuer"] is None
    assert result.evidence["tls_error"] == REFUSED


def test_without_a_handshake_and_without_caa_it_still_warns(sandbox):
    result = _caa(sandbox, "www.shop.test", {"www.shop.test": {"A": ["192.0.2.10"]}}, hosts={})

    assert result.status == "warn"
    assert result.summary == (
        "no CAA record for www.shop.test or its parents: any CA may issue; "
        f"the served issuer could not be compared ({REFUSED})"
    )


def test_caa_is_followed_through_a_cname(sandbox):
    # RFC 8659 §3: the CAA query at the host follows its CNAME to the CDN's name.
    result = _caa(sandbox, "cdn.shop.test", {
        "shop.test": {"CAA": [[0, "issue", "letsencrypt.org"]]},
        "cdn.shop.test": {"CNAME": ["edge.cdn.test"]},
        "edge.cdn.test": {"CAA": [[0, "issue", "sandbox.test"]]},
    }, hosts={"cdn.shop.test": {}, "edge.cdn.test": {}})

    assert result.status == "pass"
    assert result.summary == (
        "CAA at cdn.shop.test allows sandbox.test, the served certificate's CA (Launch Ready sandbox CA)"
    )
    assert result.evidence["relevant_name"] == "cdn.shop.test"
    assert result.evidence["queries"][0]["cname_chain"] == ["edge.cdn.test"]


def test_a_wildcard_certificate_is_judged_by_issuewild_at_its_base_name(sandbox):
    # www.shop.test's own CAA would refuse, but renewing *.shop.test looks at shop.test
    # (RFC 8659 §3), where issuewild takes precedence over issue (§4.3).
    result = _caa(sandbox, "www.shop.test", {
        "www.shop.test": {"CAA": [[0, "issue", "letsencrypt.org"]]},
        "shop.test": {"CAA": [[0, "issue", "letsencrypt.org"], [0, "issuewild", "sandbox.test"]]},
    }, hosts={"www.shop.test": {"certificate": {"san": ["*.shop.test"]}}})

    assert result.status == "pass"
    assert (result.evidence["certificate_name"], result.evidence["wildcard"]) == ("*.shop.test", True)
    assert (result.evidence["relevant_name"], result.evidence["property"]) == ("shop.test", "issuewild")


def test_a_wildcard_certificate_fails_when_issuewild_forbids_every_ca(sandbox):
    result = _caa(sandbox, "www.shop.test", {
        "shop.test": {"CAA": [[0, "issue", "sandbox.test"], [0, "issuewild", ";"]]},
    }, hosts={"www.shop.test": {"certificate": {"san": ["*.shop.test"]}}})

    assert result.status == "fail"
    assert result.summary == (
        'CAA at shop.test allows no CA to issue (issuewild ";"): renewal would be refused'
    )


def test_servfail_on_the_climb_is_an_error(sandbox):
    result = _caa(sandbox, "www.shop.test", {"shop.test": "SERVFAIL"})

    assert result.status == "error"
    assert result.summary == "could not test: shop.test: CAA query failed (SERVFAIL: server failure)"


def test_a_caa_query_that_never_answers_is_an_error(sandbox):
    box, _ = sandbox({"dns": {"shop.test": "TIMEOUT"}, "hosts": {"www.shop.test": {}}})
    profile = dataclasses.replace(box.profile, dns_timeout_s=0.3)

    with Net(profile) as net:
        result = run_check(net, "dns.caa", "www.shop.test")

    server = f"{profile.nameservers[0]}:{profile.dns_port}"
    assert result.status == "error"
    assert result.summary == (
        f"could not test: shop.test: CAA query failed (TIMEOUT: no answer from {server} within 0.3 s)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('0 issue "letsencrypt.org"', (0, "issue", "letsencrypt.org", {})),
        ('0 issue ";"', (0, "issue", "", {})),
        ('0 issue ""', (0, "issue", "", {})),
        ('0 ISSUE " DigiCert.com ; cansignhttpexchanges=yes"', (0, "issue", "digicert.com",
                                                              {"cansignhttpexchanges": "yes"})),
        ('128 issuewild "pki.goog; a=1; b=2"', (128, "issuewild", "pki.goog", {"a": "1", "b": "2"})),
        ('0 iodef "mailto:sec@example.com"', (0, "iodef", None, {})),
        ('0 issue "a\\"b"', (0, "issue", 'a"b', {})),
    ],
)
def test_caa_records_parse_per_rfc_8659(text, expected):
    prop = parse_caa(text)

    assert (prop.flags, prop.tag, prop.issuer, prop.parameters) == expected


def test_a_record_not_in_presentation_form_is_refused():
    with pytest.raises(ValueError, match="not a CAA record"):
        parse_caa("issue letsencrypt.org")


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        ("CN=R11,O=Let's Encrypt,C=US", ("Let's Encrypt", ["letsencrypt.org"])),
        ("CN=Sectigo RSA Domain Validation Secure Server CA,O=Sectigo Limited,L=Salford,C=GB",
         ("Sectigo", ["sectigo.com", "comodoca.com", "comodo.com", "usertrust.com"])),
        ("CN=WR2,O=Google Trust Services,C=US", ("Google Trust Services", ["pki.goog"])),
        ("CN=Amazon RSA 2048 M02,O=Amazon,C=US",
         ("Amazon", ["amazon.com", "amazontrust.com", "awstrust.com", "amazonaws.com"])),
        ("CN=ZeroSSL RSA Domain Secure Site CA,O=ZeroSSL,C=AT", ("ZeroSSL", ["sectigo.com"])),
        ("CN=Example Issuing CA,O=Example Corp", (None, [])),
        ("CN=self.example", (None, [])),
        ("not a distinguished name", (None, [])),
    ],
)
def test_an_issuer_maps_to_the_caa_identifiers_of_its_ca(issuer, expected):
    assert caa_identifiers(issuer) == expected
