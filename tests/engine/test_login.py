"""checks.engine.net.login: form, cookie and bearer logins against a real HTTPS host."""

from __future__ import annotations

import pytest

from checks.engine.net.login import Credentials, LoginFailed, log_in
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
