"""Invitations by email: a founder (role client, granted projects) or a consultant joins an
agency by following a link that works once, until it expires.

The link carries ``secrets.token_urlsafe(32)`` (256 random bits); only its SHA-256 is stored,
so the database alone never yields a working link. The token appears in the mail and the URL
and nowhere else: it is never logged (``launchready.redaction`` masks it in request logs) and
never stored in clear.

States of an invite, at a time ``now``: *pending* (not accepted, ``expires_at`` after ``now``),
*accepted*, *expired*. Revoking or superseding a pending invite sets its ``expires_at`` to
``now``, so a revoked invite is an expired one (the model has no separate field, and the
person holding the link is told the same thing either way).
"""

from __future__ import annotations

import hashlib
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from projects.models import Agency, Invite, Membership, Project

TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 URL-safe characters
Role = Membership.Role
# A membership is raised by an invite of a higher role, never lowered.
ROLE_RANK = {Role.CLIENT.value: 0, Role.CONSULTANT.value: 1, Role.OWNER.value: 2}


class InviteUnusable(Exception):
    """The link cannot be used. Pages show only ``public_message``: whoever holds a link
    learns nothing about why (unknown, expired, revoked, superseded or used)."""

    public_message = "This invite link has expired or has already been used."

    def __init__(self) -> None:
        super().__init__(self.public_message)


class InviteUnknown(InviteUnusable):
    """No invite has this token."""


class InviteExpired(InviteUnusable):
    """Past ``expires_at`` (also revoked or superseded invites)."""


class InviteUsed(InviteUnusable):
    """Already accepted."""


class InviteNotSent(Exception):
    """The invite mail could not be handed to the mail server; nothing was stored."""


class WrongAccount(Exception):
    """A signed-in user who is not the invited address tried to accept."""


def token_hash(token: str) -> str:
    """The stored form of a token: SHA-256 of its UTF-8 bytes, 64 lower-case hex digits."""
    return hashlib.sha256(token.encode()).hexdigest()


def invite_link(token: str) -> str:
    """The absolute URL of the acceptance page, on ``settings.SITE_URL`` (never on the
    request's Host header, which a client chooses)."""
    return settings.SITE_URL + reverse("invite_accept", args=[token])


def invite_state(invite: Invite, now: datetime | None = None) -> str:
    """``"accepted"``, ``"pending"`` or ``"expired"`` at ``now`` (default: the current time)."""
    if invite.accepted_at is not None:
        return "accepted"
    return "pending" if invite.expires_at > (now or timezone.now()) else "expired"


@sensitive_variables("token")
def invite_create(
    *,
    agency: Agency,
    email: str,
    role: str = Role.CLIENT,
    projects=(),
    created_by=None,
    now: datetime | None = None,
) -> tuple[Invite, str]:
    """Invite ``email`` to ``agency`` as ``role`` and mail them the link; returns
    ``(invite, token)`` — the token only to build the link, never to keep.

    A founder (``role`` client) invite grants ``projects`` (at least one, all of ``agency``);
    a staff invite (owner, consultant) needs none, staff see every project. The link works for
    ``settings.INVITE_TTL_HOURS`` hours. Pending invites of the same address to the same
    agency are superseded (expired now); a superseded founder invite's projects carry over
    to the new one, so inviting a founder to a second project keeps the first.

    The invite is stored and the mail sent in one transaction: when the mail server refuses,
    ``InviteNotSent`` is raised and nothing changed (the older invites still work).
    The address is stored lower-cased. Raises ``ValidationError`` for an address that is
    not an email address, ``ValueError`` for an unknown role, a founder invite without
    projects, or a project of another agency.
    """
    # Lower-cased whole: it becomes the user name, and signing in matches user names exactly.
    email = email.strip().lower()
    validate_email(email)
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}")
    projects = list(projects)
    if any(p.agency_id != agency.pk for p in projects):
        raise ValueError("every project of an invite must belong to its agency")
    if role == Role.CLIENT and not projects:
        raise ValueError("a founder invite names at least one project")
    now = now or timezone.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        pending = list(
            Invite.objects.select_for_update()
            .filter(agency=agency, email__iexact=email, accepted_at__isnull=True, expires_at__gt=now)
        )
        if role == Role.CLIENT:
            projects += [p for old in pending if old.role == Role.CLIENT for p in old.projects.all()]
        Invite.objects.filter(pk__in=[old.pk for old in pending]).update(expires_at=now)
        invite = Invite.objects.create(
            agency=agency, email=email, role=role, token_sha256=token_hash(token),
            created_by=created_by, expires_at=now + timedelta(hours=settings.INVITE_TTL_HOURS),
        )
        invite.projects.set({p.pk: p for p in projects}.values())
        _send(invite, token)
    return invite, token


