"""email.dkim, email.dmarc and email.mx against the sandbox's real DNS server, and their record
readers on their own (RFC 6376 §3.6.1, RFC 8301, RFC 8463; RFC 7489; RFC 5321 §5.1, RFC 7505).

Keys are made here with ``cryptography``; the 512-bit one (which ``cryptography`` refuses to
generate) is the public half of a key made once with ``openssl genrsa 512``.
"""

from __future__ import annotations

import base64
from functools import cache

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from checks.engine.audit import spec_from_dict
from checks.engine.email.dkim import provider_selectors, read_key_record
from checks.engine.email.dmarc import organisational_domain, parse_report_uris, read_policy
from checks.engine.hostnames import InvalidHostname
from checks.engine.registry import Context, all_checks
from checks.engine.spec import ProjectSpec

RSA512 = (
    "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAOtfMZSrNRAsxC8zKxdBy+VPetpsToT1nYcW0WJe+YzR+sJZTL/YoJzh2gJN"
    "GDh+lg9JZtsSkTWxqptu2T2A0lUCAwEAAQ=="
)
PROVIDERS = provider_selectors()


@cache
def rsa_key(bits: int) -> str:
    """The base64 SubjectPublicKeyInfo of a fresh RSA key (``bits`` ≥ 1024), or the 512-bit one."""
    if bits == 512:
        return RSA512
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    return base64.b64encode(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).decode()


@cache
def ed25519_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def txt(record: str) -> dict:
    """One TXT RR holding ``record``, cut into strings of 200 characters (RFC 1035 §3.3.14)."""
    return {"TXT": [[record[i:i + 200] for i in range(0, len(record), 200)] or [""]]}


def run(sandbox, check_id: str, dns: dict, *, apex: str = "mail.test", selectors=(), hosts=None):
    _, net = sandbox({"dns": dns, "hosts": hosts or {}})
    project = ProjectSpec(name="t", apex=apex, subdomains=(), dkim_selectors=tuple(selectors))
    checks = {c.id: c for c in all_checks()}
    return checks[check_id].run(apex, Context(net, project))


def selector(result, name: str) -> dict:
    return next(s for s in result.evidence["selectors"] if s["selector"] == name)


# ---------------------------------------------------------------------------------------------
# email.dkim


def test_a_2048_bit_key_at_the_configured_selector_passes(sandbox):
    record = f"v=DKIM1; k=rsa; p={rsa_key(2048)}"
    result = run(sandbox, "email.dkim", {"s1._domainkey.mail.test": txt(record)}, selectors=["s1"])

    assert result.status == "pass"
    assert result.summary == "DKIM key of mail.test: s1 (rsa 2048 bits)"
    # The configured selector first, then every provider selector not configured.
    assert result.evidence["selectors_asked"] == ["s1", *[s for s in PROVIDERS if s != "s1"]]
    assert result.evidence["configured_selectors"] == ["s1"]
    assert result.evidence["keys_found"] == ["s1"]
    s1 = selector(result, "s1")
    # The record's two strings are joined with nothing between them (RFC 6376 §3.6.2.2).
    assert s1["keys"][0]["record"] == record
    assert s1["keys"][0]["tags"] == {"v": "DKIM1", "k": "rsa", "p": rsa_key(2048)}
    assert (s1["keys"][0]["key_type"], s1["keys"][0]["key_bits"]) == ("rsa", 2048)
    assert selector(result, "google") == {
        "selector": "google", "name": "google._domainkey.mail.test", "configured": False,
        "found": False, "cname_chain": [], "rcode": "NXDOMAIN", "keys": [],
    }
    assert result.metrics == {"selectors_asked": 15, "keys_found": 1, "min_rsa_bits": 2048}


def test_the_only_key_revoked_fails(sandbox):
    revoked = {"s1._domainkey.mail.test": txt("v=DKIM1; k=rsa; p=")}
    result = run(sandbox, "email.dkim", revoked, selectors=["s1"])

    assert result.status == "fail"
    assert result.summary == "no usable DKIM key for mail.test; s1: key revoked (empty p=, RFC 6376 §3.6.1)"
    assert selector(result, "s1")["keys"][0]["revoked"] is True
    assert result.remediation.startswith("Have the provider generate a 2048-bit RSA key under a new selector")


