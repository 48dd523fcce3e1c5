"""The smoke test run after each recorded deploy: does the release still answer, can a member
sign in, does one authenticated API route work? Plain Python (no Django); every request goes
through the audit's ``Net`` (the outbound policy, our resolver, capped bodies).

Three steps, each ``{name, status, detail, elapsed_ms}`` with ``status`` ``pass``, ``fail``
(the release answered wrongly) or ``error`` (could not be tried: no test account, no login
endpoint, the network failed). The run's status is the worst step's: ``fail`` over ``error``
over ``pass``.

- ``homepage``: the homepage endpoint (else ``https://<preferred host>/``), redirects followed
  on the same site (the apex or a subdomain of it); pass when the last hop answers 2xx.
- ``login``: the project's first test account, logged in by ``checks.engine.net.login.log_in``
  (the same login stage 4 uses). ``form``: GET the login endpoint (unreachable: ``error``), then
  the form POST; pass on 2xx/3xx with a session cookie set. ``cookie`` / ``bearer``: the
  credential is sent to the authenticated route; pass on 2xx.
- ``api``: the first ``api`` endpoint sent with GET (else the first personal one: feed,
  membership, profile); pass on 2xx with the credential. It is also asked without one; a
  401/403/redirect there proves the route really needs the login, a 2xx is noted in the detail
  (the smoke test proves the release works; ``http.*`` checks judge the security).

A smoke test sends no writes but the login POST: an endpoint declared with another method is
not tried.

The test account's credential (the form's password, the cookie, the token) is sent only over
``https`` and only to a host of the project: its apex, a subdomain of it, or the host of one of
its declared endpoints (``url_host_problem``). Another URL — an environment URL pointing
elsewhere, an endpoint on plain ``http`` — makes the step ``error`` with the reason, and nothing
is sent there: a credential in clear can be read on the way (RFC 9110 §17.16), and a host outside
the project is not the client's to receive its logins.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from urllib.parse import urlsplit, urlunsplit

from checks.engine.hostnames import InvalidHostname, normalize_hostname
from checks.engine.net.http import HttpExchange
from checks.engine.net.login import Credentials, LoginFailed, log_in
from checks.engine.net.session import Net
from checks.engine.spec import EndpointSpec, ProjectSpec, TestAccount

STEP_STATUSES = ("pass", "fail", "error")
MAX_DETAIL_CHARS = 300
NO_ACCOUNT = "no test account: add one on the project's Test accounts page"
NO_LOGIN_ENDPOINT = "the project declares no login endpoint to post the form to"


@dataclass(frozen=True)
class SmokeStep:
    """One step: ``name`` (``homepage``, ``login``, ``api``), ``status`` (``STEP_STATUSES``),
    a one-line ``detail`` for people and ``elapsed_ms`` spent on it."""

    name: str
    status: str
    detail: str
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict:
        data = asdict(self)
        data["detail"] = self.detail[:MAX_DETAIL_CHARS]
        data["elapsed_ms"] = round(self.elapsed_ms, 1)
        return data


@dataclass(frozen=True)
class SmokeResult:
    """The smoke test's ``status`` (the worst of its ``steps``) and the steps in order."""

    status: str
    steps: tuple[SmokeStep, ...]

    def as_list(self) -> list[dict]:
        """The steps as JSON-ready dicts (what ``DeployEvent.smoke_steps`` stores)."""
        return [s.as_dict() for s in self.steps]


def smoke_test(net: Net, project: ProjectSpec, *, base_url: str = "") -> SmokeResult:
    """Run the three steps against ``project``'s endpoints; with ``base_url``
    (``https://staging.example.com``) each endpoint's path is tried on that origin instead (a
    deploy to another environment). Never raises for what the target does."""
    endpoints = tuple(_rebased(e, base_url) for e in project.endpoints) if base_url else project.endpoints
    # The login runs on the rebased endpoints: a staging deploy signs in on staging.
    site = replace(project, endpoints=endpoints) if base_url else project
    homepage = _homepage_url(project, endpoints, base_url)
    api = _api_endpoint(endpoints)
    login = next((e for e in endpoints if e.kind == "login"), None)
    account = project.accounts[0] if project.accounts else None
    steps = [_homepage_step(net, homepage, project.apex)]
    declared = [e.host for e in project.endpoints]  # the project's own, before any rebasing
    login_step, credential = _login_step(net, site, account, login, api, declared)
    steps.append(login_step)
    steps.append(_api_step(net, api, credential, project.apex, declared))
    return SmokeResult(status=_worst(s.status for s in steps), steps=tuple(steps))


