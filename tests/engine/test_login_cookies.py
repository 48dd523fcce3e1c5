"""http.login_cookies against a real login page, and the per-field Set-Cookie parser on its own."""

from __future__ import annotations

import datetime
import json

import pytest

from checks.engine.checks.headers import (
    cookie_date,
    is_session_like,
    judge_cookie,
    login_endpoints,
    parse_set_cookie,
)
from checks.engine.spec import ProjectSpec, endpoint_from
from tests.engine.support import route, run_check

LOGIN = "https://app.shop.test/login"


def _cookies(sandbox, *set_cookies: str, status: int = 200, extra: tuple = (), **spec):
    headers = [("Content-Type", "text/html"), *extra, *[("Set-Cookie", c) for c in set_cookies]]
    box, net = sandbox({"hosts": {"app.shop.test": {"https": [route("/login", status, *headers)], **spec}}})
    return run_check(net, "http.login_cookies", LOGIN, apex="shop.test")


def test_secure_httponly_samesite_cookies_pass(sandbox):
    result = _cookies(sandbox, "sessionid=s3cr3t; Path=/; Secure; HttpOnly; SameSite=Lax",
                      "csrftoken=abc; Path=/; Secure; SameSite=Strict")

    assert result.status == "pass"
    assert result.summary == (
        "2 cookies from https://app.shop.test/login, all Secure with SameSite, "
        "session cookies HttpOnly: sessionid, csrftoken"
    )
    assert result.evidence == {"url": LOGIN, "status": 200, "cookies": [
        {"name": "sessionid", "attributes": "Path=/; Secure; HttpOnly; SameSite=Lax", "verdict": "pass",
         "problems": []},
        {"name": "csrftoken", "attributes": "Path=/; Secure; SameSite=Strict", "verdict": "pass",
         "problems": []},
    ]}


def test_a_session_cookie_without_secure_or_httponly_fails(sandbox):
    result = _cookies(sandbox, "sessionid=s3cr3t; Path=/; SameSite=Lax",
                      "csrftoken=abc; Path=/; Secure; SameSite=Lax")

    assert result.status == "fail"
    assert result.summary == (
        "1 of 2 cookies from https://app.shop.test/login is unsafe: sessionid (no Secure, no HttpOnly)"
    )
    assert result.evidence["cookies"][0] == {"name": "sessionid", "attributes": "Path=/; SameSite=Lax",
                                             "verdict": "fail", "problems": ["no Secure", "no HttpOnly"]}
    assert result.remediation == (
        "Give every cookie Secure and SameSite=Lax, and every session cookie HttpOnly: "
        "Set-Cookie: sessionid=…; Path=/; Secure; HttpOnly; SameSite=Lax"
    )


def test_any_cookie_without_secure_fails_even_when_it_is_not_a_session(sandbox):
    result = _cookies(sandbox, "theme=dark; SameSite=Lax")

    assert result.status == "fail"
    assert result.summary == "1 of 1 cookie from https://app.shop.test/login is unsafe: theme (no Secure)"


def test_a_token_cookie_readable_by_scripts_fails(sandbox):
    result = _cookies(sandbox, "auth_token=t; Secure; SameSite=Lax")

    assert result.status == "fail"
    assert result.evidence["cookies"][0]["problems"] == ["no HttpOnly"]


def test_two_unsafe_cookies_are_both_named(sandbox):
    result = _cookies(sandbox, "sessionid=s; SameSite=Lax", "theme=dark; SameSite=Lax",
                      "csrftoken=c; Secure; SameSite=Lax")

    assert result.status == "fail"
    assert result.summary == (
        "2 of 3 cookies from https://app.shop.test/login are unsafe: "
        "sessionid (no Secure, no HttpOnly), theme (no Secure)"
    )


def test_a_cookie_without_samesite_warns(sandbox):
    result = _cookies(sandbox, "sessionid=s; Secure; HttpOnly", "theme=dark; Secure; SameSite=Lax")

    assert result.status == "warn"
    assert result.summary == (
        "1 of 2 cookies from https://app.shop.test/login lacks a safe SameSite: sessionid (no SameSite)"
    )
    assert result.remediation == "Add SameSite=Lax (or Strict) to every cookie; SameSite=None needs Secure."


def test_an_unknown_samesite_value_counts_as_none_given(sandbox):
    result = _cookies(sandbox, "sessionid=s; Secure; HttpOnly; SameSite=Sometimes")

    assert result.status == "warn"
    assert result.evidence["cookies"][0]["problems"] == ["no SameSite"]


def test_samesite_none_with_secure_passes(sandbox):
    result = _cookies(sandbox, "embed=1; Secure; SameSite=None")

    assert result.status == "pass"


def test_samesite_none_without_secure_fails_for_secure_and_says_why_browsers_drop_it(sandbox):
    result = _cookies(sandbox, "embed=1; SameSite=None")

    assert result.status == "fail"
    assert result.evidence["cookies"][0]["problems"] == ["no Secure", "SameSite=None without Secure"]


def test_an_unknown_flag_does_not_hide_a_cookie(sandbox):
    # http.cookies.SimpleCookie drops this whole field because of "Partitioned".
    result = _cookies(sandbox, "sessionid=s; Secure; SameSite=None; Partitioned")

    assert result.status == "fail"
    assert result.summary == (
        "1 of 1 cookie from https://app.shop.test/login is unsafe: sessionid (no HttpOnly)"
    )


def test_attribute_names_are_case_insensitive(sandbox):
    result = _cookies(sandbox, "SID=s; SECURE; httponly; samesite=strict")

    assert result.status == "pass"


