"""Logging in to the client's app with a test account: what stage 4's probes of personal
endpoints, the cross-account cache test and the deploy smoke test send on each request.

Three ways, as ``TestAccount.login`` says: ``form`` loads the login page, posts its form with
the page's hidden fields (the CSRF token) and cookies, and keeps the cookies the answer sets
(RFC 6265 §5.2, read by the stdlib's ``http.cookies``); ``cookie`` sends a session cookie the
agency copied from a browser; ``bearer`` sends ``Authorization: Bearer`` (RFC 6750 §2.1).
The secret never appears in a ``Credentials``' repr or in an error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlencode, urlsplit

import lxml.etree
import lxml.html

from checks.engine.net.session import Net
from checks.engine.spec import EndpointSpec, ProjectSpec, TestAccount

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_PAGE_BYTES = 512 * 1024  # a login page's form is near its top; parse no more than this
_PARSER = lxml.html.HTMLParser(encoding="utf-8", recover=True, no_network=True, huge_tree=False)


class LoginFailed(Exception):
    """The account could not log in; the message says why (never the secret)."""


@dataclass(frozen=True)
class Credentials:
    """What to send to be ``account`` (its label): extra request ``headers`` (``Cookie``
    and/or ``Authorization``: the login's cookies with the login page's, such as its CSRF
    cookie), kept out of ``repr``; ``cookie_names``, the session cookies the login itself
    set (names only, for evidence)."""

    account: str
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    cookie_names: tuple[str, ...] = ()

    @property
    def cookie_values(self) -> tuple[str, ...]:
        """The session cookies' values (to spot one account's session in another's answer);
        the login page's own cookies (a CSRF cookie every visitor may share) are not among
        them."""
        values: list[str] = []
        for name, value in self.headers:
            if name == "Cookie":
                pairs = (pair.partition("=") for pair in value.split("; "))
                values += [v for k, _, v in pairs if k in self.cookie_names]
        return tuple(v for v in values if v)


def login_endpoint(project: ProjectSpec) -> EndpointSpec | None:
    """The project's first endpoint of kind ``login``, or ``None``."""
    return next((e for e in project.endpoints if e.kind == "login"), None)


def log_in(net: Net, project: ProjectSpec, account: TestAccount) -> Credentials:
    """Credentials for ``account``: a form login is sent now (a GET of the project's ``login``
    endpoint for its form's hidden fields and cookies, then one POST, redirects not
    followed); cookie and bearer logins are only assembled.
    Raises ``LoginFailed`` when the account has a ``problem``, lacks what its kind needs, or
    the form login is refused (a status other than 2xx/3xx, or no cookie set).

    Once per audit: the stage 4 checks and the smoke test each need the same session, and a
    form login per check and endpoint would send a dozen password checks to the app (and
    look like a brute force to its rate limiter). A refusal is remembered the same way."""
    endpoint = login_endpoint(project)
    key = (account, endpoint.url if endpoint else "")
    return net.logins.get(key, lambda: _log_in(net, project, account))


def _log_in(net: Net, project: ProjectSpec, account: TestAccount) -> Credentials:
    if account.problem:
        raise LoginFailed(f"test account {account.label!r}: {account.problem}")
    if not account.secret:
        raise LoginFailed(f"test account {account.label!r} has no password or token stored")
    if account.login == "bearer":
        token = _header_value(account, account.secret.strip(), "token")
        return Credentials(account.label, (("Authorization", f"Bearer {token}"),))
    if account.login == "cookie":
        if not account.cookie_name:
            raise LoginFailed(f"test account {account.label!r} needs the session cookie's name")
        name = _header_value(account, account.cookie_name.strip(), "cookie name")
        value = _header_value(account, account.secret.strip(), "cookie value")
        return Credentials(account.label, (("Cookie", f"{name}={value}"),), (name,))
    return _form_login(net, project, account)


