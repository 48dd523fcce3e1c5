"""Writes to a project's handover record: the page's edits, the starter runbook, the sign-off,
and the record a scenario describes. Every edit clears the sign-off, so a signature always
covers the record as it stands."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from checks.engine.handover_record import HandoverData
from handover.models import AccessEntry, AreaOwner, HandoverRecord, RunbookEntry, SecretLocation
from handover.runbook_defaults import BY_KEY, STARTERS

SIGNATURE_FIELDS = ["consultant_signed_by", "consultant_signed_at", "founder_signed_by", "founder_signed_at"]


class SignOffRefused(ValueError):
    """A sign-off out of turn (the founder before the consultant); the message says why."""


def record_of(project) -> HandoverRecord:
    """The project's handover record, created empty on first use."""
    record, _ = HandoverRecord.objects.get_or_create(project=project)
    return record


def is_signed(record: HandoverRecord) -> bool:
    return record.consultant_signed_at is not None or record.founder_signed_at is not None


def record_or_new(project) -> HandoverRecord:
    """The project's handover record, or a new unsaved one: reading writes nothing."""
    return HandoverRecord.objects.filter(project=project).first() or HandoverRecord(project=project)


def sign_off_clear(record: HandoverRecord) -> bool:
    """Forget both signatures (the record changed); returns whether there was one to clear."""
    if not is_signed(record):
        return False
    record.consultant_signed_by = record.founder_signed_by = None
    record.consultant_signed_at = record.founder_signed_at = None
    record.save(update_fields=SIGNATURE_FIELDS)
    return True


def sign(record: HandoverRecord, user, role: str) -> None:
    """``user`` signs as ``role`` (``consultant`` or ``founder``) now. Raises
    ``SignOffRefused`` when the founder signs before the consultant has, or a side signs twice
    (an edit clears both signatures, so signing again follows an edit).

    The row is re-read under a lock and only the signature fields are written: a signer's
    page loaded before an edit cannot put the old text back, and two signers at once cannot
    both pass the checks."""
    with transaction.atomic():
        locked = HandoverRecord.objects.select_for_update().get(pk=record.pk)
        _sign(locked, user, role)
        locked.save(update_fields=SIGNATURE_FIELDS)
    for name in SIGNATURE_FIELDS:
        setattr(record, name, getattr(locked, name))


def _sign(record: HandoverRecord, user, role: str) -> None:
    now = timezone.now()
    if role == "consultant":
        if record.consultant_signed_at is not None:
            raise SignOffRefused("The consultant has already signed this record.")
        record.consultant_signed_by, record.consultant_signed_at = user, now
    elif role == "founder":
        if record.consultant_signed_at is None:
            raise SignOffRefused("The consultant signs first: the founder signs the record they hand over.")
        if record.founder_signed_at is not None:
            raise SignOffRefused("The founder has already signed this record.")
        record.founder_signed_by, record.founder_signed_at = user, now
    else:
        raise ValueError(f"unknown sign-off role {role!r}")


def runbook_missing(project) -> list:
    """The starter situations the project's runbook has no entry for (``Starter``s, in order)."""
    have = set(project.runbook_entries.values_list("key", flat=True))
    return [starter for starter in STARTERS if starter.key not in have]


def runbook_adopt(project, key: str) -> RunbookEntry | None:
    """Add the starter entry ``key`` (its title and steps) to the runbook, last; ``None`` when
    the runbook already has an entry for it. Raises ``KeyError`` for an unknown key."""
    starter = BY_KEY[key]
    if project.runbook_entries.filter(key=key).exists():
        return None
    last = project.runbook_entries.aggregate(last=Max("position"))["last"]
    return RunbookEntry.objects.create(project=project, key=key, title=starter.title,
                                       steps=starter.steps, position=(last or 0) + 1)


@transaction.atomic
def record_sync(project, data: HandoverData) -> HandoverRecord:
    """Make the project's handover record exactly ``data`` (a scenario's, already validated):
    texts, rows (replaced), and the sign-off dates (signed by nobody in particular: a scenario
    names no user). A runbook row with a default key and no steps takes the starter's."""
    record = record_of(project)
    record.deploy_steps = data.deploy_steps
    record.monitoring_links = data.monitoring_links
    record.consultant_signed_by = record.founder_signed_by = None
    record.consultant_signed_at = data.consultant_signed_at
    record.founder_signed_at = data.founder_signed_at
    record.save()
    for model in (SecretLocation, AccessEntry, AreaOwner, RunbookEntry):
        model.objects.filter(project=project).delete()
    SecretLocation.objects.bulk_create(
        SecretLocation(project=project, **row) for row in data.secret_locations
    )
    AccessEntry.objects.bulk_create(AccessEntry(project=project, **row) for row in data.access_map)
    AreaOwner.objects.bulk_create(AreaOwner(project=project, **row) for row in data.owners)
    RunbookEntry.objects.bulk_create(
        RunbookEntry(project=project, position=number, **_runbook_row(row))
        for number, row in enumerate(data.runbook, 1)
    )
    return record


def _runbook_row(row: dict) -> dict:
    starter = BY_KEY.get(row["key"])
    return {"key": row["key"], "title": row["title"] or (starter.title if starter else ""),
            "steps": row["steps"] or (starter.steps if starter else "")}
