"""Who is calling the API: an agency's API key (``Authorization: Bearer lr_…``) or a logged-in
person's session (CSRF enforced on writes, as for the pages).

A request with a key runs as the key's creator (``request.user``, who must still be staff of
the key's agency) with the key as ``request.auth``; views then see only the key's agency.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from launchready.api.keys import key_lookup, key_touch
from projects.models import ApiKey

BAD_KEY = "Invalid, revoked or orphaned API key."


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <key>`` (RFC 6750 §2.1). Another scheme (or none) is left to
    the next authenticator; a Bearer credential that does not name a working key is refused
    with 401 and ``WWW-Authenticate: Bearer`` (RFC 6750 §3)."""

    keyword = "Bearer"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Write the header as: Authorization: Bearer <key>.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(BAD_KEY) from None
        row = key_lookup(key)
        if row is None:
            raise exceptions.AuthenticationFailed(BAD_KEY)
        key_touch(row)
        return row.created_by, row

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication (CSRF checked on unsafe methods); named here so the
    schema describes it as the panel's session cookie."""


def key_of(request) -> ApiKey | None:
    """The API key the request was made with, ``None`` for a session."""
    return request.auth if isinstance(request.auth, ApiKey) else None


def agency_scope(request) -> int | None:
    """The one agency a key-made request may see (its key's); ``None`` for a session (every
    agency its user is staff of)."""
    key = key_of(request)
    return key.agency_id if key else None


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http", "scheme": "bearer", "bearerFormat": "lr_<43 characters>",
            "description": "An agency's API key, made by an owner on the API keys page.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = CsrfSessionAuthentication
    name = "session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME,
                "description": "A logged-in staff member's session; writes need the CSRF token."}
