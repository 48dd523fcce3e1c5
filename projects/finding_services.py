"""People's changes to a finding: status, owner, due date, accepted risk, comments.

Each change is one ``FindingEvent`` with its ``actor``, written in the same transaction as the
change, on the finding's row locked against an audit syncing it at the same moment. Only
agency staff (owner, consultant) change findings; the views refuse founders first (403) and
these functions refuse them again (``PermissionDenied``).

What a person may do (``PERSON_TRANSITIONS``); ``verified`` and ``regressed`` are set only by
audits (``projects.findings``):

- open ↔ in progress; open, in progress or regressed → fixed (a claim a later audit proves
  or disproves); a claim can be withdrawn (fixed → open or in progress);
- regressed → in progress or open (someone takes it up);
- open, in progress, fixed or regressed → accepted, with a reason and an expiry date
  (``finding_accept``; the next failing audit after that date opens it again); an accepted one
  can be accepted again (new reason or date) or reopened (→ open).

A change to what is already there (same status, owner or due date) writes nothing and returns
``None``. Invalid changes raise ``FindingChangeError`` with a message for the person.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from projects.access import can_write
from projects.models import Finding, FindingEvent, Membership

S = Finding.Status

PERSON_TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.OPEN: (S.IN_PROGRESS, S.FIXED),
    S.IN_PROGRESS: (S.OPEN, S.FIXED),
    S.FIXED: (S.OPEN, S.IN_PROGRESS),
    S.REGRESSED: (S.OPEN, S.IN_PROGRESS, S.FIXED),
    S.ACCEPTED: (S.OPEN,),
    S.VERIFIED: (),
}
ACCEPTABLE = (S.OPEN, S.IN_PROGRESS, S.FIXED, S.REGRESSED, S.ACCEPTED)
MAX_ACCEPTANCE = timedelta(days=365)
MAX_TEXT_CHARS = 5000


class FindingChangeError(ValueError):
    """A change a person asked for that is not allowed; the message says why, for the page."""


def staff_of(finding: Finding):
    """The users who may own ``finding``: the owners and consultants of its project's agency,
    by user name (a QuerySet of users)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(
        memberships__agency_id=finding.project.agency_id, memberships__role__in=Membership.STAFF_ROLES,
    ).distinct().order_by("username")


def allowed_statuses(finding: Finding) -> tuple[str, ...]:
    """The statuses a person may move ``finding`` to with ``finding_set_status`` (accepting
    goes through ``finding_accept``)."""
    return PERSON_TRANSITIONS[finding.status]


def _locked(finding: Finding, actor) -> Finding:
    """``finding`` re-read and locked for this transaction; ``PermissionDenied`` unless
    ``actor`` is staff of its agency."""
    if not can_write(actor, finding.project):
        raise PermissionDenied("Only agency staff change findings")
    return Finding.objects.select_for_update().select_related("project").get(pk=finding.pk)


def _text(text: str, *, required: bool, what: str) -> str:
    text = (text or "").strip()
    if required and not text:
        raise FindingChangeError(f"Write {what}.")
    if len(text) > MAX_TEXT_CHARS:
        raise FindingChangeError(f"Keep {what} under {MAX_TEXT_CHARS} characters (it has {len(text)}).")
    return text


@transaction.atomic
def finding_set_status(finding: Finding, *, actor, status: str, text: str = "") -> FindingEvent | None:
    """Move ``finding`` to ``status`` (one of ``allowed_statuses``), with an optional note
    ``text``. Reopening an accepted finding clears its reason and expiry (the events keep them).

    Raises ``FindingChangeError`` for a move a person may not make, ``PermissionDenied`` for
    non-staff. Returns the event, or ``None`` when the finding already has that status.
    """
    locked = _locked(finding, actor)
    if status == locked.status:
        return None
    if status not in PERSON_TRANSITIONS[locked.status]:
        raise FindingChangeError(_refusal(locked.status, status))
    text = _text(text, required=False, what="the note")
    event = FindingEvent.objects.create(
        finding=locked, actor=actor, kind=FindingEvent.Kind.STATUS,
        from_status=locked.status, to_status=status, text=text,
    )
    if locked.status == S.ACCEPTED:
        locked.accepted_reason, locked.accepted_until = "", None
    locked.status = status
    locked.save(update_fields=["status", "accepted_reason", "accepted_until", "updated_at"])
    _copy(locked, finding)
    return event


def _refusal(current: str, wanted: str) -> str:
    if wanted not in S.values:
        return f"There is no status “{wanted}”."
    if wanted in (S.VERIFIED, S.REGRESSED):
        return f"Only an audit sets “{S(wanted).label}”: run one after the fix is deployed."
    if wanted == S.ACCEPTED:
        return "Accept a risk with a reason and an expiry date."
    if current == S.VERIFIED:
        return "The last audit verified the fix; only a failing audit changes that."
    return f"A finding that is “{S(current).label}” cannot become “{S(wanted).label}”."


