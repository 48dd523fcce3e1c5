"""http.security_headers against real HTTPS responses, and the list and CSP parsers on their own."""

from __future__ import annotations

import pytest

from checks.engine.checks.headers import csp_policies, parse_policy, split_list
from tests.engine.support import route, run_check

CSP = "Content-Security-Policy"
GOOD = (
    (CSP, "default-src 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)
ALL_MISSING = [
    {"header": "Content-Security-Policy", "verdict": "missing", "detail": "not sent"},
    {"header": "X-Content-Type-Options: nosniff", "verdict": "missing", "detail": "not sent"},
    {"header": "frame-ancestors or X-Frame-Options", "verdict": "missing",
     "detail": "neither CSP frame-ancestors nor X-Frame-Options"},
    {"header": "Referrer-Policy", "verdict": "missing", "detail": "not sent"},
]


def _headers(sandbox, *headers: tuple[str, str], **spec):
    box, net = sandbox({"hosts": {"www.shop.test": {"https": [route("/*", 200, *headers)], **spec}}})
    return run_check(net, "http.security_headers", "www.shop.test")


def _verdict(result, header: str) -> dict:
    return next(v for v in result.evidence["verdicts"] if v["header"] == header)


def test_all_four_protections_pass(sandbox):
    result = _headers(sandbox, *GOOD)

    assert result.status == "pass"
    assert result.summary == (
        "Content-Security-Policy: default-src, frame-ancestors; X-Content-Type-Options: nosniff; "
        "frame-ancestors 'none'; Referrer-Policy: strict-origin-when-cross-origin"
    )
    assert result.evidence["url"] == "https://www.shop.test/"
    assert result.evidence["status"] == 200
    assert result.evidence["fields"] == [list(h) for h in GOOD]
    assert [v["verdict"] for v in result.evidence["verdicts"]] == ["ok", "ok", "ok", "ok"]


def test_a_page_without_any_warns_and_names_all_four(sandbox):
    result = _headers(sandbox, ("Content-Type", "text/html"))

    assert result.status == "warn"
    assert result.summary == (
        "https://www.shop.test/ lacks Content-Security-Policy, X-Content-Type-Options: nosniff, "
        "frame-ancestors or X-Frame-Options, Referrer-Policy"
    )
    assert result.evidence == {"url": "https://www.shop.test/", "status": 200, "fields": [],
                               "verdicts": ALL_MISSING}
    assert result.remediation == (
        "Send on every page of www.shop.test: Content-Security-Policy (try it first as "
        "Content-Security-Policy-Report-Only: default-src 'self'); X-Content-Type-Options: nosniff; "
        "X-Frame-Options: DENY (or CSP frame-ancestors 'self'); "
        "Referrer-Policy: strict-origin-when-cross-origin."
    )


def test_x_frame_options_deny_stands_in_for_frame_ancestors(sandbox):
    result = _headers(sandbox, (CSP, "default-src 'self'"), ("X-Content-Type-Options", "nosniff"),
                      ("X-Frame-Options", "deny"), ("Referrer-Policy", "no-referrer"))

    assert result.status == "pass"
    assert _verdict(result, "frame-ancestors or X-Frame-Options") == {
        "header": "frame-ancestors or X-Frame-Options", "verdict": "ok", "detail": "X-Frame-Options: DENY",
    }


def test_two_different_x_frame_options_fields_count_as_missing(sandbox):
    result = _headers(sandbox, (CSP, "default-src 'self'"), ("X-Content-Type-Options", "nosniff"),
                      ("X-Frame-Options", "DENY"), ("X-Frame-Options", "SAMEORIGIN"),
                      ("Referrer-Policy", "no-referrer"))

    assert result.status == "warn"
    assert result.summary == "https://www.shop.test/ lacks frame-ancestors or X-Frame-Options"
    assert _verdict(result, "frame-ancestors or X-Frame-Options") == {
        "header": "frame-ancestors or X-Frame-Options", "verdict": "invalid",
        "detail": "X-Frame-Options has 2 different values (DENY, SAMEORIGIN); RFC 7034 §2.1 allows one",
    }
    assert result.evidence["fields"][2:4] == [["X-Frame-Options", "DENY"], ["X-Frame-Options", "SAMEORIGIN"]]


def test_the_same_x_frame_options_value_twice_is_still_one_value(sandbox):
    result = _headers(sandbox, (CSP, "default-src 'self'"), ("X-Content-Type-Options", "nosniff"),
                      ("X-Frame-Options", "SAMEORIGIN"), ("X-Frame-Options", "sameorigin"),
                      ("Referrer-Policy", "no-referrer"))

    assert result.status == "pass"
    assert _verdict(result, "frame-ancestors or X-Frame-Options")["detail"] == "X-Frame-Options: SAMEORIGIN"


def test_allow_from_protects_nothing_in_current_browsers(sandbox):
    result = _headers(sandbox, (CSP, "default-src 'self'"), ("X-Content-Type-Options", "nosniff"),
                      ("X-Frame-Options", "ALLOW-FROM https://partner.test/"),
                      ("Referrer-Policy", "no-referrer"))

    assert result.status == "warn"
    assert _verdict(result, "frame-ancestors or X-Frame-Options")["detail"] == (
        "X-Frame-Options 'ALLOW-FROM https://partner.test/' protects nothing: "
        "only DENY and SAMEORIGIN work (ALLOW-FROM is obsolete)"
    )


def test_only_the_first_x_content_type_options_value_counts(sandbox):
    result = _headers(sandbox, *GOOD[:1], ("X-Content-Type-Options", "sniff"),
                      ("X-Content-Type-Options", "nosniff"), GOOD[2])

    assert result.status == "warn"
    assert result.summary == "https://www.shop.test/ lacks X-Content-Type-Options: nosniff"
    assert _verdict(result, "X-Content-Type-Options: nosniff")["detail"] == (
        "the first value is 'sniff', not nosniff"
    )


def test_a_report_only_policy_does_not_count_as_a_policy(sandbox):
    result = _headers(sandbox, ("Content-Security-Policy-Report-Only", "default-src 'self'"),
                      ("X-Frame-Options", "DENY"), *GOOD[1:])

    assert result.status == "warn"
    assert result.summary == "https://www.shop.test/ lacks Content-Security-Policy"
    assert _verdict(result, CSP) == {"header": CSP, "verdict": "missing",
                                     "detail": "only Content-Security-Policy-Report-Only: it blocks nothing"}


def test_a_policy_with_no_readable_directive_is_invalid(sandbox):
    result = _headers(sandbox, (CSP, "script_src x; ;"), ("X-Frame-Options", "DENY"), *GOOD[1:])

    assert result.status == "warn"
    assert _verdict(result, CSP) == {"header": CSP, "verdict": "invalid",
                                     "detail": "no directive a browser can read (CSP3 §2.2.1)"}


def test_the_last_known_referrer_policy_token_wins_and_unknown_ones_are_ignored(sandbox):
    result = _headers(sandbox, *GOOD[:2], ("Referrer-Policy", "no-referrer, future-policy"),
                      ("Referrer-Policy", "Same-Origin"))

    assert result.status == "pass"
    assert _verdict(result, "Referrer-Policy")["detail"] == "Referrer-Policy: same-origin"


def test_an_unknown_referrer_policy_is_invalid(sandbox):
    result = _headers(sandbox, *GOOD[:2], ("Referrer-Policy", "strict"))

    assert result.status == "warn"
    assert _verdict(result, "Referrer-Policy")["detail"] == "no known policy in 'strict'"


def test_a_redirect_is_skipped_because_it_shows_no_page(sandbox):
    box, net = sandbox({"hosts": {"shop.test": {"https": [route("/*", 301, ("Location", "https://www.shop.test/"))]}}})

    result = run_check(net, "http.security_headers", "shop.test")

    assert result.status == "skipped"
    assert result.summary == "https://shop.test/ redirects to https://www.shop.test/: it shows no page"


def test_a_tls_failure_is_an_error(sandbox):
    result = _headers(sandbox, *GOOD, certificate="expired")

    assert result.status == "error"
    assert result.summary == "could not test: TLS failed: certificate verify failed: certificate has expired"
    assert result.evidence["error_kind"] == "tls"


def test_a_host_missing_from_dns_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})

    result = run_check(net, "http.security_headers", "admin.shop.test")

    assert result.status == "error"
    assert result.evidence["error_kind"] == "dns"