@sensitive_variables("token", "link")
def _send(invite: Invite, token: str) -> None:
    """Mail the invite (text and HTML). Raises ``InviteNotSent`` when the server refuses."""
    link = invite_link(token)
    project_names = [p.name for p in invite.projects.order_by("name", "pk")]
    context = {
        "invite": invite,
        "agency": invite.agency.name,
        "projects": project_names,
        "founder": invite.role == Role.CLIENT,
        "link": link,
        "inviter": _person(invite.created_by),
        "ttl_hours": settings.INVITE_TTL_HOURS,
    }
    if invite.role == Role.CLIENT:
        subject = f"{invite.agency.name} invites you to follow {_and_list(project_names)} on Launch Ready"
    else:
        subject = f"{invite.agency.name} invites you to its team on Launch Ready"
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),  # one header line whatever the names hold
        body=render_to_string("emails/invite.txt", context),
        to=[invite.email],
    )
    message.attach_alternative(render_to_string("emails/invite.html", context), "text/html")
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        raise InviteNotSent(f"the invite mail could not be sent: {exc}") from None


def _person(user) -> str:
    """How a mail names a user: full name, else email, else user name; "" for none."""
    if user is None:
        return ""
    return user.get_full_name() or user.email or user.get_username()


def _and_list(names: list[str]) -> str:
    """``["A"]`` → ``"A"``, ``["A", "B", "C"]`` → ``"A, B and C"``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


@sensitive_variables("token")
def invite_usable(token: str, *, now: datetime | None = None) -> Invite:
    """The pending invite of ``token`` (with its agency). Raises ``InviteUnknown``,
    ``InviteUsed`` or ``InviteExpired`` (all ``InviteUnusable``)."""
    try:
        invite = Invite.objects.select_related("agency").get(token_sha256=token_hash(token))
    except Invite.DoesNotExist:
        raise InviteUnknown() from None
    _raise_unless_pending(invite, now or timezone.now())
    return invite


def _raise_unless_pending(invite: Invite, now: datetime) -> None:
    state = invite_state(invite, now)
    if state == "accepted":
        raise InviteUsed()
    if state == "expired":
        raise InviteExpired()


def existing_accounts(email: str) -> list:
    """Active users an invite to ``email`` would attach to: user name or email equal to it
    (case-insensitive), oldest first. Usually none or one."""
    same = Q(username__iexact=email) | Q(email__iexact=email)
    users = get_user_model().objects.filter(same, is_active=True)
    return list(users.order_by("pk"))


def is_for(invite: Invite, user) -> bool:
    """Whether ``user``'s account is the invited address."""
    email = invite.email.lower()
    return user.get_username().lower() == email or (user.email or "").lower() == email


