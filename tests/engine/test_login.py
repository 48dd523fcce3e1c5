"""checks.engine.net.login: form, cookie and bearer logins against a real HTTPS host."""

from __future__ import annotations

import pytest

from checks.engine.net.http import UNSENDABLE
from checks.engine.net.login import Credentials, LoginFailed, hidden_fields, log_in
from checks.engine.spec import EndpointSpec, ProjectSpec, TestAccount
from tests.engine.support import route

LOGIN = "https://app.shop.test/login"


def _project(*endpoints: EndpointSpec) -> ProjectSpec:
    endpoints = endpoints or (EndpointSpec("login", LOGIN, "POST"),)
    return ProjectSpec(name="shop", apex="shop.test", endpoints=endpoints)


def _net(sandbox, *routes):
    _, net = sandbox({"hosts": {"app.shop.test": {"https": list(routes)}}})
    return net


def test_a_form_login_keeps_the_session_cookies_it_sets(sandbox):
    net = _net(sandbox, route(
        "/login", 302, ("Location", "/feed"),
        ("Set-Cookie", "session=s3ss10n; Secure; HttpOnly; Path=/"),
        ("Set-Cookie", "csrftoken=abc; Path=/"), ("Set-Cookie", "old=; Max-Age=0"), method="POST",
    ))
    account = TestAccount(label="alice", username="alice@shop.test", secret="pw-alice")

    creds = log_in(net, _project(), account)

    assert creds == Credentials(
        "alice", (("Cookie", "session=s3ss10n; csrftoken=abc"),), ("session", "csrftoken"),
    )
    assert creds.cookie_values == ("s3ss10n", "abc")
    assert "s3ss10n" not in repr(creds)


@pytest.mark.parametrize(("routes", "message"), [
    ([route("/login", 401, method="POST")],
     "the login form at https://app.shop.test/login refused test account 'alice' (HTTP 401)"),
    ([route("/login", 200, method="POST")],
     "the login form at https://app.shop.test/login answered HTTP 200 but set no cookie for test "
     "account 'alice': the login did not start a session"),
])
def test_a_refused_form_login_says_why_without_the_password(sandbox, routes, message):
    net = _net(sandbox, *routes)

    with pytest.raises(LoginFailed) as caught:
        log_in(net, _project(), TestAccount(label="alice", username="a", secret="pw-alice"))

    assert str(caught.value) == message


def test_cookie_and_bearer_logins_are_assembled_without_a_request(sandbox):
    net = _net(sandbox)

    bearer = log_in(net, _project(), TestAccount(label="api", login="bearer", secret="tok"))
    cookie = log_in(net, _project(), TestAccount(label="b", login="cookie", cookie_name="sid", secret="v"))

    assert bearer.headers == (("Authorization", "Bearer tok"),)
    assert cookie.headers == (("Cookie", "sid=v"),)
    assert net.counters()["http_connections"] == 0


@pytest.mark.parametrize(("account", "endpoints", "message"), [
    (TestAccount(label="x", secret=""), None, "test account 'x' has no password or token stored"),
    (TestAccount(label="x", secret="s", problem="cannot be decrypted"), None,
     "test account 'x': cannot be decrypted"),
    (TestAccount(label="x", login="cookie", secret="s"), None,
     "test account 'x' needs the session cookie's name"),
    (TestAccount(label="x", secret="s"), (EndpointSpec("homepage", "https://shop.test/"),),
     "no login endpoint: add the app's login URL as an endpoint of kind login"),
])
def test_an_unusable_account_is_refused_with_the_reason(sandbox, account, endpoints, message):
    net = _net(sandbox)
    project = _project(*endpoints) if endpoints else _project()

    with pytest.raises(LoginFailed) as caught:
        log_in(net, project, account)

    assert str(caught.value) == message


LOGIN_PAGE = b"""<!doctype html><form method=get action=/search><input type=hidden name=q value=x></form>
<form method=post><input type=hidden name=csrfmiddlewaretoken value=T0K3N>
<input name=username><input type=password name=password></form>"""


def test_a_form_login_sends_the_pages_csrf_field_and_cookie_as_a_browser_does(sandbox):
    box, net = sandbox({"hosts": {"app.shop.test": {"https": [
        route("/login", 200, ("Content-Type", "text/html"), ("Set-Cookie", "csrftoken=C00K; Path=/"),
              method="GET", body=LOGIN_PAGE.decode()),
        route("/login", 302, ("Location", "/"), ("Set-Cookie", "sessionid=S; Path=/"), method="POST"),
    ]}}})

    creds = log_in(net, _project(), TestAccount(label="alice", username="a", secret="pw"))

    assert creds.headers == (("Cookie", "csrftoken=C00K; sessionid=S"),)
    assert creds.cookie_names == ("sessionid",)


def test_hidden_fields_come_from_the_form_with_the_password():
    assert hidden_fields(LOGIN_PAGE) == [("csrfmiddlewaretoken", "T0K3N")]
    assert hidden_fields(b"not html at all") == []
    assert hidden_fields(b"") == []


def _members(sandbox, csrf: bool):
    members = {"accounts": {"alice": "pw-alice"}, "csrf": csrf}
    _, net = sandbox({"hosts": {"app.shop.test": {"members": members, "https": [
        route("/me", 200, personal=True, body="hello {member}"),
    ]}}})
    return net


def test_a_login_form_that_checks_csrf_as_django_does_accepts_our_login(sandbox):
    net = _members(sandbox, csrf=True)
    creds = log_in(net, _project(), TestAccount(label="alice", username="alice", secret="pw-alice"))

    me = net.http.fetch("https://app.shop.test/me", headers=creds.headers)

    assert (me.status, me.body) == (200, b"hello alice")
    assert creds.cookie_names == ("session",)


def test_a_post_without_the_pages_token_is_refused_by_that_form(sandbox):
    net = _members(sandbox, csrf=True)

    refused = net.http.fetch(
        "https://app.shop.test/login", method="POST", body=b"username=alice&password=pw-alice",
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
    )

    assert (refused.status, refused.body) == (403, b"CSRF verification failed\n")


@pytest.mark.parametrize(("account", "what"), [
    (TestAccount(label="api", login="bearer", secret="tok\nen"), "token"),
    (TestAccount(label="api", login="bearer", secret="tok en"), "token"),
    (TestAccount(label="api", login="cookie", cookie_name="sid", secret="v\r\nX-Evil: 1"), "cookie value"),
    (TestAccount(label="api", login="cookie", cookie_name="s id", secret="v"), "cookie name"),
])
def test_a_credential_that_cannot_be_a_header_is_refused_without_quoting_it(sandbox, account, what):
    net = _net(sandbox)

    with pytest.raises(LoginFailed) as caught:
        log_in(net, _project(), account)

    assert str(caught.value) == (f"test account 'api': its {what} holds a space, line break or control "
                                 "character, which cannot be sent in an HTTP header: enter it again")


def test_a_token_pasted_with_a_trailing_line_break_is_sent_trimmed(sandbox):
    creds = log_in(_net(sandbox), _project(), TestAccount(label="api", login="bearer", secret="tok\n"))

    assert creds.headers == (("Authorization", "Bearer tok"),)


def test_a_request_with_a_forbidden_header_value_never_quotes_it(sandbox):
    net = _net(sandbox, route("/me", 200))

    exchange = net.http.fetch("https://app.shop.test/me", headers=(("Authorization", "Bearer s3cr3t\n"),))

    assert (exchange.error_kind, exchange.error) == ("protocol", UNSENDABLE)
