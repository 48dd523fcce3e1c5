"""The sandbox's member app: logins, personal routes, and the caching faults stage 4 looks for.

A host with ``members:`` plays a small app with accounts:

    members:
      accounts: {alice: pw-alice, bob: pw-bob}   # username → password
      tokens: {alice: tok-alice}                 # optional: Authorization: Bearer tok-alice
      login_path: /login                         # default
      cookie: session                            # default
      csrf: true                                 # optional: the form needs its CSRF token

``POST login_path`` with the form fields ``username`` and ``password`` answers ``303`` with
``Set-Cookie: <cookie>=<token>`` (a random token per member and sandbox), or ``401``. A route
with ``personal: true`` answers ``401`` without a session or bearer token, and fills
``{member}`` in its body with the member's name. With ``csrf: true`` the login works as
Django's does: ``GET login_path`` serves the form with a hidden ``csrfmiddlewaretoken`` and a
``csrftoken`` cookie, and a POST without both (matching) answers ``403``. Route options that play faults:

- ``shared_cache: true`` — the first answer is kept and served to everyone after it (whoever
  asks) with ``Age`` and ``CF-Cache-Status: HIT`` (the first carries ``CF-Cache-Status: MISS``),
  as a CDN told to cache the path would. The key is the host and the request target, query
  included.
- ``leak_cookie: true`` — every answer sets the session cookie of the first member who asked
  (a cache that stored a ``Set-Cookie``).
- ``compress: gzip`` — the body is gzipped when the request's ``Accept-Encoding`` offers gzip.
- ``body_size: n`` — the body repeated and cut to exactly n bytes (any route, members or not).
"""

from __future__ import annotations

import dataclasses
import gzip
import secrets
import time
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

MEMBERS_KEYS = ("accounts", "tokens", "login_path", "cookie", "csrf")
ROUTE_OPTIONS = ("personal", "shared_cache", "leak_cookie", "compress", "body_size")
MAX_BODY_SIZE = 20_000_000
COMPRESSIONS = ("gzip",)
MAX_LOGIN_BYTES = 64 * 1024


class MembersError(ValueError):
    """A ``members`` section or member route option that is not valid; the message says where."""


@dataclass(frozen=True)
class MembersSpec:
    """A host's accounts (username → password), optional bearer ``tokens`` (username → token),
    the login form's path and the session cookie's name."""

    accounts: dict[str, str] = field(default_factory=dict, repr=False, hash=False)
    tokens: dict[str, str] = field(default_factory=dict, repr=False, hash=False)
    login_path: str = "/login"
    cookie: str = "session"
    csrf: bool = False


def parse_members(value: Any, where: str) -> MembersSpec | None:
    """``members:`` of a host (see the module doc); ``None`` when absent. Raises ``MembersError``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MembersError(f"{where} must be a mapping of {', '.join(MEMBERS_KEYS)}")
    unknown = [str(k) for k in value if k not in MEMBERS_KEYS]
    if unknown:
        raise MembersError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(MEMBERS_KEYS)})")
    accounts, tokens = (_names_to_text(value.get(key), f"{where}.{key}") for key in ("accounts", "tokens"))
    if not accounts:
        raise MembersError(f"{where}.accounts must name at least one member: {{alice: password}}")
    if set(tokens) - set(accounts):
        raise MembersError(f"{where}.tokens: {sorted(set(tokens) - set(accounts))[0]!r} is not an account")
    login_path = str(value.get("login_path") or "/login")
    if not login_path.startswith("/"):
        raise MembersError(f"{where}.login_path must start with '/'")
    cookie = str(value.get("cookie") or "session")
    if not cookie.isidentifier():
        raise MembersError(f"{where}.cookie must be a cookie name (letters, digits, _)")
    csrf = value.get("csrf", False)
    if not isinstance(csrf, bool):
        raise MembersError(f"{where}.csrf must be true or false")
    return MembersSpec(accounts, tokens, login_path, cookie, csrf)


def _names_to_text(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and k and isinstance(v, str) and v
                                              for k, v in value.items()):
        raise MembersError(f"{where} must map member names to text")
    return dict(value)


def route_options(spec: dict, where: str, body: bytes) -> tuple[dict[str, Any], bytes]:
    """The member options of a route as ``Route`` keyword arguments, and its body resized to
    ``body_size`` bytes when given (the body repeated and cut: a large answer without a large
    file). Raises ``MembersError``."""
    options: dict[str, Any] = {}
    for key in ("personal", "shared_cache", "leak_cookie"):
        flag = spec.get(key, False)
        if not isinstance(flag, bool):
            raise MembersError(f"{where}.{key} must be true or false")
        options[key] = flag
    compress = spec.get("compress")
    if compress is not None and compress not in COMPRESSIONS:
        raise MembersError(f"{where}.compress must be one of {', '.join(COMPRESSIONS)}")
    options["compress"] = compress
    size = spec.get("body_size")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_BODY_SIZE:
            raise MembersError(f"{where}.body_size must be a whole number of bytes from 0 to {MAX_BODY_SIZE}")
        unit = body or b" "
        body = (unit * (size // len(unit) + 1))[:size]
    return options, body


def require_members(members: MembersSpec | None, routes: list, where: str) -> None:
    """``personal`` and ``leak_cookie`` routes need the host's ``members``. Raises ``MembersError``."""
    if members is None and any(r.personal or r.leak_cookie for r in routes):
        raise MembersError(f"{where}: a route is personal or leak_cookie, but the host has no members")