@sensitive_variables("token", "password")
def invite_accept(token: str, *, password: str = "", user=None, now: datetime | None = None):
    """Accept the invite of ``token`` once; returns the user who joined.

    Who joins: ``user`` when given (someone signed in; ``WrongAccount`` unless it is the
    invited address); else the existing account of the address whose password ``password``
    is; else a new user (user name and email = the address) with ``password``, checked
    against ``AUTH_PASSWORD_VALIDATORS``. The user gets a membership of the invite's role
    (an existing membership is raised to it, never lowered) and, for a founder invite, the
    invite's projects.

    Single use: the invite is claimed by a conditional UPDATE (``accepted_at`` still NULL, not
    expired), so of two simultaneous acceptances exactly one succeeds. Raises
    ``InviteUnusable`` (unknown, expired, used), ``ValidationError`` for a password that is
    wrong (existing account) or too weak (new account).
    """
    now = now or timezone.now()
    invite = invite_usable(token, now=now)
    account = _joining_account(invite, password=password, user=user)
    try:
        with transaction.atomic():
            claimed = Invite.objects.filter(
                pk=invite.pk, accepted_at__isnull=True, expires_at__gt=now
            ).update(accepted_at=now)
            if claimed != 1:
                invite.refresh_from_db()
                _raise_unless_pending(invite, now)
                raise InviteUsed()  # not pending when the UPDATE ran
            if account is None:
                account = get_user_model().objects.create_user(
                    username=invite.email, email=invite.email, password=password
                )
            Invite.objects.filter(pk=invite.pk).update(accepted_by=account)
            _join(invite, account)
    except IntegrityError:
        # Another invite of this address created the account a moment ago.
        raise ValidationError(
            "An account for this address was just created: sign in with it, then open the link again.",
            code="account_exists",
        ) from None
    return account


@sensitive_variables("password")
def _joining_account(invite: Invite, *, password: str, user):
    """The existing user who accepts, or ``None`` for a new account (password validated)."""
    if user is not None:
        if not is_for(invite, user):
            raise WrongAccount(f"this invite is for {invite.email}")
        return user
    candidates = existing_accounts(invite.email)
    if candidates:
        for candidate in candidates:
            if password and candidate.check_password(password):
                return candidate
        raise ValidationError(
            f"That is not the password of the account {invite.email}.", code="wrong_password"
        )
    # The user name will be the address too; given as email only, a similarity error names
    # "the email address", the words the page uses.
    password_validation.validate_password(password, user=get_user_model()(email=invite.email))
    return None


def _join(invite: Invite, user) -> None:
    """Give ``user`` the invite's membership (raised, never lowered) and project grants."""
    membership, created = Membership.objects.get_or_create(
        user=user, agency=invite.agency, defaults={"role": invite.role}
    )
    if not created and ROLE_RANK[invite.role] > ROLE_RANK[membership.role]:
        membership.role = invite.role
        membership.save(update_fields=["role"])
    if invite.role == Role.CLIENT:
        user.granted_projects.add(*invite.projects.filter(agency=invite.agency))


def invite_revoke(invite: Invite, *, now: datetime | None = None) -> bool:
    """End a pending invite now (its link stops working). False when it was no longer pending
    (accepted or expired): nothing changed."""
    now = now or timezone.now()
    pending = Invite.objects.filter(pk=invite.pk, accepted_at__isnull=True, expires_at__gt=now)
    return pending.update(expires_at=now) == 1


@dataclass(frozen=True)
class InviteRow:
    """One line of a project's invite list: the invite and its state (``invite_state``)."""

    invite: Invite
    state: str


def invite_rows(project: Project, *, now: datetime | None = None) -> list[InviteRow]:
    """The invites that grant ``project``, newest first, with their states."""
    now = now or timezone.now()
    invites = project.invites.select_related("created_by", "accepted_by")
    return [InviteRow(invite, invite_state(invite, now)) for invite in invites]


def landing_project(invite: Invite) -> Project | None:
    """Where a founder lands after accepting: the project when the invite grants exactly one."""
    if invite.role != Role.CLIENT:
        return None
    projects = list(invite.projects.all()[:2])
    return projects[0] if len(projects) == 1 else None
