"""http.hsts against real HTTPS responses, and the RFC 6797 §6.1 parser on its own."""

from __future__ import annotations

import pytest

from checks.engine.hsts import ONE_YEAR_S, parse_sts
from tests.engine.support import route, run_check

STS = "Strict-Transport-Security"


def _host(*values: str, **spec) -> dict:
    return {"https": [route("/*", 200, *[(STS, v) for v in values])], **spec}


def _hsts(sandbox, *values: str, **spec):
    box, net = sandbox({"hosts": {"www.shop.test": _host(*values, **spec)}})
    return run_check(net, "http.hsts", "www.shop.test")


def test_no_header_fails(sandbox):
    result = _hsts(sandbox)

    assert result.status == "fail"
    assert result.summary == "https://www.shop.test/ sends no Strict-Transport-Security header"
    assert result.evidence == {"url": "https://www.shop.test/", "status": 200, "fields": []}
    assert result.remediation == (
        "Send one header on every HTTPS response of www.shop.test: "
        "Strict-Transport-Security: max-age=31536000; includeSubDomains"
    )


def test_one_year_passes(sandbox):
    result = _hsts(sandbox, "max-age=31536000; includeSubDomains")

    assert result.status == "pass"
    assert result.summary == "max-age=31536000 (365 days), includeSubDomains"
    assert result.metrics == {"max_age_s": 31536000}
    assert result.evidence["fields"] == ["max-age=31536000; includeSubDomains"]
    assert result.evidence["effective"] == {"max_age": 31536000, "include_subdomains": True, "preload": False}


def test_one_day_warns(sandbox):
    result = _hsts(sandbox, "max-age=86400")

    assert result.status == "warn"
    assert result.summary == "max-age=86400 is under one year (31536000 s)"
    assert result.metrics == {"max_age_s": 86400}


def test_max_age_zero_fails_because_it_deletes_the_policy(sandbox):
    result = _hsts(sandbox, "max-age=0")

    assert result.status == "fail"
    assert result.summary == "max-age=0 tells browsers to forget the HSTS policy"
    assert result.metrics == {"max_age_s": 0}


def test_invalid_syntax_fails_because_browsers_ignore_the_field(sandbox):
    result = _hsts(sandbox, "max-age=31536000 includeSubDomains")

    assert result.status == "fail"
    assert result.summary == (
        "the Strict-Transport-Security header is invalid, so browsers ignore it: "
        "value '31536000 includeSubDomains' of 'max-age' is neither a token nor a quoted-string"
    )
    assert result.evidence["effective"]["max_age"] is None


def test_a_duplicate_directive_fails(sandbox):
    result = _hsts(sandbox, "max-age=31536000; max-age=31536000")

    assert result.status == "fail"
    assert result.summary == (
        "the Strict-Transport-Security header is invalid, so browsers ignore it: "
        "directive 'max-age' appears more than once (RFC 6797 §6.1 rule 2)"
    )


def test_a_quoted_max_age_passes(sandbox):
    result = _hsts(sandbox, 'max-age="31536000"')

    assert result.status == "pass"
    assert result.summary == "max-age=31536000 (365 days)"


def test_directive_names_are_case_insensitive(sandbox):
    result = _hsts(sandbox, "MAX-AGE=63072000; INCLUDESUBDOMAINS; Preload")

    assert result.status == "pass"
    assert result.summary == "max-age=63072000 (730 days), includeSubDomains, preload"
    assert result.evidence["effective"] == {"max_age": 63072000, "include_subdomains": True, "preload": True}


def test_include_subdomains_with_a_value_fails(sandbox):
    result = _hsts(sandbox, "max-age=31536000; includeSubDomains=true")

    assert result.status == "fail"
    assert result.summary == (
        "the Strict-Transport-Security header is invalid, so browsers ignore it: "
        "includeSubDomains takes no value (RFC 6797 §6.1.2)"
    )
    # An ignored field sets no policy at all: nothing in the evidence says otherwise.
    assert result.evidence["effective"]["max_age"] is None
    assert result.evidence["effective"]["include_subdomains"] is False