@transaction.atomic
def finding_accept(
    finding: Finding, *, actor, reason: str, until: date, today: date | None = None
) -> FindingEvent:
    """Accept ``finding`` as a risk the agency lives with, because of ``reason``, through the
    date ``until`` (after ``today`` and at most ``MAX_ACCEPTANCE`` ahead). Audits leave it
    quiet through that date; the first failing audit after it opens it again.

    Raises ``FindingChangeError`` (no reason, a date not in the future or too far, a verified
    finding), ``PermissionDenied`` for non-staff.
    """
    today = today or timezone.localdate()
    locked = _locked(finding, actor)
    if locked.status not in ACCEPTABLE:
        raise FindingChangeError("The last audit verified the fix: there is no risk left to accept.")
    reason = _text(reason, required=True, what="why the risk is accepted")
    if until is None or until <= today:
        raise FindingChangeError("Pick an expiry date after today: an acceptance must run out.")
    if until > today + MAX_ACCEPTANCE:
        raise FindingChangeError(
            f"Accept a risk for a year at most (until {today + MAX_ACCEPTANCE:%Y-%m-%d}), then decide again."
        )
    event = FindingEvent.objects.create(
        finding=locked, actor=actor, kind=FindingEvent.Kind.ACCEPTED,
        from_status=locked.status, to_status=S.ACCEPTED,
        text=f"Accepted until {until:%Y-%m-%d}: {reason}",
    )
    locked.status, locked.accepted_reason, locked.accepted_until = S.ACCEPTED, reason, until
    locked.save(update_fields=["status", "accepted_reason", "accepted_until", "updated_at"])
    _copy(locked, finding)
    return event


@transaction.atomic
def finding_set_owner(finding: Finding, *, actor, owner) -> FindingEvent | None:
    """Make ``owner`` (a staff member of the project's agency, or ``None`` for nobody)
    responsible for ``finding``.

    Raises ``FindingChangeError`` for anyone else (a founder, another agency's staff),
    ``PermissionDenied`` for a non-staff actor. ``None`` when nothing changes.
    """
    locked = _locked(finding, actor)
    if owner is not None and not staff_of(locked).filter(pk=owner.pk).exists():
        raise FindingChangeError("The owner must be an owner or consultant of the agency.")
    if (owner.pk if owner else None) == locked.owner_id:
        return None
    event = FindingEvent.objects.create(
        finding=locked, actor=actor, kind=FindingEvent.Kind.OWNER,
        text=f"Owner: {_name(owner)}" if owner else "Owner removed",
    )
    locked.owner = owner
    locked.save(update_fields=["owner", "updated_at"])
    _copy(locked, finding)
    return event


@transaction.atomic
def finding_set_due(
    finding: Finding, *, actor, due_date: date | None, today: date | None = None
) -> FindingEvent | None:
    """Set (or, with ``None``, clear) the date ``finding`` should be fixed by; today or later.

    Raises ``FindingChangeError`` for a date in the past, ``PermissionDenied`` for non-staff.
    ``None`` when nothing changes.
    """
    today = today or timezone.localdate()
    locked = _locked(finding, actor)
    if due_date == locked.due_date:
        return None
    if due_date is not None and due_date < today:
        raise FindingChangeError("Pick a due date from today on.")
    event = FindingEvent.objects.create(
        finding=locked, actor=actor, kind=FindingEvent.Kind.DUE,
        text=f"Due {due_date:%Y-%m-%d}" if due_date else "Due date removed",
    )
    locked.due_date = due_date
    locked.save(update_fields=["due_date", "updated_at"])
    _copy(locked, finding)
    return event


@transaction.atomic
def finding_comment(finding: Finding, *, actor, text: str, internal: bool) -> FindingEvent:
    """Add a comment; ``internal`` ones stay inside the agency (founders never see them).

    Raises ``FindingChangeError`` for an empty or overlong text, ``PermissionDenied`` for
    non-staff.
    """
    locked = _locked(finding, actor)
    text = _text(text, required=True, what="a comment")
    return FindingEvent.objects.create(
        finding=locked, actor=actor, kind=FindingEvent.Kind.COMMENT, text=text, internal=internal,
    )


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def _copy(source: Finding, target: Finding) -> None:
    """Keep the caller's instance current after a change made on the locked copy."""
    if source is not target:
        for field in ("status", "owner_id", "due_date", "accepted_reason", "accepted_until"):
            setattr(target, field, getattr(source, field))