class MemberApp:
    """What a web server remembers for its member hosts: the session tokens (random, made at
    start), the shared cache and who first asked a ``leak_cookie`` route."""

    def __init__(self, members: dict[str, MembersSpec]) -> None:
        self.members = members
        self.sessions = {host: {name: secrets.token_hex(16) for name in spec.accounts}
                         for host, spec in members.items()}
        self.csrf_tokens = {host: secrets.token_hex(16) for host in members}
        self._cache: dict[tuple[str, str], tuple[Any, float]] = {}
        self._first: dict[tuple[str, str], str] = {}

    def respond(self, host: str, route, method: str, target: str,
                headers: list[tuple[bytes, bytes]], body: bytes):
        """The ``Route`` to answer with: a login answer, the route as the member sees it, the
        cached copy, or ``route`` unchanged (``None`` stays ``None``: no route)."""
        members = self.members.get(host)
        path = target.split("?", 1)[0]
        if members is not None and method == "POST" and path == members.login_path:
            return self._login(host, members, body, headers)
        if members is not None and members.csrf and method == "GET" and path == members.login_path:
            return self._login_page(host, members)
        if route is None:
            return None
        key = (host, target)
        if route.shared_cache and key in self._cache:
            cached, stored_at = self._cache[key]
            extra = [("Age", str(int(time.monotonic() - stored_at))), ("CF-Cache-Status", "HIT")]
            return _compressed(dataclasses.replace(cached, headers=[*cached.headers, *extra]), headers)
        member = self._member(host, members, headers) if members else None
        if route.personal and member is None:
            return dataclasses.replace(route, status=401, body=b"login required\n",
                                       headers=[("Content-Type", "text/plain")], compress=None)
        if route.personal:
            route = dataclasses.replace(route, body=route.body.replace(b"{member}", member.encode()))
        if route.leak_cookie and members is not None:
            first = self._first.setdefault(key, member or "")
            if first:
                cookie = f"{members.cookie}={self.sessions[host][first]}; Path=/; HttpOnly; Secure"
                route = dataclasses.replace(route, headers=[*route.headers, ("Set-Cookie", cookie)])
        if route.shared_cache:
            self._cache[key] = (route, time.monotonic())
            route = dataclasses.replace(route, headers=[*route.headers, ("CF-Cache-Status", "MISS")])
        return _compressed(route, headers)

    def _login_page(self, host: str, members: MembersSpec):
        from checks.sandbox.scenario import Route

        token = self.csrf_tokens[host]
        page = (f'<!doctype html><form method="post"><input type="hidden" name="csrfmiddlewaretoken" '
                f'value="{token}"><input name="username"><input type="password" name="password"></form>')
        return Route(path=members.login_path, body=page.encode(), headers=[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Set-Cookie", f"csrftoken={token}; Path=/; Secure"),
        ])

    def _login(self, host: str, members: MembersSpec, body: bytes, headers: list[tuple[bytes, bytes]]):
        from checks.sandbox.scenario import Route

        form = parse_qs(body[:MAX_LOGIN_BYTES].decode("utf-8", "replace"))
        if members.csrf and not self._csrf_ok(host, form, headers):
            return Route(path=members.login_path, status=403, body=b"CSRF verification failed\n",
                         headers=[("Content-Type", "text/plain")])
        name = (form.get("username") or [""])[0]
        password = (form.get("password") or [""])[0]
        if not name or members.accounts.get(name) != password:
            return Route(path=members.login_path, status=401, body=b"wrong username or password\n",
                         headers=[("Content-Type", "text/plain")])
        cookie = f"{members.cookie}={self.sessions[host][name]}; Path=/; HttpOnly; Secure; SameSite=Lax"
        return Route(path=members.login_path, status=303, headers=[("Location", "/"), ("Set-Cookie", cookie)])

    def _csrf_ok(self, host: str, form: dict, headers: list[tuple[bytes, bytes]]) -> bool:
        """Django's double submit: the form's token and the ``csrftoken`` cookie both match."""
        token = self.csrf_tokens[host]
        field_ok = (form.get("csrfmiddlewaretoken") or [""])[0] == token
        cookie_ok = any(k.lower() == b"cookie" and f"csrftoken={token}".encode() in v for k, v in headers)
        return field_ok and cookie_ok

    def _member(self, host: str, members: MembersSpec, headers: list[tuple[bytes, bytes]]) -> str | None:
        """The member a request is from: its session cookie, else its bearer token."""
        by_token = {token: name for name, token in self.sessions[host].items()}
        for name, value in headers:
            text = value.decode("latin-1")
            if name.lower() == b"cookie":
                jar = SimpleCookie()
                try:
                    jar.load(text)
                except CookieError:
                    continue
                morsel = jar.get(members.cookie)
                if morsel is not None and morsel.value in by_token:
                    return by_token[morsel.value]
            elif name.lower() == b"authorization" and text.startswith("Bearer "):
                bearer = {token: name for name, token in members.tokens.items()}
                if text[7:].strip() in bearer:
                    return bearer[text[7:].strip()]
        return None


def _compressed(route, headers: list[tuple[bytes, bytes]]):
    """``route`` gzipped when it asks for it and the request's Accept-Encoding offers gzip."""
    if route.compress != "gzip" or not route.body:
        return route
    offered = b",".join(v for k, v in headers if k.lower() == b"accept-encoding").lower()
    if b"gzip" not in offered:
        return route
    extra = [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
    body = gzip.compress(route.body, mtime=0)
    return dataclasses.replace(route, body=body, headers=[*route.headers, *extra])
