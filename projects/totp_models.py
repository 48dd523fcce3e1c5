"""The TOTP device of two-factor sign-in (launchready/twofactor/), with its key encrypted at rest.

django-otp's own ``otp_totp.TOTPDevice`` keeps the shared key in a hex column in clear. This
device keeps it as a Fernet token (``launchready.crypto``, re-encrypted by
``manage.py rotate_secrets``) and decrypts it in memory only, to check a code or to show the
QR code while the device is being set up. Otherwise it mirrors ``TOTPDevice`` (django-otp
1.7): the same fields, defaults, settings and checks, through django-otp's public mixins and
``django_otp.oath.TOTP``. Imported by ``projects.models`` so Django sees it as a ``projects``
model, and django-otp's ``devices_for_user`` / ``OTPMiddleware`` find it as any ``Device``.
"""

from __future__ import annotations

import logging
import time
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from launchready import crypto
from projects.otp_throttle import try_locked

logger = logging.getLogger(__name__)

KEY_SIZE_BYTES = 20  # 160 bits: RFC 4226 §4 (R6) recommends it, RFC 6238 §3 (R3) follows HOTP's


@sensitive_variables("key_hex")
def new_key_token() -> str:
    """A fresh random key (``KEY_SIZE_BYTES`` bytes from ``secrets``), as a Fernet token of its
    hex form: the column's default, so a device is never saved without a key nor with one
    in clear."""
    key_hex = random_hex(KEY_SIZE_BYTES)
    return crypto.encrypt(key_hex)