def test_two_header_fields_warn_and_only_the_first_counts(sandbox):
    result = _hsts(sandbox, "max-age=31536000", "max-age=31536000; includeSubDomains")

    assert result.status == "warn"
    assert result.summary == (
        "2 Strict-Transport-Security fields; browsers use only the first "
        "(max-age=31536000, includeSubDomains off)"
    )
    assert result.evidence["fields"] == ["max-age=31536000", "max-age=31536000; includeSubDomains"]
    assert result.evidence["effective"]["include_subdomains"] is False


def test_a_tls_failure_is_an_error_because_browsers_ignore_hsts_then(sandbox):
    result = _hsts(sandbox, "max-age=31536000", certificate="expired")

    assert result.status == "error"
    assert result.summary == "could not test: TLS failed: certificate verify failed: certificate has expired"
    assert result.evidence["error_kind"] == "tls"


# parse_sts, RFC 6797 §6.1


@pytest.mark.parametrize(
    ("value", "max_age", "include_subdomains", "preload"),
    [
        ("max-age=31536000", 31536000, False, False),
        ("max-age=31536000; includeSubDomains; preload", 31536000, True, True),
        ("  max-age = 300 ;includeSubDomains  ", 300, True, False),
        ('max-age="600"', 600, False, False),
        ("max-age=600;;", 600, False, False),  # empty directives are allowed by the grammar
        ("max-age=600; unknown=x; future", 600, False, False),  # unknown directives ignored
        ('max-age=600; ext="a;b"', 600, False, False),  # ';' inside a quoted-string
        ("Max-Age=0", 0, False, False),
    ],
)
def test_parse_sts_reads_valid_fields(value, max_age, include_subdomains, preload):
    policy = parse_sts(value)

    assert policy.error is None
    assert policy.max_age_s == max_age
    assert (policy.include_subdomains, policy.preload) == (include_subdomains, preload)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", "the required max-age directive is missing (RFC 6797 §6.1.1)"),
        ("includeSubDomains", "the required max-age directive is missing (RFC 6797 §6.1.1)"),
        ("max-age", "max-age must be a number of seconds, not None (RFC 6797 §6.1.1)"),
        ("max-age=-1", "max-age must be a number of seconds, not '-1' (RFC 6797 §6.1.1)"),
        ("max-age=1.5", "max-age must be a number of seconds, not '1.5' (RFC 6797 §6.1.1)"),
        ('max-age="²"', "max-age must be a number of seconds, not '²' (RFC 6797 §6.1.1)"),
        ("max-age=31536000, max-age=31536000",
         "value '31536000, max-age=31536000' of 'max-age' is neither a token nor a quoted-string"),
        ("max-age=1; MAX-AGE=2", "directive 'MAX-AGE' appears more than once (RFC 6797 §6.1 rule 2)"),
        ("max-age=1; preload; preload", "directive 'preload' appears more than once (RFC 6797 §6.1 rule 2)"),
        ('max-age="1', "value '\"1' of 'max-age' is neither a token nor a quoted-string"),
        ("max-age=1; include subdomains", "'include subdomains' is not a valid directive"),
        ("max-age=1; includeSubDomains=",
         "value '' of 'includeSubDomains' is neither a token nor a quoted-string"),
        ('max-age=1; includeSubDomains=""', "includeSubDomains takes no value (RFC 6797 §6.1.2)"),
    ],
)
def test_parse_sts_rejects_invalid_fields_whole(value, error):
    policy = parse_sts(value)

    assert policy.error == error
    assert (policy.max_age_s, policy.include_subdomains, policy.preload) == (None, False, False)


def test_one_year_is_365_days_of_seconds():
    assert ONE_YEAR_S == 365 * 86400
