"""An agency's team: who belongs to it, in which role, and how an owner changes that.

Roles (``Membership.Role``): *owner* (everything, including this team, the API keys and the
audit log), *consultant* (every project of the agency), *client* (a founder: only the
projects granted to them, read-only). An agency always keeps at least one owner: demoting or
removing the last one raises ``LastOwner`` and changes nothing.

Removing someone takes effect at once:

- every page reaches tenant data through ``projects.access``, which asks for the membership on
  each request, so the removed agency's pages answer 404 on the person's next request;
- API keys stop because ``launchready.api.authentication`` accepts a key only while its creator
  is staff of its agency;
- when the person has no membership left, their sessions are deleted from the session store
  (``end_sessions``), and ``projects.current_agency.CurrentAgencyMiddleware`` signs out any
  session that was opened as a member and no longer has a membership (a session store other
  than the database, or a session saved again after the deletion).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from projects.models import Agency, Membership

Role = Membership.Role
STAFF_ROLE_CHOICES = [(Role.OWNER.value, "Owner"), (Role.CONSULTANT.value, "Consultant")]


class LastOwner(Exception):
    """The change would leave the agency without an owner."""

    def __init__(self, agency: Agency) -> None:
        super().__init__(f"{agency.name} needs at least one owner: make someone else owner first.")


@dataclass(frozen=True)
class Member:
    """One line of the team page: the membership and how many projects a founder follows."""

    membership: Membership
    granted_projects: int


def members(agency: Agency) -> list[Member]:
    """The agency's members: owners, then consultants, then founders; by address within a
    role. Two queries."""
    rank = {Role.OWNER: 0, Role.CONSULTANT: 1, Role.CLIENT: 2}
    rows = list(agency.memberships.select_related("user"))
    granted: dict[int, int] = {}
    for user_id in agency.projects.filter(founders__in=[m.user_id for m in rows]).values_list(
        "founders", flat=True
    ):
        granted[user_id] = granted.get(user_id, 0) + 1
    rows.sort(key=lambda m: (rank[m.role], m.user.get_username().lower()))
    return [Member(m, granted.get(m.user_id, 0)) for m in rows]


def person(user) -> str:
    """How the team page and the audit log name someone: email, else user name."""
    return user.email or user.get_username()


def _owners(agency: Agency):
    return Membership.objects.select_for_update().filter(agency=agency, role=Role.OWNER)


def change_role(agency: Agency, membership: Membership, role: str) -> bool:
    """Make ``membership`` (of ``agency``) ``role`` — owner or consultant. Returns False when it
    already had that role. Raises ``LastOwner`` when it is the agency's last owner being
    demoted, ``ValueError`` for another role or a founder's membership (a founder becomes
    staff through a staff invite)."""
    if role not in (Role.OWNER, Role.CONSULTANT):
        raise ValueError(f"unknown staff role {role!r}")
    if membership.agency_id != agency.pk:
        raise ValueError("membership of another agency")
    with transaction.atomic():
        # Locks the owner rows, so two owners demoting each other at once cannot both succeed.
        owner_ids = set(_owners(agency).values_list("pk", flat=True))
        current = Membership.objects.select_for_update().get(pk=membership.pk)
        if current.role == Role.CLIENT:
            raise ValueError("a founder becomes staff through a staff invite")
        if current.role == role:
            return False
        if current.role == Role.OWNER and owner_ids == {current.pk}:
            raise LastOwner(agency)
        current.role = role
        current.save(update_fields=["role"])
    membership.role = role
    return True


def remove_member(agency: Agency, membership: Membership) -> None:
    """Remove ``membership`` from ``agency``: the membership and the person's grants to the
    agency's projects go. Raises ``LastOwner`` for the agency's last owner. When the person
    belongs to no agency any more, their sessions end (``end_sessions``)."""
    if membership.agency_id != agency.pk:
        raise ValueError("membership of another agency")
    user = membership.user
    with transaction.atomic():
        owner_ids = set(_owners(agency).values_list("pk", flat=True))
        if owner_ids == {membership.pk}:
            raise LastOwner(agency)
        Membership.objects.filter(pk=membership.pk).delete()
        user.granted_projects.remove(*agency.projects.filter(founders=user))
        member_elsewhere = Membership.objects.filter(user=user).exists()
    if not member_elsewhere:
        end_sessions(user)


def end_sessions(user) -> int:
    """Delete every unexpired database session signed in as ``user``; returns how many.

    The database store (Django's default ``SESSION_ENGINE``) has no index by user, so each
    live session is decoded: fine for a panel's few hundred sessions; the middleware signs the
    rest out on their next request anyway (see the module docstring)."""
    doomed = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            doomed.append(session.pk)
    Session.objects.filter(pk__in=doomed).delete()
    return len(doomed)
