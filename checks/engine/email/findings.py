"""Findings: what the record checks collect before they give one verdict.

A record check (DKIM, DMARC, MX) notices several things at once — a weak key here, a missing
report address there. Each is a ``Finding``; the verdict is the worst of them and the summary
names the findings of that rank, so the first line of a result always says why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from checks.engine.result import Status, worst_status


@dataclass(frozen=True)
class Finding:
    """One observation: ``status`` is what it alone would make of the check; ``fix`` what to
    do about it, when the check words its remediation per finding."""

    status: Status
    text: str
    fix: str = ""

    def as_evidence(self) -> dict:
        return {"status": str(self.status), "text": self.text}


def worst(findings: Iterable[Finding]) -> Status:
    """The most severe status among ``findings`` (``FAIL`` > ``ERROR`` > ``WARN``); ``PASS``
    when there are none."""
    return worst_status(f.status for f in findings)


def headline(findings: Iterable[Finding]) -> str:
    """The texts of the most severe findings, joined with ``"; "`` (``""`` when none)."""
    findings = list(findings)
    top = worst(findings)
    return "; ".join(dict.fromkeys(f.text for f in findings if f.status is top))
