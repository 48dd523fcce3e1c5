"""Logging in to the client's app with a test account: what stage 4's probes of personal
endpoints, the cross-account cache test and the deploy smoke test send on each request.

Three ways, as ``TestAccount.login`` says: ``form`` posts the login form and keeps the cookies
the answer sets (RFC 6265 §5.2, read by the stdlib's ``http.cookies``); ``cookie`` sends a
session cookie the agency copied from a browser; ``bearer`` sends ``Authorization: Bearer``
(RFC 6750 §2.1). The secret never appears in a ``Credentials``' repr or in an error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlencode, urlsplit

from checks.engine.net.session import Net
from checks.engine.spec import EndpointSpec, ProjectSpec, TestAccount

FORM_TYPE = "application/x-www-form-urlencoded"


class LoginFailed(Exception):
    """The account could not log in; the message says why (never the secret)."""


@dataclass(frozen=True)
class Credentials:
    """What to send to be ``account`` (its label): extra request ``headers`` (``Cookie``
    and/or ``Authorization``), kept out of ``repr``; ``cookie_names``, the session cookies
    the login set (names only, for evidence)."""

    account: str
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    cookie_names: tuple[str, ...] = ()

    @property
    def cookie_values(self) -> tuple[str, ...]:
        """The session cookies' values (to spot one account's session in another's answer)."""
        values: list[str] = []
        for name, value in self.headers:
            if name == "Cookie":
                values += [pair.partition("=")[2] for pair in value.split("; ")]
        return tuple(v for v in values if v)


def login_endpoint(project: ProjectSpec) -> EndpointSpec | None:
    """The project's first endpoint of kind ``login``, or ``None``."""
    return next((e for e in project.endpoints if e.kind == "login"), None)


def log_in(net: Net, project: ProjectSpec, account: TestAccount) -> Credentials:
    """Credentials for ``account``: a form login is sent now (one POST to the project's
    ``login`` endpoint, redirects not followed); cookie and bearer logins are only assembled.
    Raises ``LoginFailed`` when the account has a ``problem``, lacks what its kind needs, or
    the form login is refused (a status other than 2xx/3xx, or no cookie set)."""
    if account.problem:
        raise LoginFailed(f"test account {account.label!r}: {account.problem}")
    if not account.secret:
        raise LoginFailed(f"test account {account.label!r} has no password or token stored")
    if account.login == "bearer":
        return Credentials(account.label, (("Authorization", f"Bearer {account.secret}"),))
    if account.login == "cookie":
        if not account.cookie_name:
            raise LoginFailed(f"test account {account.label!r} needs the session cookie's name")
        return Credentials(
            account.label, (("Cookie", f"{account.cookie_name}={account.secret}"),),
            (account.cookie_name,),
        )
    return _form_login(net, project, account)


def _form_login(net: Net, project: ProjectSpec, account: TestAccount) -> Credentials:
    endpoint = login_endpoint(project)
    if endpoint is None:
        raise LoginFailed("no login endpoint: add the app's login URL as an endpoint of kind login")
    form = urlencode({account.username_field: account.username, account.password_field: account.secret})
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(endpoint.url))
    exchange = net.http.fetch(
        endpoint.url, method="POST", body=form.encode(),
        headers=(("Content-Type", FORM_TYPE), ("Origin", origin)),
    )
    if exchange.error:
        raise LoginFailed(f"the login form at {endpoint.url} did not answer: {exchange.error}")
    if not 200 <= (exchange.status or 0) < 400:
        raise LoginFailed(
            f"the login form at {endpoint.url} refused test account {account.label!r} "
            f"(HTTP {exchange.status})"
        )
    cookies = _set_cookies(exchange.header_fields("set-cookie"))
    if not cookies:
        raise LoginFailed(
            f"the login form at {endpoint.url} answered HTTP {exchange.status} but set no cookie "
            f"for test account {account.label!r}: the login did not start a session"
        )
    header = "; ".join(f"{name}={value}" for name, value in cookies)
    return Credentials(account.label, (("Cookie", header),), tuple(name for name, _ in cookies))


def _set_cookies(fields: list[str]) -> list[tuple[str, str]]:
    """(name, value) of each cookie the fields set, in order; a cookie deleted (empty value or
    ``Max-Age=0``) or unparseable is left out."""
    cookies: dict[str, str] = {}
    for value in fields:
        jar = SimpleCookie()
        try:
            jar.load(value)
        except CookieError:
            continue
        for name, morsel in jar.items():
            if morsel.value and morsel["max-age"] not in ("0", 0):
                cookies[name] = morsel.value
            else:
                cookies.pop(name, None)
    return list(cookies.items())