@dataclass(frozen=True)
class LoginForm:
    """The login POST as a browser would send it: ``url``, the urlencoded ``body`` (the form's
    hidden fields, the user name and the password) and the request ``headers`` (form type,
    Origin, Referer and the login page's cookies); ``page_cookies`` as ``(name, value)``. Its
    body holds the password: kept out of ``repr``."""

    url: str
    body: bytes = field(repr=False)
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    page_cookies: tuple[tuple[str, str], ...] = field(default=(), repr=False)


def login_form(net: Net, project: ProjectSpec, account: TestAccount) -> LoginForm:
    """Load the project's login page and build ``account``'s login POST from it (the stage 4
    probe sends it N times to measure the password check). Raises ``LoginFailed`` when the
    project has no login endpoint."""
    endpoint = login_endpoint(project)
    if endpoint is None:
        raise LoginFailed("no login endpoint: add the app's login URL as an endpoint of kind login")
    # As a browser does: load the form first. Its hidden fields carry the CSRF token (Django's
    # csrfmiddlewaretoken, Rails' authenticity_token, Laravel's _token) and its cookies the
    # token's pair; Django also wants a same-origin Referer on HTTPS (CSRF docs, "How it works").
    page = net.http.fetch(endpoint.url)
    hidden = hidden_fields(page.body) if page.status and 200 <= page.status < 300 else []
    page_cookies = _set_cookies(page.header_fields("set-cookie")) if not page.error else []
    fields = [*hidden, (account.username_field, account.username), (account.password_field, account.secret)]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(endpoint.url))
    headers = [("Content-Type", FORM_TYPE), ("Origin", origin), ("Referer", endpoint.url)]
    if page_cookies:
        headers.append(("Cookie", _cookie_header(page_cookies)))
    return LoginForm(endpoint.url, urlencode(fields).encode(), tuple(headers), tuple(page_cookies))


def _form_login(net: Net, project: ProjectSpec, account: TestAccount) -> Credentials:
    form = login_form(net, project, account)
    exchange = net.http.fetch(form.url, method="POST", body=form.body, headers=form.headers)
    if exchange.error:
        raise LoginFailed(f"the login form at {form.url} did not answer: {exchange.error}")
    if not 200 <= (exchange.status or 0) < 400:
        raise LoginFailed(
            f"the login form at {form.url} refused test account {account.label!r} "
            f"(HTTP {exchange.status})"
        )
    session = _set_cookies(exchange.header_fields("set-cookie"))
    if not session:
        raise LoginFailed(
            f"the login form at {form.url} answered HTTP {exchange.status} but set no cookie "
            f"for test account {account.label!r}: the login did not start a session"
        )
    cookies = dict(form.page_cookies) | dict(session)
    return Credentials(account.label, (("Cookie", _cookie_header(cookies.items())),), tuple(dict(session)))


def hidden_fields(html: bytes) -> list[tuple[str, str]]:
    """``(name, value)`` of the hidden inputs of the page's form that has a password field (or
    of its first form), in order; ``[]`` for a page that is not HTML or has no form."""
    try:
        root = lxml.html.document_fromstring(html[:MAX_PAGE_BYTES], parser=_PARSER)
    except (lxml.etree.ParserError, ValueError):
        return []
    forms = root.xpath("//form")
    form = next((f for f in forms if f.xpath(".//input[@type='password']")), forms[0] if forms else None)
    if form is None:
        return []
    return [(i.get("name"), i.get("value") or "") for i in form.xpath(".//input[@type='hidden'][@name]")]


def _cookie_header(cookies) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies)


def _header_value(account: TestAccount, value: str, what: str) -> str:
    """``value`` when it can be sent in a header: a token or cookie is one run of visible
    characters (RFC 6750 §2.1 b64token, RFC 6265 §4.1.1 cookie-octet); a line break or any
    other control character or space inside is refused, never sent or quoted."""
    if not value or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise LoginFailed(
            f"test account {account.label!r}: its {what} holds a space, line break or control "
            "character, which cannot be sent in an HTTP header: enter it again"
        )
    return value


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