# Parsers: Fetch "get, decode, and split" and CSP3 §2.2.1


@pytest.mark.parametrize(
    ("fields", "values"),
    [
        ([], []),
        (["nosniff"], ["nosniff"]),
        (["DENY", "SAMEORIGIN"], ["DENY", "SAMEORIGIN"]),
        (["a,,b"], ["a", "", "b"]),
        (['a, "b,c"'], ["a", '"b,c"']),
        (['"x\\",y", z'], ['"x\\",y"', "z"]),
        ([" \tno-referrer ,origin"], ["no-referrer", "origin"]),
    ],
)
def test_split_list_combines_fields_and_splits_outside_quotes(fields, values):
    assert split_list(fields) == values


def test_parse_policy_lowercases_names_keeps_the_first_duplicate_and_drops_junk():
    assert parse_policy("Default-Src 'self';  img-src  https: ; default-src *; bad_name x; ;") == {
        "default-src": ["'self'"], "img-src": ["https:"],
    }


def test_csp_policies_splits_fields_and_commas_into_separate_policies():
    assert csp_policies(["default-src 'self', frame-ancestors 'none'", "upgrade-insecure-requests"]) == [
        {"default-src": ["'self'"]}, {"frame-ancestors": ["'none'"]}, {"upgrade-insecure-requests": []},
    ]
    assert csp_policies([" ; "]) == []
