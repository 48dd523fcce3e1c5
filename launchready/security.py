"""The panel's own sign-in defences: who the client is (its IP address behind our proxies) and
the lock-out backend (django-axes) that refuses a username after repeated failures from one
address.

Lock-out is keyed on username *and* IP address together (``AXES_LOCKOUT_PARAMETERS``):
- username alone would let anyone lock a consultant out of the panel by failing on purpose
  (a denial of service on a known address);
- IP alone would lock out a whole office behind one NAT after a few typos by different people,
  and would let one address try one password on every account;
- together, an address guessing one account is stopped after ``AXES_FAILURE_LIMIT`` failures
  while the account's owner, elsewhere, still signs in. Guessing spread over many addresses is
  left to the password validators and two-factor sign-in (docs/security.md).
"""

from __future__ import annotations

from axes.backends import AxesBackend
from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from projects import audit_log


def client_ip(request: HttpRequest) -> str:
    """The client's address as a string (``"203.0.113.7"``, ``"2001:db8::1"``): the audit
    log's reading (``projects.audit_log.client_ip``: ``REMOTE_ADDR``, or behind one of
    ``TRUSTED_PROXIES`` the right-most ``X-Forwarded-For`` hop that is not a trusted proxy),
    so the lock-out (axes), the reset throttle (django-ratelimit) and the audit log all name
    the same address. ``"0.0.0.0"`` when there is none to be had: such requests then share
    one lock-out and throttle bucket, the careful side."""
    return audit_log.client_ip(request) or "0.0.0.0"


class LockoutBackend(AxesBackend):
    """django-axes' lock-out check, first in ``AUTHENTICATION_BACKENDS``: a locked-out
    username + address is refused before any password is checked (the refusal is answered by
    ``AxesMiddleware`` with ``lockout_response`` below, status 429).

    A call without a request (``Client.login()`` in tests, ``authenticate()`` in a shell) is
    not a sign-in from the web and has no address to key on: it is let through to the model
    backend instead of raising ``AxesBackendRequestParameterRequired``. Every web sign-in
    (``LoginView``'s form, the admin's) passes its request.

    It never signs anyone in itself (``ModelBackend``, next in the list, checks the password),
    but as axes' ``AxesBackend`` it is a ``ModelBackend`` too: code that logs a user in naming
    the first backend (``projects.views.invite_accept``) gets a session it can read back.
    """

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_response(request: HttpRequest, original_response, credentials: dict | None) -> HttpResponse:
    """The page a locked-out sign-in gets (``AXES_LOCKOUT_CALLABLE``): status 429 (RFC 6585
    §4, Too Many Requests) with ``Retry-After`` in seconds (RFC 9110 §10.2.3), the failure
    limit and the cool-off in minutes. The username shown is the one just typed (escaped)."""
    cooloff_s = int(get_cool_off(request).total_seconds()) if get_cool_off(request) else 0
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": -(-cooloff_s // 60),
    }
    response = render(request, "registration/locked_out.html", context, status=429)
    if cooloff_s:
        response["Retry-After"] = str(cooloff_s)
    return response
