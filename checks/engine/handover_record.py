"""A handover record written as data (a scenario's ``project.handover`` mapping), validated,
and the facts the stage 7 checks read from it. Plain Python: the panel stores the same parts
as rows (``handover/models.py``) and derives the same ``HandoverFacts`` from them.

Format (every key optional; ``handover: {}`` is a project that recorded nothing)::

    handover:
      deploy_steps: "1. Merge to main …"
      monitoring_links: ["Uptime https://status.example.com", …]   # or one string, a link a line
      secret_locations: [{name, store, path, who_can_access}, …]
      access_map: [{system, url, owner, people_with_access, mfa: on|off|unknown}, …]
      owners: [{area, owner, contact}, …]
      runbook: [{key, title, steps}, …]   # a default key alone takes the starter steps
      signed_off: {consultant: 2026-11-28, founder: 2026-11-29}

Rollback instructions are the project's own ``rollback_notes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from checks.engine.checks.handover import RUNBOOK_SITUATIONS
from checks.engine.secretlike import secret_like
from checks.engine.spec import HandoverFacts

KEYS = ("deploy_steps", "monitoring_links", "secret_locations", "access_map", "owners", "runbook",
        "signed_off")
ROW_KEYS = {
    "secret_locations": ("name", "store", "path", "who_can_access"),
    "access_map": ("system", "url", "owner", "people_with_access", "mfa"),
    "owners": ("area", "owner", "contact"),
    "runbook": ("key", "title", "steps"),
}
REQUIRED = {"secret_locations": ("name", "store"), "access_map": ("system",), "owners": ("area", "owner")}
MFA = ("on", "off", "unknown")
MAX_ROWS = 100
_URL = re.compile(r"https?://\S+", re.I)


def link_lines(text: str) -> list[str]:
    """The monitoring links of ``text`` (one a line, ``label URL`` or a bare URL): the
    non-blank lines that hold an http(s) URL."""
    return [line.strip() for line in (text or "").splitlines() if _URL.search(line)]


def mfa_value(value: object) -> str:
    """``on`` / ``off`` / ``unknown`` from a scenario value; YAML 1.1 reads a bare ``on`` as
    ``true`` and ``off`` as ``false``, so booleans are taken as meant. Raises ``ValueError``."""
    if value is True:
        return "on"
    if value is False:
        return "off"
    text = str(value if value is not None else "unknown").strip().lower()
    if text not in MFA:
        raise ValueError(f"mfa {value!r}: use on, off or unknown")
    return text


@dataclass(frozen=True)
class HandoverData:
    """A validated handover record: texts, rows as ``{field: str}`` dicts in the order given,
    and the sign-off dates (``None``: not signed)."""

    deploy_steps: str = ""
    monitoring_links: str = ""
    secret_locations: tuple[dict, ...] = ()
    access_map: tuple[dict, ...] = ()
    owners: tuple[dict, ...] = ()
    runbook: tuple[dict, ...] = ()
    consultant_signed_at: datetime | None = None
    founder_signed_at: datetime | None = None

    def facts(self, *, rollback: bool) -> HandoverFacts:
        """The counts and flags the stage 7 checks judge (``rollback``: the project's
        rollback notes are not blank)."""
        return HandoverFacts(
            deploy_steps=bool(self.deploy_steps.strip()),
            rollback=rollback,
            secret_locations=len(self.secret_locations),
            monitoring_links=len(link_lines(self.monitoring_links)),
            access_entries=len(self.access_map),
            access_mfa_off=sum(row["mfa"] == "off" for row in self.access_map),
            access_mfa_unknown=sum(row["mfa"] == "unknown" for row in self.access_map),
            owners=len(self.owners),
            runbook_keys=tuple(row["key"] for row in self.runbook if row["key"]),
            runbook_entries=len(self.runbook),
            consultant_signed=self.consultant_signed_at is not None,
            founder_signed=self.founder_signed_at is not None,
        )


def handover_from_dict(data: object) -> HandoverData:
    """A ``HandoverData`` from a scenario's ``project.handover`` mapping (format in the module
    docstring). Raises ``ValueError`` naming the part: an unknown key, a row without its
    required fields, an unknown runbook key, a founder signing before the consultant, or a
    value that looks like a secret ("record where it lives, not the value")."""
    if not isinstance(data, dict):
        raise ValueError("the project's handover must be a mapping of " + ", ".join(KEYS))
    unknown = sorted(set(map(str, data)) - set(KEYS))
    if unknown:
        raise ValueError(f"the project's handover has unknown keys {unknown}: use {', '.join(KEYS)}")
    links = data.get("monitoring_links") or ""
    if isinstance(links, list):
        links = "\n".join(str(link) for link in links)
    texts = {"deploy_steps": _text(data.get("deploy_steps"), "deploy_steps"),
             "monitoring_links": _text(links, "monitoring_links")}
    if texts["monitoring_links"] and not link_lines(texts["monitoring_links"]):
        raise ValueError("handover.monitoring_links: no line holds an http(s):// URL")
    rows = {part: _rows(data.get(part), part) for part in ROW_KEYS}
    consultant, founder = _signed(data.get("signed_off"))
    return HandoverData(**texts, **rows, consultant_signed_at=consultant, founder_signed_at=founder)


def _text(value: object, where: str) -> str:
    text = "" if value is None else str(value)
    reason = secret_like(text)
    if reason:
        raise ValueError(f"handover.{where} holds {reason}: record where it lives, not the value")
    return text


def _rows(value: object, part: str) -> tuple[dict, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ROWS:
        raise ValueError(f"handover.{part} must be a list of at most {MAX_ROWS} mappings")
    rows = []
    for number, row in enumerate(value, 1):
        where = f"handover.{part} {number}"
        if not isinstance(row, dict):
            raise ValueError(f"{where} must be a mapping of {', '.join(ROW_KEYS[part])}")
        unknown = sorted(set(map(str, row)) - set(ROW_KEYS[part]))
        if unknown:
            raise ValueError(f"{where} has unknown keys {unknown}: use {', '.join(ROW_KEYS[part])}")
        clean = {key: ("" if row.get(key) is None else str(row[key])).strip() for key in ROW_KEYS[part]}
        if part == "access_map":
            clean["mfa"] = mfa_value(row.get("mfa"))
        if part == "runbook":
            _runbook_row(clean, where)
        for key in REQUIRED.get(part, ()):
            if not clean[key]:
                raise ValueError(f"{where} has no {key}")
        for key, text in clean.items():
            reason = secret_like(text)
            if reason:
                raise ValueError(f"{where}: {key} holds {reason}: record where it lives, not the value")
        rows.append(clean)
    return tuple(rows)


def _runbook_row(row: dict, where: str) -> None:
    if row["key"] and row["key"] not in RUNBOOK_SITUATIONS:
        raise ValueError(f"{where}: key {row['key']!r} is not one of {', '.join(RUNBOOK_SITUATIONS)} "
                         "(leave it out for an entry of your own)")
    if not row["key"] and not (row["title"] and row["steps"]):
        keys = ", ".join(RUNBOOK_SITUATIONS)
        raise ValueError(f"{where} needs a title and steps (or a default key: {keys})")


def _signed(value: object) -> tuple[datetime | None, datetime | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict) or set(map(str, value)) - {"consultant", "founder"}:
        raise ValueError("handover.signed_off must be a mapping {consultant: DATE, founder: DATE}")
    consultant, founder = (_when(value.get(side), side) for side in ("consultant", "founder"))
    if founder is not None and consultant is None:
        raise ValueError("handover.signed_off: the founder signs after the consultant")
    return consultant, founder


def _when(value: object, side: str) -> datetime | None:
    """A sign-off date (``2026-11-28``, or a full ISO 8601 time) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        return _when(datetime.fromisoformat(str(value)), side)
    except ValueError:
        raise ValueError(f"handover.signed_off.{side} {value!r} is not a date like 2026-11-28") from None