def test_a_page_that_sets_no_cookie_is_skipped(sandbox):
    result = _cookies(sandbox)

    assert result.status == "skipped"
    assert result.summary == "https://app.shop.test/login sets no cookie"
    assert result.evidence == {"url": LOGIN, "status": 200, "cookies": []}


def test_a_redirect_without_cookies_is_skipped_and_names_where_it_goes(sandbox):
    result = _cookies(sandbox, status=302, extra=(("Location", "https://auth.shop.test/"),))

    assert result.status == "skipped"
    assert result.summary == "https://app.shop.test/login sets no cookie (it redirects to https://auth.shop.test/)"


def test_a_field_that_only_deletes_a_cookie_is_not_judged(sandbox):
    result = _cookies(sandbox, "sessionid=; Max-Age=0; Path=/",
                      "old_sid=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/")

    assert result.status == "skipped"
    assert result.summary == "https://app.shop.test/login sets no cookie; it only deletes sessionid, old_sid"
    assert [c["verdict"] for c in result.evidence["cookies"]] == ["deletes", "deletes"]


def test_cookie_values_never_reach_the_evidence(sandbox):
    result = _cookies(sandbox, "sessionid=TOPSECRETVALUE; Secure; HttpOnly; SameSite=Lax")

    assert "TOPSECRETVALUE" not in json.dumps(result.evidence)


def test_a_tls_failure_is_an_error(sandbox):
    result = _cookies(sandbox, "sessionid=s; Secure; HttpOnly; SameSite=Lax", certificate="self_signed")

    assert result.status == "error"
    assert result.summary.startswith("could not test: TLS failed: certificate verify failed")
    assert result.evidence["error_kind"] == "tls"


def test_the_check_runs_on_each_login_endpoint_whatever_its_method():
    project = ProjectSpec(name="p", apex="shop.test", endpoints=(
        endpoint_from("login", "POST", LOGIN), endpoint_from("homepage", "GET", "https://shop.test/"),
        endpoint_from("login", "GET", "https://admin.shop.test/login"),
    ))

    assert login_endpoints(project) == [LOGIN, "https://admin.shop.test/login"]


# The parser and the rules, RFC 6265bis §5.6 / §4.1.2


def test_parse_set_cookie_keeps_attributes_in_order_lowercased_without_the_value():
    cookie = parse_set_cookie("Id=a3fWa; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Secure; Priority=High")

    assert cookie.name == "Id"
    assert cookie.attributes == (("expires", 1445412480), ("secure", None), ("priority", "High"))
    assert cookie.attribute_text == "Expires=Wed, 21 Oct 2015 07:28:00 GMT; Secure; Priority=High"


def test_parse_set_cookie_names_a_nameless_cookie():
    cookie = parse_set_cookie("=x; Secure")

    assert (cookie.name, cookie.has("secure")) == ("(no name)", True)


def test_the_last_samesite_attribute_counts():
    cookie = parse_set_cookie("a=1; Secure; SameSite=Lax; SameSite=Bogus")

    assert judge_cookie(cookie) == ([], ["no SameSite"])


@pytest.mark.parametrize(
    ("name", "session_like"),
    [("sessionid", True), ("PHPSESSID", True), ("connect.sid", True), ("access_token", True),
     ("__Host-auth", True), ("csrftoken", False), ("XSRF-TOKEN", False), ("_csrf_session", False),
     ("theme", False)],
)
def test_session_like_names(name, session_like):
    assert is_session_like(name) is session_like


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thu, 01-Jan-70 00:00:01 GMT", "1970-01-01T00:00:01"),  # two-digit 70-99 is 19xx
        ("Sat, 01 Jan 2000 00:00:00 GMT", "2000-01-01T00:00:00"),
        ("Wed, 21 Oct 37 07:28:00 GMT", "2037-10-21T07:28:00"),  # two-digit 00-69 is 20xx
        ("Sat, 01 Jan 1601 00:00:00 GMT", "1601-01-01T00:00:00"),
        ("Sat, 01 Jan 1600 00:00:00 GMT", None),  # before 1601: not a date, ignored
        ("31 Feb 2030 00:00:00", None),
        ("junk", None),
    ],
)
def test_cookie_dates_are_read_the_way_browsers_read_them(text, expected):
    """RFC 6265bis §5.1.1."""
    value = cookie_date(text)
    if value is None:
        assert expected is None
    else:
        assert datetime.datetime.fromtimestamp(value, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S") == expected


def test_a_cookie_deleted_with_an_old_two_digit_year_date_is_not_judged(sandbox):
    box, net = sandbox({"hosts": {"app.shop.test": {"https": [
        {"path": "/login", "headers": [["Set-Cookie", "old=; Expires=Thu, 01-Jan-70 00:00:01 GMT"]]},
    ]}}})

    result = run_check(net, "http.login_cookies", "https://app.shop.test/login", apex="shop.test")

    assert result.status == "skipped"


def test_an_invalid_max_age_after_max_age_0_does_not_hide_the_deletion(sandbox):
    field = "sessionid=abc; Secure; HttpOnly; SameSite=Lax; Max-Age=0; Max-Age=junk"
    box, net = sandbox({"hosts": {"app.shop.test": {"https": [
        {"path": "/login", "headers": [["Set-Cookie", field]]},
    ]}}})

    result = run_check(net, "http.login_cookies", "https://app.shop.test/login", apex="shop.test")

    assert result.status == "skipped"