def test_a_512_bit_key_fails_even_beside_a_good_key(sandbox):
    result = run(sandbox, "email.dkim", {
        "s1._domainkey.mail.test": txt(f"v=DKIM1; p={rsa_key(2048)}"),
        "google._domainkey.mail.test": txt(f"v=DKIM1; k=rsa; p={rsa_key(512)}"),
    }, selectors=["s1"])

    # Anyone who factors it can sign mail as the domain with s=google.
    assert result.status == "fail"
    assert result.summary == (
        "google: RSA key of 512 bits: receivers reject signatures under 1024 bits and such a key "
        "can be factored (RFC 8301 §3.2)"
    )
    assert result.evidence["keys_found"] == ["s1", "google"]
    assert result.metrics["min_rsa_bits"] == 512


def test_a_1024_bit_key_warns(sandbox):
    result = run(sandbox, "email.dkim", {"selector1._domainkey.mail.test": txt(f"p={rsa_key(1024)}")})

    assert result.status == "warn"
    assert result.summary == "selector1: RSA key of 1024 bits: use 2048 bits or more (RFC 8301 §3.2)"
    assert result.evidence["configured_selectors"] == []
    assert result.evidence["keys_found"] == ["selector1"]


def test_a_key_in_testing_mode_warns(sandbox):
    record = f"v=DKIM1; t=y; p={rsa_key(2048)}"
    result = run(sandbox, "email.dkim", {"s1._domainkey.mail.test": txt(record)}, selectors=["s1"])

    assert result.status == "warn"
    assert result.summary == "s1: testing mode (t=y): receivers treat the mail as unsigned (RFC 6376 §3.6.1)"
    assert selector(result, "s1")["keys"][0]["testing"] is True
    assert result.remediation == "Remove t=y from the key record once signing is verified."


def test_an_ed25519_key_beside_an_rsa_key_passes(sandbox):
    result = run(sandbox, "email.dkim", {
        "ed._domainkey.mail.test": txt(f"v=DKIM1; k=ed25519; p={ed25519_key()}"),
        "rsa._domainkey.mail.test": txt(f"v=DKIM1; k=rsa; p={rsa_key(2048)}"),
    }, selectors=["ed", "rsa"])

    assert result.status == "pass"
    assert result.summary == "DKIM keys of mail.test: ed (ed25519), rsa (rsa 2048 bits)"
    assert selector(result, "ed")["keys"][0]["key_bits"] == 256


def test_an_ed25519_key_alone_warns_that_many_receivers_verify_rsa_only(sandbox):
    result = run(sandbox, "email.dkim", {
        "ed._domainkey.mail.test": txt(f"v=DKIM1; k=ed25519; p={ed25519_key()}"),
    }, selectors=["ed"])

    assert result.status == "warn"
    assert result.summary == (
        "only Ed25519 keys: many receivers (Gmail among them) verify RSA signatures only and treat "
        "mail signed with Ed25519 alone as unsigned; sign with an RSA key too"
    )


def test_a_key_delegated_by_cname_is_followed(sandbox):
    result = run(sandbox, "email.dkim", {
        "s1._domainkey.mail.test": {"CNAME": ["s1.domainkey.u1.wl.sendgrid.test"]},
        "s1.domainkey.u1.wl.sendgrid.test": txt(f"k=rsa; p={rsa_key(2048)}"),
    })

    assert result.status == "pass"
    assert result.summary == (
        "DKIM key of mail.test: s1 (rsa 2048 bits, CNAME to s1.domainkey.u1.wl.sendgrid.test)"
    )
    assert selector(result, "s1")["cname_chain"] == ["s1.domainkey.u1.wl.sendgrid.test"]


def test_no_key_at_any_selector_fails_and_lists_every_selector_asked(sandbox):
    result = run(sandbox, "email.dkim", {}, selectors=["s1"])

    asked = ["s1", *[s for s in PROVIDERS if s != "s1"]]
    assert result.status == "fail"
    assert result.summary == f"no DKIM key found at selectors {', '.join(asked)} of mail.test"
    assert asked == [
        "s1", "google", "selector1", "selector2", "k1", "k2", "k3", "mte1", "mte2", "mandrill",
        "s2", "smtpapi", "pdk1", "pdk2", "mx",
    ]
    assert result.evidence["keys_found"] == []
    assert "Postmark and Amazon SES selectors cannot be guessed" in result.remediation


