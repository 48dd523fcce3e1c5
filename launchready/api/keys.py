"""API keys: made, hashed, looked up, revoked.

A key is ``lr_`` followed by 43 URL-safe characters (32 random bytes, ``secrets.token_urlsafe``).
Only its SHA-256 is stored: a key carries 256 bits of entropy, so a fast hash is enough (no
salt or key stretching is needed against guessing, unlike passwords) and the lookup is one
indexed equality on the hash, which tells a timing observer nothing about stored keys.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from projects.models import ApiKey, Membership

KEY_PREFIX = "lr_"
SHOWN_PREFIX_CHARS = 10  # "lr_" and 7 characters: enough to tell a handful of keys apart
LAST_USED_RESOLUTION_S = 60  # last_used_at is written at most once a minute per key


@sensitive_variables("key")
def key_sha256(key: str) -> str:
    """The hex SHA-256 of ``key`` (what ``ApiKey.key_sha256`` stores)."""
    return hashlib.sha256(key.encode()).hexdigest()


@sensitive_variables("key")
def key_create(*, agency, name: str, scope: str, created_by) -> tuple[ApiKey, str]:
    """A new key of ``agency`` named ``name`` with ``scope`` (``read`` or ``write``).

    Returns ``(row, key)``: ``key`` in full is shown once and never stored. Raises
    ``ValueError`` for an unknown scope or an empty name.
    """
    if scope not in ApiKey.Scope.values:
        raise ValueError(f"no such scope: {scope!r}")
    name = " ".join(name.split())
    if not name:
        raise ValueError("a key needs a name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey.objects.create(
        agency=agency, name=name[:100], scope=scope, created_by=created_by,
        prefix=key[:SHOWN_PREFIX_CHARS], key_sha256=key_sha256(key),
    )
    return row, key


@sensitive_variables("key")
def key_lookup(key: str) -> ApiKey | None:
    """The working key ``key`` names, or ``None``: unknown, revoked, or its creator is no
    longer owner or consultant of its agency (a removed member's keys stop at once). One query.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    creator_is_staff = Membership.objects.filter(
        user_id=OuterRef("created_by_id"), agency_id=OuterRef("agency_id"), role__in=Membership.STAFF_ROLES,
    )
    row = (
        ApiKey.objects.select_related("agency", "created_by")
        .filter(key_sha256=key_sha256(key), revoked_at__isnull=True, created_by__is_active=True)
        .filter(Exists(creator_is_staff))
        .first()
    )
    # The row was found by its hash; comparing again in constant time costs nothing.
    if row is None or not secrets.compare_digest(row.key_sha256, key_sha256(key)):
        return None
    return row


def key_touch(row: ApiKey) -> None:
    """Note that ``row`` was used now, at most once per ``LAST_USED_RESOLUTION_S`` (a
    conditional UPDATE: parallel requests write it once)."""
    now = timezone.now()
    stale = now - timedelta(seconds=LAST_USED_RESOLUTION_S)
    if row.last_used_at is not None and row.last_used_at > stale:
        return
    ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=row.pk).update(
        last_used_at=now
    )
    row.last_used_at = now


def key_revoke(row: ApiKey) -> bool:
    """Revoke ``row`` (idempotent). True when this call revoked it."""
    changed = ApiKey.objects.filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return changed == 1
