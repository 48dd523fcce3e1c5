"""The handover record as plain values for the PDF and the record page.

A value that looks like a secret (``checks/engine/secretlike.py``) is never printed: the forms
refuse one, and a value stored some other way (the admin, an older release) is replaced by
``WITHHELD`` here, so the document holds where secrets live and never what they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.safestring import SafeString

from checks.engine.secretlike import secret_like
from handover.records import record_or_new

WITHHELD = "[withheld: this looked like a secret value]"


def withheld(text: str) -> str:
    """``text``, or ``WITHHELD`` when it looks like a secret value."""
    return WITHHELD if secret_like(text or "") else (text or "")


def steps_html(text: str) -> SafeString:
    """Steps as typed (paragraphs, line breaks, `commands` as code), escaped; withheld when
    they look like a secret value."""
    from handover.services import rollback_html  # services builds its context from this module

    return rollback_html(withheld(text))


@dataclass(frozen=True)
class Signature:
    """One side's sign-off: ``name`` ("" when the user is gone or a scenario signed), ``at``."""

    name: str
    at: datetime


def monitoring_links(text: str) -> list[dict]:
    """Monitoring links as ``[{"label": str, "url": str}]``: one a line, the URL being the
    line's first http(s):// word and the label the rest (``Uptime: https://…`` → ``Uptime``)."""
    links = []
    for line in (text or "").splitlines():
        words = line.split()
        url = next((w for w in words if w.lower().startswith(("http://", "https://"))), None)
        if url:
            label = " ".join(w for w in words if w is not url).rstrip(":").strip()
            links.append({"label": label, "url": url})
    return links


def record_context(project) -> dict:
    """The record's parts for the handover template.

    Keys: ``deploy_steps`` (safe HTML, "" when blank), ``monitoring_links`` (``[{label,
    url}]``), ``secret_locations`` (``[{name, store, path, who_can_access}]``), ``access_map``
    (``[{system, url, owner, people_with_access, mfa, mfa_key}]``, ``mfa`` as "On" / "Off" /
    "Unknown"), ``area_owners`` (``[{area, owner, contact}]``), ``runbook`` (``[{title,
    steps}]``, steps as safe HTML), ``sign_off`` (``{"consultant": Signature | None,
    "founder": …}``). Every text passes through ``withheld``.
    """
    record = record_or_new(project)
    return {
        "deploy_steps": steps_html(record.deploy_steps),
        "monitoring_links": [{k: withheld(v) for k, v in link.items()}
                             for link in monitoring_links(record.monitoring_links)],
        "secret_locations": [_row(s, ("name", "store", "path", "who_can_access"))
                             for s in project.secret_locations.all()],
        "access_map": [{**_row(a, ("system", "url", "owner", "people_with_access")),
                        "mfa": a.get_mfa_display(), "mfa_key": a.mfa} for a in project.access_entries.all()],
        "area_owners": [_row(o, ("area", "owner", "contact")) for o in project.area_owners.all()],
        "runbook": [{"title": withheld(r.title), "steps": steps_html(r.steps)}
                    for r in project.runbook_entries.all()],
        "sign_off": {
            "consultant": _signature(record.consultant_signed_by, record.consultant_signed_at),
            "founder": _signature(record.founder_signed_by, record.founder_signed_at),
        },
    }


def _row(obj, fields: tuple[str, ...]) -> dict:
    return {name: withheld(str(getattr(obj, name) or "")) for name in fields}


def _signature(user, at: datetime | None) -> Signature | None:
    if at is None:
        return None
    name = (user.get_full_name() or user.get_username()) if user is not None else ""
    return Signature(name=name, at=at)