def test_a_configured_selector_without_a_key_fails_though_a_provider_key_exists(sandbox):
    result = run(sandbox, "email.dkim", {
        "google._domainkey.mail.test": txt(f"v=DKIM1; p={rsa_key(2048)}"),
    }, selectors=["20240101pm"])

    assert result.status == "fail"
    assert result.summary == "20240101pm: no key at 20240101pm._domainkey.mail.test"


def test_an_old_revoked_provider_key_beside_a_usable_key_passes(sandbox):
    # Revoking the old selector is how a key rotation ends (RFC 6376 §3.6.1).
    result = run(sandbox, "email.dkim", {
        "google._domainkey.mail.test": txt("v=DKIM1; p="),
        "s1._domainkey.mail.test": txt(f"v=DKIM1; p={rsa_key(2048)}"),
    }, selectors=["s1"])

    assert result.status == "pass"
    assert result.summary == "DKIM key of mail.test: s1 (rsa 2048 bits)"
    assert selector(result, "google")["keys"][0]["revoked"] is True


def test_a_provider_cname_to_nothing_warns_beside_a_usable_key_and_fails_alone(sandbox):
    target = "selector1-mail-test._domainkey.tenant.example"
    dangling = {"selector1._domainkey.mail.test": {"CNAME": [target]}}
    beside = run(sandbox, "email.dkim", {**dangling, "s1._domainkey.mail.test": txt(f"p={rsa_key(2048)}")})
    alone = run(sandbox, "email.dkim", dangling)

    text = (
        "selector1: selector1._domainkey.mail.test is a CNAME to "
        "selector1-mail-test._domainkey.tenant.example, which does not exist"
    )
    assert (beside.status, beside.summary) == ("warn", text)
    assert alone.status == "fail"
    assert alone.summary == f"no DKIM key found at selectors {', '.join(PROVIDERS)} of mail.test; {text}"


def test_garbage_at_the_configured_selector_fails_with_the_reason(sandbox):
    result = run(sandbox, "email.dkim", {"s1._domainkey.mail.test": txt("hello world")}, selectors=["s1"])

    assert result.status == "fail"
    assert result.summary == (
        "no usable DKIM key for mail.test; "
        "s1: not a tag=value list (RFC 6376 §3.2): 'hello world' is not tag=value"
    )


def test_a_selector_that_fails_to_answer_is_an_error_not_a_missing_key(sandbox):
    result = run(sandbox, "email.dkim", {"s1._domainkey.mail.test": "SERVFAIL"}, selectors=["s1"])

    assert result.status == "error"
    assert result.summary == (
        "could not test: s1._domainkey.mail.test: TXT query failed (SERVFAIL: server failure)"
    )


def test_an_error_elsewhere_does_not_hide_a_weak_key(sandbox):
    result = run(sandbox, "email.dkim", {
        "s1._domainkey.mail.test": "SERVFAIL",
        "google._domainkey.mail.test": txt(f"p={rsa_key(512)}"),
    }, selectors=["s1"])

    assert result.status == "fail"
    assert result.summary.startswith("google: RSA key of 512 bits")


def test_an_unanswered_selector_keeps_a_revoked_provider_key_from_failing_the_check(sandbox):
    result = run(sandbox, "email.dkim", {
        "s1._domainkey.mail.test": "SERVFAIL",
        "google._domainkey.mail.test": txt("v=DKIM1; p="),
    })

    # s1 may hold the key that is used; the revoked google key alone proves nothing.
    assert result.status == "error"
    assert result.summary == (
        "could not test: s1._domainkey.mail.test: TXT query failed (SERVFAIL: server failure)"
    )


def test_a_huge_garbage_key_record_fails_cleanly(sandbox):
    # 40 strings: one RR of 10 002 characters, sent over TCP after truncation.
    record = {"TXT": [["p=" + "A" * 250] + ["A" * 250] * 39]}
    result = run(sandbox, "email.dkim", {"s1._domainkey.mail.test": record}, selectors=["s1"])

    assert result.status == "fail"
    assert result.summary == (
        "no usable DKIM key for mail.test; "
        "s1: p= is not a public key (neither SubjectPublicKeyInfo nor RSAPublicKey DER)"
    )
    assert len(selector(result, "s1")["keys"][0]["record"]) == 10_002


