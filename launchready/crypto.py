"""Secrets the product holds (SMTP passwords today), encrypted at rest with Fernet.

Keys come from the ``FIELD_ENCRYPTION_KEYS`` setting: comma-separated Fernet keys (32 url-safe
base64-encoded bytes each, ``Fernet.generate_key()``). The first key encrypts; every key
decrypts (``MultiFernet``), so a key is rotated by putting a new one first, running
``manage.py rotate_secrets`` (re-encrypts every stored secret with the first key), then
dropping the old one.

When ``FIELD_ENCRYPTION_KEYS`` is unset (development, tests, ``make demo``) one key is
derived from ``SECRET_KEY`` with HKDF-SHA256 (RFC 5869): secrets are still encrypted, but
anyone holding ``SECRET_KEY`` can read them, and changing ``SECRET_KEY`` loses them. That
derived key is also always accepted for *decryption* after the list, so secrets stored before
the keys were configured stay readable until ``rotate_secrets`` re-encrypts them. A system
check warns (``launchready.W001``) when a real ``SECRET_KEY`` is set but no keys are.

Plain text never leaves this module in an error message, a log line or a ``repr``.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

MASK = "••••••••"  # the same eight dots whatever the secret: not even its length shows
_HKDF_INFO = b"launchready field encryption v1"
# Every stored secret, as (app_label.Model, field): what rotate_secrets re-encrypts.
ENCRYPTED_FIELDS: tuple[tuple[str, str], ...] = (
    ("projects.Project", "smtp_password_encrypted"),
    ("checks.AlertChannel", "webhook_url_encrypted"),
    ("projects.TestAccount", "secret_encrypted"),
    ("projects.DeployHook", "secret_encrypted"),
    ("projects.EncryptedTOTPDevice", "key_encrypted"),  # two-factor sign-in keys (RFC 6238)
)


class SecretDecryptionError(ValueError):
    """A stored token no key of ``FIELD_ENCRYPTION_KEYS`` (nor the SECRET_KEY-derived key)
    opens: it was encrypted with a key since removed, or it was altered."""


def derived_key(secret_key: str) -> bytes:
    """The Fernet key derived from ``secret_key``: HKDF-SHA256 (RFC 5869), no salt, a fixed
    ``info``, 32 bytes, url-safe base64 — the form ``Fernet`` takes."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )
    return base64.urlsafe_b64encode(raw)


def _keys() -> tuple[str, ...]:
    """The configured keys, in order, then the SECRET_KEY-derived one (decryption only unless
    it is the only key)."""
    configured = tuple(k.strip() for k in getattr(settings, "FIELD_ENCRYPTION_KEYS", ()) if k.strip())
    return (*configured, derived_key(settings.SECRET_KEY).decode("ascii"))


@functools.lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    fernets = []
    for number, key in enumerate(keys, 1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            # Never echo the key: it is a secret even when malformed.
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS: key {number} is not a Fernet key (32 url-safe base64-encoded "
                "bytes; make one with: python -c \"from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())\")"
            ) from None
    return MultiFernet(fernets)


def _fernet() -> MultiFernet:
    return _multifernet(_keys())


@sensitive_variables("text")  # hidden from error reports, like every local holding a secret
def encrypt(text: str) -> str:
    """``text`` encrypted with the first key: a Fernet token (url-safe base64 ASCII, about
    ``100 + 4/3·len`` characters). Raises ``ImproperlyConfigured`` for a malformed key."""
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def readable(token: str) -> bool:
    """True when a configured key opens ``token`` (the text is dropped at once)."""
    try:
        decrypt(token)
    except SecretDecryptionError:
        return False
    return True


def decrypt(token: str) -> str:
    """The text in ``token``. Raises ``SecretDecryptionError`` when no key opens it (a key
    removed from ``FIELD_ENCRYPTION_KEYS``, or an altered token)."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise SecretDecryptionError(
            "a stored secret cannot be decrypted with the keys in FIELD_ENCRYPTION_KEYS "
            "(was it encrypted with a key since removed?); enter it again"
        ) from None


def rotate(token: str) -> str:
    """``token`` re-encrypted with the first key (its timestamp kept). Raises
    ``SecretDecryptionError`` like ``decrypt``."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise SecretDecryptionError("a stored secret cannot be decrypted with any configured key") from None


def mask(text: str) -> str:
    """What a page shows for a secret: ``MASK`` when there is one, "" when there is none.
    Nothing of the secret itself — not a character, not its length."""
    return MASK if text else ""


DEVELOPMENT_SECRET_PREFIX = "insecure-dev-key-"


@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``launchready.W001`` when a real SECRET_KEY is set but FIELD_ENCRYPTION_KEYS is not
    (a production set-up relying on the derived key); ``launchready.E001`` for a malformed key.

    A warning, not a refusal to start: DEBUG is off in ``make demo`` and the tests as well,
    so nothing tells production apart but the SECRET_KEY the operator set.
    """
    try:
        _fernet()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="launchready.E001")]
    configured = [k for k in getattr(settings, "FIELD_ENCRYPTION_KEYS", ()) if k.strip()]
    if configured or str(settings.SECRET_KEY).startswith(DEVELOPMENT_SECRET_PREFIX):
        return []
    return [checks.Warning(
        "FIELD_ENCRYPTION_KEYS is not set: stored secrets (SMTP passwords) are encrypted with a key "
        "derived from SECRET_KEY, so changing SECRET_KEY makes them unreadable.",
        hint="Set FIELD_ENCRYPTION_KEYS (see .env.example), then run manage.py rotate_secrets.",
        id="launchready.W001",
    )]
