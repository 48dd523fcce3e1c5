"""Two-factor rules, on ``EncryptedTOTPDevice`` (projects/totp_models.py: django-otp's
``TOTPDevice`` with the key Fernet-encrypted at rest; RFC 6238 TOTP: HMAC-SHA1, 30 s steps,
6 digits; one step of clock drift tolerated either way; a code is accepted once — the device
keeps the last step used — and wrong codes slow the next try down exponentially: 1 s, 2 s,
4 s … through django-otp's ``ThrottlingMixin``).

A user has at most one *confirmed* device (the one that signs them in) and at most one
*pending* one (set up but not yet confirmed with a code). Founders (role client) may turn it
on; staff (owner, consultant) of an agency with ``require_two_factor`` must.

Beside the app, a user with two-factor on holds ``CODE_COUNT`` (10) one-time recovery codes
(``RecoveryCodeDevice``, projects/recovery_models.py: SHA-256 only, each works once): a lost
phone is then the user's own fix, not an administrator's.
"""

from __future__ import annotations

from base64 import b32encode

import segno
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Exists, OuterRef

from projects.models import Agency, EncryptedTOTPDevice, Membership, RecoveryCodeDevice

CONFIRMED = "Authenticator app"
PENDING = "pending"


def gate(user, memberships: list[Membership] | None = None) -> tuple[bool, bool]:
    """``(has_device, required)`` for a signed-in ``user``: whether they have a confirmed
    TOTP device, and whether an agency they are staff of requires one. With ``memberships``
    (all of the user's, agencies loaded: ``request.memberships``) one small query, else one
    query with both answers."""
    if memberships is not None:
        required = any(m.role in Membership.STAFF_ROLES and m.agency.require_two_factor for m in memberships)
        return EncryptedTOTPDevice.objects.filter(user=user, confirmed=True).exists(), required
    row = (
        get_user_model().objects.filter(pk=user.pk)
        .annotate(
            has_device=Exists(EncryptedTOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            required=Exists(Membership.objects.filter(
                user=OuterRef("pk"), role__in=Membership.STAFF_ROLES, agency__require_two_factor=True)),
        )
        .values_list("has_device", "required")
        .first()
    )
    return row if row is not None else (False, False)


def confirmed_device(user) -> EncryptedTOTPDevice | None:
    """The device that signs ``user`` in, or None."""
    return EncryptedTOTPDevice.objects.filter(user=user, confirmed=True).first()


def requiring_agencies(user) -> list[Agency]:
    """The agencies (by name) that make two-factor mandatory for ``user``: those they are
    staff of with ``require_two_factor`` on. Empty for founders and outsiders."""
    return list(Agency.objects.filter(
        require_two_factor=True, memberships__user=user, memberships__role__in=Membership.STAFF_ROLES,
    ).distinct().order_by("name"))


def pending_device(user) -> EncryptedTOTPDevice:
    """The device being set up for ``user``: the pending one if there is one (so reloading
    the page keeps the QR code already scanned), else a new one with a random 160-bit key
    (RFC 4226 §4 recommends 160 bits)."""
    device = EncryptedTOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is not None and not device.key_readable:
        # Its key was encrypted with a key since removed: nothing was confirmed with it yet,
        # so a new one (a new QR code) replaces it rather than a page that cannot be shown.
        device.delete()
        device = None
    if device is None:
        device = EncryptedTOTPDevice.objects.create(user=user, name=PENDING, confirmed=False)
    return device


def confirm(device: EncryptedTOTPDevice, code: str) -> bool:
    """Confirm a pending ``device`` with a code from the app: True when the code is right; the
    device then becomes the user's only confirmed one (an earlier device is deleted, so
    setting up again replaces the phone). False when the code is wrong or tries are being
    slowed down (``device.verify_is_allowed()``)."""
    with transaction.atomic():
        if not device.verify_token(code):
            return False
        EncryptedTOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.name = CONFIRMED
        device.save(update_fields=["confirmed", "name"])
    return True


def disable(user) -> int:
    """Remove every TOTP device of ``user`` and their recovery codes; returns how many TOTP
    devices were removed."""
    RecoveryCodeDevice.objects.filter(user=user).delete()
    count, _ = EncryptedTOTPDevice.objects.filter(user=user).delete()
    return count


RECOVERY = "Recovery codes"


def recovery_device(user) -> RecoveryCodeDevice | None:
    """The set of recovery codes of ``user``, or None when they never had one."""
    return RecoveryCodeDevice.objects.filter(user=user).first()


def signed_in_with_recovery_code(user) -> bool:
    """Whether ``user``'s session was verified with a recovery code (django-otp's
    ``OTPMiddleware`` sets ``user.otp_device``), not the app."""
    return isinstance(getattr(user, "otp_device", None), RecoveryCodeDevice)


def recovery_codes_left(user) -> int:
    """How many unused recovery codes ``user`` holds (0 without a set)."""
    return RecoveryCodeDevice.objects.filter(user=user).aggregate(n=Count("codes"))["n"] or 0


def recovery_codes_replace(user) -> list[str]:
    """Make ``user`` a new set of recovery codes, the old ones no longer working; returns the
    new codes in clear, for the page to show this once."""
    device, _ = RecoveryCodeDevice.objects.get_or_create(user=user, defaults={"name": RECOVERY})
    return device.replace_codes()


def set_requirement(agency: Agency, *, required: bool) -> bool:
    """Turn the agency's mandatory two-factor on or off; returns whether it changed. (The
    audit log's middleware records the request; the view names the change.)"""
    changed = Agency.objects.filter(pk=agency.pk).exclude(require_two_factor=required).update(
        require_two_factor=required)
    agency.require_two_factor = required
    return bool(changed)


def secret_text(device: EncryptedTOTPDevice) -> str:
    """The key as an app expects it typed by hand: base32 (RFC 4648 §6), in groups of four,
    e.g. ``"JBSW Y3DP EHPK 3PXP …"``."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


def qr_svg(device: EncryptedTOTPDevice) -> str:
    """The ``otpauth://totp/…`` URI (Google Authenticator's Key URI Format) as an inline SVG
    QR code (segno, error correction M), to put straight into the page: no image request,
    nothing for a CSP to allow beyond the page itself."""
    return segno.make(device.config_url, error="m").svg_inline(border=2, dark="#1d2433", omitsize=True)