DISCARDED = "v= must be DKIM1 and the first tag, or verifiers discard the record (RFC 6376 §3.6.1)"


@pytest.mark.parametrize(("record", "finding"), [
    ("k=rsa; v=DKIM1; p=AAAA", DISCARDED),
    ("v=DKIM2; p=AAAA", DISCARDED),
    ("v=DKIM1; k=dsa; p=AAAA", "unknown key type k=dsa: verifiers cannot use it (RFC 6376 §6.1.2)"),
    ("v=DKIM1; h=sha1; p=AAAA", "h=sha1 allows no sha256: rsa-sha1 is refused by verifiers (RFC 8301 §3.1)"),
    ("v=DKIM1; s=tlsrpt; p=AAAA", "s=tlsrpt: the key is not for email (RFC 6376 §3.6.1)"),
    ("v=DKIM1; k=rsa", "no p= tag: the public key is required (RFC 6376 §3.6.1)"),
    ("v=DKIM1; p=not*base64", "p= is not base64 (RFC 6376 §3.6.1)"),
    ("v=DKIM1; k=ed25519; p=AAAA", "p= holds 3 bytes, not a 32-byte Ed25519 public key (RFC 8463 §4.2)"),
    ("p=1; p=2", "not a tag=value list (RFC 6376 §3.2): tag p appears twice"),
])
def test_key_records_that_verifiers_cannot_use_fail_with_the_rule(record, finding):
    key = read_key_record(record)

    assert [(str(f.status), f.text) for f in key.findings] == [("fail", finding)]
    assert key.usable is False


def test_an_rsa_key_in_bare_pkcs1_form_and_with_folded_whitespace_is_read():
    pkcs1 = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        Encoding.DER, PublicFormat.PKCS1,
    )
    data = base64.b64encode(pkcs1).decode()
    key = read_key_record(f"v=DKIM1; h=sha1:sha256; s=email; p={data[:100]} {data[100:]}")

    assert (key.key_type, key.key_bits, key.findings) == ("rsa", 2048, [])


def test_an_ec_key_under_k_rsa_is_refused():
    from cryptography.hazmat.primitives.asymmetric import ec

    der = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo,
    )
    key = read_key_record(f"p={base64.b64encode(der).decode()}")

    assert [f.text for f in key.findings] == ["p= is an EC key, not an RSA key (k=rsa)"]


# ---------------------------------------------------------------------------------------------
# email.dmarc


def dmarc(record: str | list[str], **more) -> dict:
    records = [record] if isinstance(record, str) else record
    return {"_dmarc.mail.test": {"TXT": [[r] for r in records]}, **more}


def test_an_enforcing_policy_with_reports_passes(sandbox):
    record = "v=DMARC1; p=reject; rua=mailto:dmarc@mail.test; adkim=s"
    result = run(sandbox, "email.dmarc", dmarc(record))

    assert result.status == "pass"
    assert result.summary == "DMARC p=reject at _dmarc.mail.test; aggregate reports to dmarc@mail.test"
    evidence = result.evidence
    assert evidence["found_at"] == "_dmarc.mail.test"
    assert evidence["record"] == record
    assert evidence["tags"] == {"v": "DMARC1", "p": "reject", "rua": "mailto:dmarc@mail.test", "adkim": "s"}
    assert (evidence["policy"], evidence["effective_policy"]) == ("reject", "reject")
    assert evidence["reports"] == [{
        "tag": "rua", "uri": "mailto:dmarc@mail.test", "address": "dmarc@mail.test",
        "domain": "mail.test", "external": False,
    }]
    assert evidence["names_queried"] == ["_dmarc.mail.test"]
    assert evidence["organisational_domain"] == "mail.test"
    assert evidence["psl"].startswith("publicsuffixlist ")


def test_p_none_warns(sandbox):
    result = run(sandbox, "email.dmarc", dmarc("v=DMARC1; p=none; rua=mailto:dmarc@mail.test"))

    assert result.status == "warn"
    assert result.summary == "p=none: receivers deliver mail that fails DMARC as usual (monitoring only)"
    assert result.evidence["effective_policy"] == "none"


