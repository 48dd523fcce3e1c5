"""Every page of the panel carries its own launch bar: HSTS (on HTTPS), a Content-Security-
Policy that allows scripts and <style> elements only with the response's nonce and no framing,
X-Content-Type-Options, Referrer-Policy and X-Frame-Options. Every URL pattern is walked (its
integer arguments filled with agency A's objects), as a signed-in owner, a superuser for the
admin, and an anonymous visitor; every HTML answer is checked for inline code without the nonce.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from checks.models import AlertChannel, Monitor
from projects import deploys, invites
from projects.findings import findings_sync
from projects.models import Finding, Invite, TestAccount

pytestmark = pytest.mark.django_db

HSTS = "max-age=31536000; includeSubDomains"
NONCE = "'nonce-…'"  # stands for the response's own nonce in POLICY
POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'", NONCE],
    "style-src": ["'self'", NONCE],
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
NONCE_SOURCE = re.compile(r"'nonce-([A-Za-z0-9+/]{22}==)'")


def policy_of(header: str) -> tuple[dict[str, list[str]], str | None]:
    """The policy as ``{directive: [sources]}`` (the response's nonce replaced by ``NONCE``)
    and that nonce (None when the page used none: the directive then lists no nonce)."""
    nonces = set(NONCE_SOURCE.findall(header))
    assert len(nonces) <= 1, header
    directives = {}
    for part in header.split("; "):
        name, *sources = part.split(" ")
        directives[name] = [NONCE if NONCE_SOURCE.fullmatch(s) else s for s in sources]
    return directives, next(iter(nonces), None)


def routes(patterns=None, prefix: str = "", namespace: str | None = None):
    """``(route, view name)`` of every URL pattern, includes walked."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace
            ns = f"{namespace}:{inner}" if namespace and inner else inner or namespace
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or ""
            yield prefix + str(pattern.pattern), f"{namespace}:{name}" if namespace else name


def fill(route: str, ids: dict[str, int]) -> str:
    """The route as a path: ``<int:project_id>`` → agency A's project's id (or a missing id,
    which answers 404: headers still apply), string arguments → ``x``."""
    path = re.sub(r"<int:(\w+)>", lambda m: str(ids.get(m.group(1), 999_999)), route)
    path = re.sub(r"<(?:str:|slug:|path:)?\w+>", "x", path)
    path = path.replace("^", "").replace("$", "")
    return "/" + path


class InlineCode(HTMLParser):
    """Collects <script>/<style> elements' nonces (None: no nonce) and inline event handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, str | None, bool]] = []  # (tag, nonce, has src)
        self.handlers: list[str] = []
        self.javascript_urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in ("script", "style"):
            self.elements.append((tag, attributes.get("nonce"), "src" in attributes))
        self.handlers += [f"<{tag} {name}>" for name, _ in attrs if name.startswith("on")]
        self.javascript_urls += [value for name, value in attrs
                                 if name in ("href", "src", "action") and (value or "").strip().lower()
                                 .startswith("javascript:")]


def assert_launch_bar(response, url: str) -> None:
    assert response.status_code < 500, url
    assert response["Strict-Transport-Security"] == HSTS, url
    assert response["X-Content-Type-Options"] == "nosniff", url
    assert response["Referrer-Policy"] == "same-origin", url
    assert response["X-Frame-Options"] == "DENY", url
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", url
    policy, nonce = policy_of(response["Content-Security-Policy"])
    expected = POLICY if nonce else {k: [s for s in v if s != NONCE] for k, v in POLICY.items()}
    assert policy == expected, url
    if not response.get("Content-Type", "").startswith("text/html") or response.streaming:
        return
    html = response.content.decode()
    parser = InlineCode()
    parser.feed(html)
    inline = [(tag, got) for tag, got, has_src in parser.elements if not has_src]
    assert all(got == nonce for _, got in inline), (url, inline)
    assert parser.handlers == [], (url, parser.handlers)
    assert parser.javascript_urls == [], (url, parser.javascript_urls)


@pytest.fixture
def https(settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = False


@pytest.fixture
def ids(world, stored) -> dict[str, int]:
    side = world.a
    findings_sync(stored["a"].done)
    invites.invite_create(agency=side.agency, email="new@alpha.example.com", projects=[side.project],
                          created_by=side.consultant)
    monitor = Monitor.objects.create(project=side.project, name="Home", url="https://www.alpha.example.com/")
    channel = AlertChannel.objects.create(project=side.project, kind="email", name="Ops",
                                          email="ops@example.com")
    deploys.account_create(side.project, label="alice", login="bearer", secret="tok-alice")
    deploys.hook_rotate(side.project)  # the deploys page then shows the rotate form's confirm
    return {
        "project_id": side.project.pk, "run_id": stored["a"].done.pk, "document_id": stored["a"].document.pk,
        "finding_id": Finding.objects.get(project=side.project).pk, "monitor_id": monitor.pk,
        "channel_id": channel.pk, "account_id": TestAccount.objects.get(project=side.project).pk,
        "agency_id": side.agency.pk, "invite_id": Invite.objects.filter(agency=side.agency).first().pk,
    }


def test_every_page_a_signed_in_owner_opens_carries_the_launch_bar(client, world, ids, https):
    client.force_login(world.a.owner)
    walked = 0
    for route, name in routes():
        if name.startswith("admin:"):
            continue
        url = fill(route, ids)
        assert_launch_bar(client.get(url, secure=True), url)
        walked += 1
    assert walked > 60


def test_every_admin_page_without_an_object_carries_the_launch_bar(client, django_user_model, https):
    admin = django_user_model.objects.create_superuser(username="root", password="pw-123456789")
    client.force_login(admin)
    for route, name in routes():
        if name.startswith("admin:") and "<" not in route:
            url = fill(route, {})
            assert_launch_bar(client.get(url, secure=True), url)


def test_every_page_an_anonymous_visitor_opens_carries_the_launch_bar(client, world, ids, https):
    for route, _ in routes():
        url = fill(route, ids)
        assert_launch_bar(client.get(url, secure=True), url)


def test_the_sign_in_pages_answers_carry_it_too(client, world, https, settings):
    settings.AXES_FAILURE_LIMIT = 1
    settings.PASSWORD_RESET_RATE = "1/h"

    locked = client.post("/accounts/login/", {"username": "owner-a", "password": "wrong"}, secure=True)
    client.post("/accounts/password_reset/", {"email": "owner-a@example.com"}, secure=True)
    throttled = client.post("/accounts/password_reset/", {"email": "owner-a@example.com"}, secure=True)

    assert (locked.status_code, throttled.status_code) == (429, 429)
    assert_launch_bar(locked, "locked out")
    assert_launch_bar(throttled, "reset throttled")


def test_a_plain_http_request_gets_no_hsts(client, world, https):
    # RFC 6797 §7.2: HSTS is sent only over secure transport.
    response = client.get("/accounts/login/")

    assert "Strict-Transport-Security" not in response
    assert policy_of(response["Content-Security-Policy"])[0] == POLICY


def test_the_nonce_is_new_on_each_response(client, world):
    first = policy_of(client.get("/accounts/login/")["Content-Security-Policy"])[1]
    second = policy_of(client.get("/accounts/login/")["Content-Security-Policy"])[1]

    assert first is not None
    assert second is not None
    assert first != second


def test_behind_the_proxy_plain_http_is_redirected_and_https_is_not(client, world, https, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    plain = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="http")
    secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")

    assert (plain.status_code, plain["Location"]) == (301, "https://testserver/accounts/login/")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == HSTS
