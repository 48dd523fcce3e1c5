"""Agency sign-up: an agency name, the owner's address and a password make an inactive account,
an agency and its owner membership; the account works once the mailed link is opened.

Confirmation link: ``SITE_URL`` + ``/signup/confirm/<token>/`` where the token is
``django.core.signing.TimestampSigner(salt=SALT).sign_object({"u": user id, "s": state})`` —
HMAC-SHA256 with ``SECRET_KEY``, valid ``SIGNUP_CONFIRM_TTL_HOURS`` hours. ``state`` is an
HMAC of the account's password hash and ``is_active``, so the link works once (confirming
activates the account, which changes the state) and an earlier link stops when the address
signs up again (a new password hash).

Existing addresses: the page answers exactly as for a new address ("check your inbox"), so
sign-up never tells whether an account exists. An active account of the address gets a mail
saying so (sign in or reset the password) and is not changed; a still unconfirmed one gets
the new agency name and password and a fresh link — whoever reads the mailbox decides, so
nobody can hold an address by signing up with it first.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from projects.models import Agency, Membership
from projects.services import SANDBOX_AGENCY

SALT = "launchready.signup.confirm"
SLUG_MAX_CHARS = 50
# Slugs no sign-up gets: ``sandbox`` is the CLI's agency, whose projects the monitor scheduler
# never probes and ``manage.py audit --scenario`` syncs into (projects.services).
RESERVED_SLUGS = frozenset({SANDBOX_AGENCY[0]})


class SignupMailNotSent(Exception):
    """The mail server refused the confirmation mail; nothing was stored."""


class ConfirmationInvalid(Exception):
    """The link is unknown, tampered with, expired or already used. Pages say only that."""


def _state(user) -> str:
    """What a confirmation token is bound to: HMAC-SHA256 of the password hash and the
    active flag (changes when the account is confirmed or signs up again)."""
    value = f"{user.pk}:{user.password}:{int(user.is_active)}"
    return salted_hmac(SALT, value, algorithm="sha256").hexdigest()[:32]


def confirmation_token(user) -> str:
    """A signed, timestamped token confirming ``user``'s address (see the module docstring)."""
    return signing.TimestampSigner(salt=SALT).sign_object({"u": user.pk, "s": _state(user)})


def confirmation_link(token: str) -> str:
    """The absolute confirmation URL on ``settings.SITE_URL`` (never the request's Host)."""
    return settings.SITE_URL + reverse("signup_confirm", args=[token])


@sensitive_variables("token")
def pending_user(token: str):
    """The inactive account ``token`` confirms. Raises ``ConfirmationInvalid`` when the token
    is bad, older than ``SIGNUP_CONFIRM_TTL_HOURS`` or no longer matches the account."""
    try:
        data = signing.TimestampSigner(salt=SALT).unsign_object(
            token, max_age=settings.SIGNUP_CONFIRM_TTL_HOURS * 3600
        )
        user = get_user_model().objects.get(pk=int(data["u"]), is_active=False)
    except (signing.BadSignature, KeyError, TypeError, ValueError, get_user_model().DoesNotExist):
        raise ConfirmationInvalid() from None
    if not constant_time_compare(str(data.get("s", "")), _state(user)):
        raise ConfirmationInvalid()
    return user


@sensitive_variables("token")
def confirm(token: str):
    """Activate the account of ``token`` (once); returns the user. Raises
    ``ConfirmationInvalid``. A conditional UPDATE makes two simultaneous confirmations
    activate it once."""
    user = pending_user(token)
    activated = get_user_model().objects.filter(pk=user.pk, is_active=False, password=user.password).update(
        is_active=True
    )
    if activated != 1:
        raise ConfirmationInvalid()
    user.is_active = True
    return user


def validate_password(password: str, email: str) -> None:
    """``AUTH_PASSWORD_VALIDATORS`` for a new owner; raises ``ValidationError``."""
    password_validation.validate_password(password, user=get_user_model()(username=email, email=email))


@sensitive_variables("password", "token")
def sign_up(*, agency_name: str, email: str, password: str) -> None:
    """Start the sign-up of ``email`` (see the module docstring) and send its mail. The
    password must already pass ``validate_password``. Raises ``SignupMailNotSent`` (nothing
    stored) when the mail server refuses."""
    email = email.strip().lower()
    users = get_user_model().objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).order_by("pk")
    with transaction.atomic():
        existing = users.select_for_update().first()
        if existing is not None and existing.is_active:
            _mail(email, "emails/signup_exists", {"login": settings.SITE_URL + reverse("login"),
                                                  "reset": settings.SITE_URL + reverse("password_reset")})
            return
        user = existing or get_user_model()(username=email, email=email, is_active=False)
        user.set_password(password)
        user.save()
        membership = Membership.objects.filter(user=user, role=Membership.Role.OWNER).first()
        if membership is None:
            agency = Agency.objects.create(name=agency_name, slug=unique_slug(agency_name))
            Membership.objects.create(user=user, agency=agency, role=Membership.Role.OWNER)
        else:  # an unconfirmed sign-up again: the latest agency name wins
            Agency.objects.filter(pk=membership.agency_id).update(name=agency_name)
        token = confirmation_token(user)
        _mail(email, "emails/signup_confirm", {
            "agency": agency_name, "link": confirmation_link(token),
            "ttl_hours": settings.SIGNUP_CONFIRM_TTL_HOURS,
        })


def unique_slug(name: str) -> str:
    """``slugify(name)`` (``agency`` when empty), with ``-2``, ``-3``… until unused and not
    reserved (``RESERVED_SLUGS``: "Sandbox" signs up as ``sandbox-2``)."""
    base = (slugify(name) or "agency")[: SLUG_MAX_CHARS - 4]
    slug, n = base, 1
    while slug in RESERVED_SLUGS or Agency.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@sensitive_variables("context")
def _mail(email: str, template: str, context: dict) -> None:
    subject = render_to_string(template + "_subject.txt", context).strip()
    body = render_to_string(template + ".txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, [email])
    except (smtplib.SMTPException, OSError) as exc:
        raise SignupMailNotSent(f"the confirmation mail could not be sent: {exc}") from None