def test_pct_below_100_warns(sandbox):
    result = run(sandbox, "email.dmarc", dmarc("v=DMARC1; p=quarantine; pct=50; rua=mailto:d@mail.test"))

    assert result.status == "warn"
    assert result.summary == (
        "pct=50: receivers that follow RFC 7489 apply the policy to only 50% of failing mail "
        "(DMARCbis drops pct)"
    )


def test_no_rua_warns(sandbox):
    result = run(sandbox, "email.dmarc", dmarc("v=DMARC1; p=reject"))

    assert result.status == "warn"
    assert result.summary == (
        "no rua address: nobody receives aggregate reports, so spoofing and unauthenticated senders "
        "go unseen (RFC 7489 §7.2)"
    )


def test_an_external_rua_without_authorisation_fails(sandbox):
    result = run(sandbox, "email.dmarc", dmarc("v=DMARC1; p=reject; rua=mailto:r@vendor.test"))

    assert result.status == "fail"
    assert result.summary == (
        "rua mailto:r@vendor.test is not authorised: no v=DMARC1 record at "
        "mail.test._report._dmarc.vendor.test, so receivers send it no reports (RFC 7489 §7.1)"
    )
    assert result.evidence["reports"][0]["authorised"] is False
    assert result.remediation.startswith(
        'Ask the operator of vendor.test to publish TXT "v=DMARC1" at mail.test._report._dmarc.vendor.test'
    )


def test_an_external_rua_with_its_authorisation_record_passes(sandbox):
    result = run(sandbox, "email.dmarc", dmarc(
        "v=DMARC1; p=reject; rua=mailto:r@vendor.test!10m",
        **{"mail.test._report._dmarc.vendor.test": {"TXT": [["v=DMARC1"]]}},
    ))

    assert result.status == "pass"
    assert result.evidence["reports"] == [{
        "tag": "rua", "uri": "mailto:r@vendor.test!10m", "address": "r@vendor.test", "domain": "vendor.test",
        "external": True, "size_limit": "10m",
        "authorisation_name": "mail.test._report._dmarc.vendor.test", "authorised": True,
    }]


def test_a_rua_under_the_same_organisational_domain_needs_no_authorisation(sandbox):
    result = run(sandbox, "email.dmarc", dmarc("v=DMARC1; p=reject; rua=mailto:d@reports.mail.test"))

    assert result.status == "pass"
    assert result.evidence["reports"][0]["external"] is False
    assert result.evidence["names_queried"] == ["_dmarc.mail.test"]


def test_two_dmarc_records_fail(sandbox):
    result = run(sandbox, "email.dmarc", dmarc(["v=DMARC1; p=reject", "v=DMARC1; p=none"]))

    assert result.status == "fail"
    assert result.summary == (
        "2 DMARC records at _dmarc.mail.test: receivers apply no DMARC policy (RFC 7489 §6.6.3)"
    )
    # An RRset has no order (RFC 2181 §5): compare as sets.
    assert sorted(result.evidence["records"]) == ["v=DMARC1; p=none", "v=DMARC1; p=reject"]


def test_no_record_fails_and_other_txt_records_are_discarded(sandbox):
    result = run(sandbox, "email.dmarc", dmarc(["v=DMARC2; p=reject", "site-verification=abc"]))

    assert result.status == "fail"
    assert result.summary == "no DMARC record at _dmarc.mail.test"
    assert sorted(result.evidence["discarded"]) == ["site-verification=abc", "v=DMARC2; p=reject"]


def test_the_organisational_domains_record_applies_with_its_sp(sandbox):
    dns = {"_dmarc.shop.test": {"TXT": [["v=DMARC1; p=reject; sp=none; rua=mailto:d@shop.test"]]}}
    result = run(sandbox, "email.dmarc", dns, apex="news.shop.test")

    assert result.status == "warn"
    assert result.summary == "sp=none: receivers deliver mail that fails DMARC as usual (monitoring only)"
    assert result.evidence["names_queried"] == ["_dmarc.news.shop.test", "_dmarc.shop.test"]
    assert result.evidence["found_at"] == "_dmarc.shop.test"
    assert (result.evidence["policy"], result.evidence["effective_policy"]) == ("reject", "none")


