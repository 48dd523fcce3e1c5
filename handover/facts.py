"""The handover record of a stored project as the engine's ``HandoverFacts`` (stage 7)."""

from __future__ import annotations

from django.db.models import Count, Q

from checks.engine.handover_record import link_lines
from checks.engine.spec import HandoverFacts
from handover.models import AccessEntry
from handover.records import record_or_new


def handover_facts(project) -> HandoverFacts:
    """Counts and flags of ``project``'s handover record (an absent record is an empty one);
    ``rollback`` is ``project.rollback_notes`` not blank. Five small queries (none for a
    project not saved yet)."""
    if project.pk is None:
        return HandoverFacts(rollback=bool((project.rollback_notes or "").strip()))
    record = record_or_new(project)
    access = project.access_entries.aggregate(
        total=Count("id"),
        off=Count("id", filter=Q(mfa=AccessEntry.Mfa.OFF)),
        unknown=Count("id", filter=Q(mfa=AccessEntry.Mfa.UNKNOWN)),
    )
    keys = list(project.runbook_entries.values_list("key", flat=True))
    return HandoverFacts(
        deploy_steps=bool(record.deploy_steps.strip()),
        rollback=bool((project.rollback_notes or "").strip()),
        secret_locations=project.secret_locations.count(),
        monitoring_links=len(link_lines(record.monitoring_links)),
        access_entries=access["total"],
        access_mfa_off=access["off"],
        access_mfa_unknown=access["unknown"],
        owners=project.area_owners.count(),
        runbook_keys=tuple(key for key in keys if key),
        runbook_entries=len(keys),
        consultant_signed=record.consultant_signed_at is not None,
        founder_signed=record.founder_signed_at is not None,
    )