class EncryptedTOTPDevice(TimestampMixin, ThrottlingMixin, Device):
    """A TOTP authenticator app (RFC 6238) of one user; its key encrypted at rest.

    RFC 6238 TOTP: HOTP (RFC 4226, HMAC-SHA1, dynamic truncation) over the time step
    ``T = (unix_time - t0) // step`` (§4.2). A code is checked at ``T + drift`` and up to
    ``tolerance`` steps either side (§5.2 recommends at most one step of network delay);
    a code whose step is not above ``last_t`` is refused, so each code works once (§5.2:
    "the verifier MUST NOT accept the second attempt of the same OTP"). With
    ``OTP_TOTP_SYNC`` (default on) the drift of the last accepted code is kept (§6,
    resynchronization). Wrong codes slow the next try down: ``OTP_TOTP_THROTTLE_FACTOR``
    (default 1) × 1 s, 2 s, 4 s … (django-otp's ``ThrottlingMixin``; RFC 4226 §7.3 asks for
    throttling).

    - ``key_encrypted``: Fernet token of the hex key (default: 20 random bytes).
    - ``step`` seconds (30), ``t0`` Unix seconds (0), ``digits`` (6 or 8; 6), ``tolerance``
      steps (1), ``drift`` steps (0), ``last_t``: the step of the last accepted code (-1).

    ``bin_key`` and ``config_url`` decrypt the key in memory; they raise
    ``crypto.SecretDecryptionError`` when no configured key opens it. ``verify_token`` then
    answers False (every code refused, no throttling counted) so no caller crashes; the page
    tells the user why (``key_readable``) and an administrator deletes the device so the
    user sets up again.
    """

    key_encrypted = models.TextField(default=new_key_token, editable=False)
    step = models.PositiveSmallIntegerField(default=30, help_text="The time step in seconds.")
    t0 = models.BigIntegerField(default=0, help_text="The Unix time at which to begin counting steps.")
    digits = models.PositiveSmallIntegerField(
        choices=[(6, 6), (8, 8)], default=6, help_text="The number of digits to expect in a token.")
    tolerance = models.PositiveSmallIntegerField(
        default=1, help_text="The number of time steps in the past or future to allow.")
    drift = models.SmallIntegerField(
        default=0, help_text="The number of time steps the prover is known to deviate from our clock.")
    last_t = models.BigIntegerField(
        default=-1,
        help_text="The t value of the latest verified token. The next token must be at a higher time step.",
    )

    class Meta(Device.Meta):
        verbose_name = "TOTP device"

    @sensitive_variables("key_hex")
    def set_key(self, key_hex: str) -> None:
        """Store ``key_hex`` (hex, up to 40 bytes) encrypted; saved with the device. Raises
        ``ValueError`` for anything but an even number of hex digits (never echoing it)."""
        try:
            key = unhexlify(key_hex.encode("ascii"))
        except (ValueError, UnicodeError):
            raise ValueError("a TOTP key must be hex digits") from None
        if not 0 < len(key) <= 40:
            raise ValueError("a TOTP key must be 1 to 40 bytes")
        self.key_encrypted = crypto.encrypt(key_hex.lower())

    @property
    def bin_key(self) -> bytes:
        """The key as bytes, decrypted in memory. Raises ``crypto.SecretDecryptionError``."""
        return unhexlify(crypto.decrypt(self.key_encrypted).encode("ascii"))

    @property
    def key_readable(self) -> bool:
        """Whether a configured key opens the stored one (the key is dropped at once)."""
        return crypto.readable(self.key_encrypted)

    def get_throttle_factor(self) -> float:
        """Seconds of the first wait after a wrong code (``OTP_TOTP_THROTTLE_FACTOR``, 1)."""
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    @sensitive_variables()  # the code and the key, here and in check()
    def verify_token(self, token) -> bool:
        """Whether ``token`` (the code typed, int or digits) is the app's code now, within
        ``tolerance`` steps, at a step above ``last_t``. On success ``last_t`` (and the drift,
        with ``OTP_TOTP_SYNC``) move on and the throttle resets; on failure it grows. Refused
        without a try while throttled (``verify_is_allowed``) or when the key is unreadable.

        Tries of one device run one at a time (``otp_throttle.try_locked``: its row locked), so
        parallel requests get no more guesses than sequential ones; ``last_t`` also moves with
        a conditional UPDATE (only while still below the step just matched), so two requests
        racing with the same code cannot both be accepted. A failure writes only the throttle's
        columns: a full save could write back a key token rotate_secrets re-encrypted meanwhile.
        """
        def check(locked: EncryptedTOTPDevice) -> bool | None:
            try:
                key = locked.bin_key
            except crypto.SecretDecryptionError:
                # Not the user's mistake: not counted, the page says what to do (key_readable).
                logger.warning("TOTP device %s: the stored key cannot be decrypted", locked.pk)
                return None
            try:
                code = int(token)
            except (TypeError, ValueError):
                return False
            totp = locked._totp_now(key)
            if not totp.verify(code, locked.tolerance, locked.last_t + 1):
                return False
            return locked._accept(totp.t(), totp.drift)

        return try_locked(self, check, copy=["last_t", "drift", "last_used_at"])

    @sensitive_variables("key")
    def is_spent(self, token) -> bool:
        """Whether ``token`` is the app's code of a step already used (at or below ``last_t``,
        within ``tolerance``): a replay (RFC 6238 §5.2 refuses it), not a wrong code. Only
        tells the page which message to show; it accepts nothing and counts nothing."""
        try:
            key, code = self.bin_key, int(token)
        except (crypto.SecretDecryptionError, TypeError, ValueError):
            return False
        totp = self._totp_now(key)
        return totp.verify(code, self.tolerance, 0) and totp.t() <= self.last_t

    def _totp_now(self, key: bytes) -> TOTP:
        """django-otp's RFC 6238 TOTP of ``key`` with this device's step, t0, digits and drift,
        at the time now."""
        totp = TOTP(key, self.step, self.t0, self.digits, self.drift)
        totp.time = time.time()
        return totp

    def _accept(self, t: int, drift: int) -> bool:
        """Record the code of step ``t`` as used; False when another request used it first."""
        if getattr(settings, "OTP_TOTP_SYNC", True):
            self.drift = drift
        now = timezone.now()
        taken = type(self).objects.filter(pk=self.pk, last_t__lt=t).update(
            last_t=t, drift=self.drift, throttling_failure_count=0, throttling_failure_timestamp=None,
            last_used_at=now,
        )
        if not taken:
            self.refresh_from_db(fields=["last_t", "drift"])
            return False
        self.last_t, self.last_used_at = t, now
        self.throttle_reset(commit=False)
        return True

    @property
    def config_url(self) -> str:
        """The ``otpauth://totp/<issuer>:<username>?secret=<base32>&algorithm=SHA1&digits=…
        &period=…&issuer=…`` URI an authenticator app scans (Google Authenticator's Key URI
        Format; base32 is RFC 4648 §6), exactly as django-otp's ``TOTPDevice`` builds it:
        issuer from ``OTP_TOTP_ISSUER``, image from ``OTP_TOTP_IMAGE``. It holds the key in
        clear: for the set-up page only. Raises ``crypto.SecretDecryptionError``."""
        label = str(self.user.get_username())
        params = urlencode({"secret": b32encode(self.bin_key), "algorithm": "SHA1",
                            "digits": self.digits, "period": self.step})
        issuer = self._setting_text("OTP_TOTP_ISSUER")
        if issuer:
            issuer = issuer.replace(":", "")
            label = f"{issuer}:{label}"
            params += f"&issuer={quote(issuer)}"  # RFC 3986 percent-encoding, not quote_plus
        image = self._setting_text("OTP_TOTP_IMAGE")
        if image:
            params += f"&image={quote(image, safe=':/')}"
        return f"otpauth://totp/{quote(label)}?{params}"

    def _setting_text(self, name: str) -> str | None:
        """A text setting, or the text a callable setting returns for this device; None if empty."""
        value = getattr(settings, name, None)
        if callable(value):
            value = value(self)
        return value if isinstance(value, str) and value else None