def test_the_organisational_domains_record_passes_when_it_enforces(sandbox):
    dns = {"_dmarc.shop.test": {"TXT": [["v=DMARC1; p=quarantine; rua=mailto:d@shop.test"]]}}
    result = run(sandbox, "email.dmarc", dns, apex="news.shop.test")

    assert result.status == "pass"
    assert result.summary == (
        "DMARC p=quarantine at _dmarc.shop.test (the organisational domain of news.shop.test); "
        "aggregate reports to d@shop.test"
    )


@pytest.mark.parametrize(("record", "summary"), [
    ("v=DMARC1; rua=mailto:d@mail.test",
     "no p= tag: RFC 7489 §6.3 requires it (DMARCbis receivers read p=none)"),
    ("v=DMARC1; p=block; rua=mailto:d@mail.test", "p=block is not a valid value (RFC 7489 §6.3)"),
    ("v=DMARC1; p=reject; adkim=x; rua=mailto:d@mail.test", "adkim=x is not a valid value (RFC 7489 §6.3)"),
    ("v=DMARC1; p=reject; pct=150; rua=mailto:d@mail.test", "pct=150 is not a valid value (RFC 7489 §6.3)"),
    ("v=DMARC1; p=reject; p", "not a tag=value list (RFC 7489 §6.4): 'p' is not tag=value"),
])
def test_invalid_policy_tags_fail(sandbox, record, summary):
    result = run(sandbox, "email.dmarc", dmarc(record))

    assert (result.status, result.summary) == ("fail", summary)


def test_a_dmarc_lookup_that_fails_is_an_error(sandbox):
    result = run(sandbox, "email.dmarc", {"_dmarc.mail.test": "SERVFAIL"})

    assert result.status == "error"
    assert result.summary == "could not test: _dmarc.mail.test: TXT query failed (SERVFAIL: server failure)"


def test_the_organisational_domain_comes_from_the_public_suffix_list():
    assert organisational_domain("a.b.example.co.uk") == "example.co.uk"
    assert organisational_domain("news.shop.test") == "shop.test"  # unknown TLD: the "*" rule
    assert organisational_domain("club.github.io") == "club.github.io"  # the list's private section
    assert organisational_domain("Mail.Example.COM.") == "example.com"


def test_report_uris_are_read_with_their_size_and_problems():
    value = "mailto:a@x.test!10m, https://x.test/r,mailto:nobody, MAILTO:d@Y.test?subject=r"
    uris = parse_report_uris("rua", value)

    assert [(u.address, u.size_limit, u.problem) for u in uris] == [
        ("a@x.test", "10m", None),
        (None, None, "not a mailto: URI"),
        (None, None, "not a mail address"),
        ("d@y.test", None, None),
    ]


def test_unknown_dmarc_tags_are_listed_not_judged():
    policy = read_policy("v=DMARC1; p=reject; rua=mailto:d@mail.test; foo=bar; np=quarantine; psd=n")

    assert policy.ignored == ["foo"]
    assert policy.findings == []


# ---------------------------------------------------------------------------------------------
# email.mx


def test_mx_targets_that_resolve_pass_in_preference_order(sandbox):
    result = run(sandbox, "email.mx", {
        "mail.test": {"MX": [[20, "mx2.mail.test"], [10, "mx1.mail.test"]]},
        "mx1.mail.test": {"A": ["192.0.2.25"]},
        "mx2.mail.test": {"AAAA": ["2001:db8::25"]},
    })

    assert result.status == "pass"
    assert result.summary == "MX of mail.test: 10 mx1.mail.test (192.0.2.25); 20 mx2.mail.test (2001:db8::25)"
    assert result.evidence["mx"] == [
        {"preference": 10, "host": "mx1.mail.test", "addresses": ["192.0.2.25"]},
        {"preference": 20, "host": "mx2.mail.test", "addresses": ["2001:db8::25"]},
    ]
    assert result.metrics == {"mx_records": 2}


def test_a_null_mx_passes_as_a_domain_that_takes_no_mail(sandbox):
    result = run(sandbox, "email.mx", {"mail.test": {"MX": [[0, "."]]}})

    assert result.status == "pass"
    assert result.summary == "null MX (RFC 7505): mail.test declares that it receives no mail"
    assert result.evidence["mx"] == [{"preference": 0, "host": ".", "addresses": []}]


