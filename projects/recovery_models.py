"""Recovery codes of two-factor sign-in (launchready/twofactor/): the way back in when the
phone with the authenticator app is lost, without an administrator.

django-otp's own ``otp_static.StaticToken`` keeps each code in clear. Here a code is kept only
as the SHA-256 of its normalised text: a code is 50 random bits (10 characters of a
32-character alphabet, from ``secrets``), so a fast hash is enough — as for API keys
(``launchready/api/keys.py``), nobody can try 2**50 guesses against a stolen table, and the
sign-in page slows guesses down (``ThrottlingMixin``). A code works once: using it deletes
its row in one conditional statement, so two requests racing with one code cannot both win.
Imported by ``projects.models`` so Django sees these as ``projects`` models.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

from projects.otp_throttle import THROTTLE_FIELDS, try_locked

CODE_COUNT = 10
CODE_LENGTH = 10  # characters; 10 × log2(32) = 50 bits
# Crockford's Base32 symbols (https://www.crockford.com/base32.html), lower case: no i, l, o
# or u, so a code copied by hand survives; typed look-alikes are read as Crockford says.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_LOOK_ALIKES = str.maketrans({"o": "0", "i": "1", "l": "1"})


def normalise(code: str) -> str:
    """``code`` as typed, reduced to what is hashed: lower case, spaces and dashes dropped,
    ``o`` read as ``0`` and ``i``/``l`` as ``1`` (Crockford's decoding)."""
    return "".join(ch for ch in str(code).lower() if ch not in " -\t").translate(_LOOK_ALIKES)


def code_sha256(code: str) -> str:
    """Hex SHA-256 of the normalised ``code``: what the table keeps."""
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def new_code() -> str:
    """A fresh code, ``CODE_LENGTH`` characters from ``secrets``, shown as ``xxxxx-xxxxx``."""
    text = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    half = CODE_LENGTH // 2
    return f"{text[:half]}-{text[half:]}"




class RecoveryCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A user's set of one-time recovery codes, as one django-otp device: signing in with a
    code logs the session in with this device (``django_otp.login``), so the session counts
    as verified exactly as with the authenticator app.

    Wrong codes slow the next try down: ``OTP_STATIC_THROTTLE_FACTOR`` (default 1) × 1 s, 2 s,
    4 s … (django-otp's ``ThrottlingMixin``), so 50-bit codes cannot be guessed online.
    """

    class Meta(Device.Meta):
        verbose_name = "recovery code set"

    def get_throttle_factor(self) -> float:
        """Seconds of the first wait after a wrong code (``OTP_STATIC_THROTTLE_FACTOR``, 1)."""
        return getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1)

    @sensitive_variables("codes")
    def replace_codes(self) -> list[str]:
        """Forget every code of this set and make ``CODE_COUNT`` new ones; returns them in
        clear, the only time they exist so (the caller shows them once)."""
        codes = [new_code() for _ in range(CODE_COUNT)]
        with transaction.atomic():
            self.codes.all().delete()
            RecoveryCode.objects.bulk_create(
                RecoveryCode(device=self, code_sha256=code_sha256(code)) for code in codes)
            # Wrong guesses at the old codes say nothing of the new ones, which only the app's
            # code or a new set-up can make: without this, an attacker's weeks of wait would
            # outlive the very remedies (new codes, an administrator's reset) meant to end them.
            self.throttle_reset(commit=False)
            self.save(update_fields=THROTTLE_FIELDS)
        return codes

    @sensitive_variables()  # every frame below holds the code in clear
    def verify_token(self, token) -> bool:
        """Whether ``token`` is one of the set's unused codes; the code is used up at once (its
        row deleted by a conditional DELETE: of two racing requests one wins). Refused without a
        try while throttled; a wrong code makes the next wait longer, a right one resets it.
        Tries of one set run one at a time (its row locked), each seeing the failures counted
        before it: parallel requests get no more guesses than sequential ones."""
        def spend(locked: RecoveryCodeDevice) -> bool:
            deleted, _ = RecoveryCode.objects.filter(device=locked, code_sha256=code_sha256(token)).delete()
            if deleted:
                locked.last_used_at = timezone.now()
                locked.throttle_reset(commit=False)
                locked.save(update_fields=["last_used_at", *THROTTLE_FIELDS])
            return bool(deleted)

        return try_locked(self, spend, copy=["last_used_at"])


class RecoveryCode(models.Model):
    """One unused recovery code of a ``RecoveryCodeDevice``: only its SHA-256 (hex)."""

    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "code_sha256"], name="recovery_code_unique")]

    def __str__(self) -> str:
        return f"recovery code {self.code_sha256[:8]}… of {self.device}"