def url_host_problem(host: str, apex: str, declared_hosts: Iterable[str] = ()) -> str | None:
    """Why ``host`` is not one of the project's hosts, or ``None`` when it is: ``apex``
    (``example.com``), a subdomain of it, or one of ``declared_hosts`` (its endpoints' hosts).
    Hosts are compared as lower-case A-labels (``normalize_hostname``)."""
    try:
        name = normalize_hostname(host)
    except InvalidHostname as exc:
        return f"the host is not a host name: {exc}"
    try:
        apex = normalize_hostname(apex)
    except InvalidHostname:
        return "the project's apex is not a host name: fix it on the project's page"
    own = {apex}
    for declared in declared_hosts:
        try:
            own.add(normalize_hostname(declared))
        except InvalidHostname:
            continue
    if name in own or name.endswith("." + apex):
        return None
    return f"{name} is not one of the project's hosts ({apex}, its subdomains or an endpoint's host)"


def _credential_refusal(url: str, apex: str, declared: Iterable[str]) -> str | None:
    """Why the test account's credential must not be sent to ``url`` (a detail for the step),
    or ``None``."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        return f"{url} not tried: the test account's credential is sent over https only"
    problem = url_host_problem(parts.hostname or "", apex, declared)
    if problem:
        return f"{url} not tried: {problem}, and the test account's credential is sent nowhere else"
    return None


def _worst(statuses) -> str:
    present = set(statuses)
    return next(s for s in ("fail", "error", "pass") if s in present)


def _rebased(endpoint: EndpointSpec, base_url: str) -> EndpointSpec:
    base, own = urlsplit(base_url), urlsplit(endpoint.url)
    url = urlunsplit((base.scheme, base.netloc, own.path or "/", own.query, ""))
    return EndpointSpec(kind=endpoint.kind, url=url, method=endpoint.method, personal=endpoint.personal)


def _homepage_url(project: ProjectSpec, endpoints, base_url: str) -> str:
    found = next((e.url for e in endpoints if e.kind == "homepage"), None)
    if found:
        return found
    return base_url.rstrip("/") + "/" if base_url else f"https://{project.preferred_host}/"


def _api_endpoint(endpoints) -> EndpointSpec | None:
    """The first GET ``api`` endpoint, else the first GET personal one."""
    readable = [e for e in endpoints if e.method in ("GET", "HEAD")]
    return (next((e for e in readable if e.kind == "api"), None)
            or next((e for e in readable if e.is_personal), None))


def _same_site(url: str, apex: str, start: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    start_host = (urlsplit(start).hostname or "").lower()
    return host in (start_host, apex) or host.endswith("." + apex)


def _homepage_step(net: Net, url: str, apex: str) -> SmokeStep:
    started = time.monotonic()
    chain = net.http.follow(url)
    ms = (time.monotonic() - started) * 1000
    last = chain.final
    redirects = [h.location for h in chain.hops if h.is_redirect]
    offsite = next((target for target in redirects if not _same_site(target, apex, url)), None)
    if offsite:
        return SmokeStep("homepage", "fail", f"{url} redirects off the site, to {offsite}", ms)
    if chain.end == "error":
        return SmokeStep("homepage", "error", f"{last.url} could not be fetched: {last.error}", ms)
    if chain.end != "final":
        return SmokeStep("homepage", "fail", f"{url} never settles: redirect chain ended as {chain.end}", ms)
    n = chain.redirects
    hops = f" after {n} redirect{'s' if n != 1 else ''}" if n else ""
    if last.status is not None and 200 <= last.status < 300:
        return SmokeStep("homepage", "pass", f"{last.url} answered {last.status}{hops}", ms)
    return SmokeStep("homepage", "fail", f"{last.url} answered {last.status}{hops}", ms)


def _login_step(net: Net, project: ProjectSpec, account: TestAccount | None, login: EndpointSpec | None,
                api: EndpointSpec | None, declared: list[str]) -> tuple[SmokeStep, Credentials | None]:
    """The ``login`` step and the credentials it earned (``None`` when it did not pass). The
    login itself is ``checks.engine.net.login.log_in``, the one stage 4 uses; what makes it
    impossible to try (no account, no secret, no endpoint, the login page unreachable) is an
    ``error`` here, a refusal by the app a ``fail``."""
    if account is None:
        return SmokeStep("login", "error", NO_ACCOUNT), None
    if account.problem:
        return SmokeStep("login", "error", f"test account {account.label}: {account.problem}"), None
    if not account.secret:
        return SmokeStep("login", "error", f"test account {account.label} has no secret stored"), None
    if account.login == "cookie" and not account.cookie_name:
        return SmokeStep("login", "error", f"test account {account.label} names no cookie"), None
    if account.login == "form":
        if login is not None and (refusal := _credential_refusal(login.url, project.apex, declared)):
            return SmokeStep("login", "error", refusal), None
        return _form_step(net, project, account, login)
    if api is None:
        detail = (f"the {account.login} credential of {account.label} needs an authenticated route to try "
                  "it on: declare a GET api endpoint")
        return SmokeStep("login", "error", detail), None
    if refusal := _credential_refusal(api.url, project.apex, declared):
        return SmokeStep("login", "error", refusal), None
    credentials = log_in(net, project, account)  # cookie / bearer: assembled, nothing sent
    started = time.monotonic()
    answer = net.http.fetch(api.url, headers=credentials.headers)
    ms = _since(started)
    what = f"the {account.login} credential of {account.label}"
    if answer.error:
        return SmokeStep("login", "error", f"{api.url} could not be fetched: {answer.error}", ms), None
    if 200 <= (answer.status or 0) < 300:
        detail = f"{what} is accepted: {api.url} answered {answer.status}"
        return SmokeStep("login", "pass", detail, ms), credentials
    return SmokeStep("login", "fail", f"{what} is refused: {api.url} answered {answer.status}", ms), None


def _form_step(net: Net, project: ProjectSpec, account: TestAccount,
               login: EndpointSpec | None) -> tuple[SmokeStep, Credentials | None]:
    if login is None:
        return SmokeStep("login", "error", NO_LOGIN_ENDPOINT), None
    started = time.monotonic()
    # The login page first, as a browser would: unreachable means "could not try", not "refused".
    page = net.http.fetch(login.url)
    if page.error:
        return SmokeStep("login", "error", f"{login.url} could not be fetched: {page.error}",
                         _since(started)), None
    try:
        credentials = log_in(net, project, account)
    except LoginFailed as exc:
        return SmokeStep("login", "fail", str(exc), _since(started)), None
    who = f"{account.label} ({account.username})" if account.username else account.label
    detail = f"signed in as {who}: session cookies {', '.join(credentials.cookie_names)}"
    return SmokeStep("login", "pass", detail, _since(started)), credentials


def _since(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _api_step(net: Net, api: EndpointSpec | None, credential: Credentials | None, apex: str,
              declared: list[str]) -> SmokeStep:
    if api is None:
        return SmokeStep("api", "error", "the project declares no GET api or personal endpoint to try")
    if credential is None:
        return SmokeStep("api", "error", f"{api.url} not tried: the login step did not succeed")
    if refusal := _credential_refusal(api.url, apex, declared):
        return SmokeStep("api", "error", refusal)
    started = time.monotonic()
    answer = net.http.fetch(api.url, headers=credential.headers)
    anonymous = net.http.fetch(api.url)
    ms = _since(started)
    if answer.error:
        return SmokeStep("api", "error", f"{api.url} could not be fetched: {answer.error}", ms)
    if not 200 <= (answer.status or 0) < 300:
        return SmokeStep("api", "fail", f"{api.url} answered {answer.status} to the test account", ms)
    return SmokeStep("api", "pass", f"{api.url} answered {answer.status} to the test account; "
                                    f"{_anonymous_words(anonymous)}", ms)


def _anonymous_words(anonymous: HttpExchange) -> str:
    if anonymous.error:
        return f"without a login it could not be fetched ({anonymous.error_kind})"
    if anonymous.status in (401, 403) or anonymous.is_redirect:
        return f"{anonymous.status} without a login, so the route needs one"
    return f"{anonymous.status} without a login too: the route may not need one"