@pytest.mark.parametrize(("records", "summary"), [
    ([[0, "."], [10, "mx1.mail.test"]],
     'a null MX (".") next to other MX records: it must be the only one (RFC 7505 §3)'),
    ([[10, "."]], "a null MX must have preference 0, not 10 (RFC 7505 §3)"),
])
def test_a_malformed_null_mx_fails(sandbox, records, summary):
    result = run(sandbox, "email.mx", {"mail.test": {"MX": records}, "mx1.mail.test": {"A": ["192.0.2.25"]}})

    assert (result.status, result.summary) == ("fail", summary)


def test_an_mx_target_that_is_a_cname_fails(sandbox):
    result = run(sandbox, "email.mx", {
        "mail.test": {"MX": [[10, "mail.mail.test"]]},
        "mail.mail.test": {"CNAME": ["inbound.mailhost.test"]},
        "inbound.mailhost.test": {"A": ["192.0.2.25"]},
    })

    assert result.status == "fail"
    assert result.summary == (
        "MX mail.mail.test is a CNAME to inbound.mailhost.test: an MX target must not be an alias "
        "(RFC 2181 §10.3)"
    )
    assert result.evidence["mx"][0]["cname_chain"] == ["inbound.mailhost.test"]
    assert result.evidence["mx"][0]["addresses"] == ["192.0.2.25"]


def test_an_mx_target_written_as_an_ip_address_fails(sandbox):
    result = run(sandbox, "email.mx", {"mail.test": {"MX": [[10, "192.0.2.25"]]}})

    assert result.status == "fail"
    assert result.summary == "MX 192.0.2.25 is an IP address, not a host name (RFC 5321 §5.1)"


def test_an_mx_target_that_does_not_exist_fails(sandbox):
    result = run(sandbox, "email.mx", {"mail.test": {"MX": [[10, "mx9.mail.test"]]}})

    assert result.status == "fail"
    assert result.summary == "MX mx9.mail.test does not exist (NXDOMAIN): mail cannot be delivered there"


def test_an_mx_target_whose_lookup_fails_is_an_error(sandbox):
    dns = {"mail.test": {"MX": [[10, "mx1.mail.test"]]}, "mx1.mail.test": "SERVFAIL"}
    result = run(sandbox, "email.mx", dns)

    assert result.status == "error"
    assert result.summary == "could not test: mx1.mail.test: A query failed (SERVFAIL: server failure)"


def test_no_mx_with_an_address_warns_about_implicit_mx(sandbox):
    result = run(sandbox, "email.mx", {}, hosts={"mail.test": {}})

    assert result.status == "warn"
    address = result.evidence["implicit_mx"][0]
    assert result.summary == (
        f"no MX record: mail to mail.test goes to its address {address} (implicit MX, RFC 5321 §5.1)"
    )
    assert address.startswith("127.")


def test_no_mx_and_no_address_fails(sandbox):
    result = run(sandbox, "email.mx", {"mail.test": {"TXT": [["v=spf1 -all"]]}})

    assert result.status == "fail"
    assert result.summary == (
        "no MX record and no address: mail to mail.test cannot be delivered (RFC 5321 §5.1)"
    )
    assert result.evidence["implicit_mx"] == []


def test_a_domain_that_does_not_exist_fails(sandbox):
    result = run(sandbox, "email.mx", {})

    assert (result.status, result.summary) == ("fail", "mail.test does not exist (NXDOMAIN)")


# ---------------------------------------------------------------------------------------------
# The project's DKIM selectors


def test_dkim_selectors_are_normalised_and_deduplicated():
    selectors = ["S1", "s1._domainkey.shop.test", " google "]
    spec = spec_from_dict({"apex": "shop.test", "dkim_selectors": selectors})

    assert spec.dkim_selectors == ("s1", "google")


@pytest.mark.parametrize("value", ["bad selector", "-s1", "a..b"])
def test_a_dkim_selector_that_is_not_one_is_refused(value):
    with pytest.raises(InvalidHostname, match="is not a DKIM selector"):
        ProjectSpec(name="t", apex="shop.test", dkim_selectors=(value,))

