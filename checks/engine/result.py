"""Verdicts, stages and launch impact: the vocabulary every check speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """A check's verdict. ``error`` = could not be tested; ``skipped`` = not applicable."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


# Worst first: a proven fault outranks "could not test", which outranks a warning; a check
# that combines several verdicts (two start URLs, several findings) keeps the worst.
SEVERITY = (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIPPED)


def worst_status(statuses) -> Status:
    """The most severe of ``statuses`` by ``SEVERITY``; ``PASS`` when there are none."""
    present = set(statuses)
    return next((s for s in SEVERITY if s in present), Status.PASS)


class Impact(StrEnum):
    """Launch impact of a failing check, most severe first."""

    BLOCKER = "blocker"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for blocker … 3 for low; lower sorts first in the risk list."""
        return list(Impact).index(self)


class Stage(StrEnum):
    """The seven stages of taking an app from prototype to launch, in order."""

    AUDIT = "audit"
    EDGE = "edge"
    HARDENING = "hardening"
    PERFORMANCE = "performance"
    MONITORING = "monitoring"
    EMAIL = "email"
    HANDOVER = "handover"

    @property
    def number(self) -> int:
        """1 … 7."""
        return list(Stage).index(self) + 1

    @property
    def title(self) -> str:
        return STAGE_TITLES[self]


STAGE_TITLES = {
    Stage.AUDIT: "Quick audit",
    Stage.EDGE: "Domain & edge",
    Stage.HARDENING: "Production hardening",
    Stage.PERFORMANCE: "Performance",
    Stage.MONITORING: "Monitoring",
    Stage.EMAIL: "Email",
    Stage.HANDOVER: "Handover",
}


@dataclass
class Result:
    """What one check found for one target.

    ``evidence`` must be JSON-serialisable (records, headers, certificate fields, timings);
    ``metrics`` are numbers whose names carry their unit (``days_left``, ``p95_ms``).
    """

    status: Status
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: str = ""
    metrics: dict[str, float | int] = field(default_factory=dict)

    @classmethod
    def passed(cls, summary: str, evidence: dict | None = None, **kw: Any) -> Result:
        return cls(Status.PASS, summary, evidence or {}, **kw)

    @classmethod
    def warn(cls, summary: str, evidence: dict | None = None, **kw: Any) -> Result:
        return cls(Status.WARN, summary, evidence or {}, **kw)

    @classmethod
    def fail(cls, summary: str, evidence: dict | None = None, **kw: Any) -> Result:
        return cls(Status.FAIL, summary, evidence or {}, **kw)

    @classmethod
    def error(cls, reason: str, evidence: dict | None = None, **kw: Any) -> Result:
        """Could not be tested: never a pass, never a fail. ``reason`` says why."""
        return cls(Status.ERROR, reason, evidence or {}, **kw)

    @classmethod
    def skipped(cls, reason: str, evidence: dict | None = None) -> Result:
        return cls(Status.SKIPPED, reason, evidence or {})


@dataclass
class Outcome:
    """A ``Result`` placed: which check, which target, how long it took."""

    check_id: str
    stage: Stage
    impact: Impact
    target: str
    result: Result
    duration_ms: float

    @property
    def status(self) -> Status:
        return self.result.status

    def as_dict(self) -> dict[str, Any]:
        """The shape printed by ``manage.py audit --json`` and stored as a CheckResult."""
        return {
            "check": self.check_id,
            "stage": str(self.stage),
            "target": self.target,
            "status": str(self.result.status),
            "impact": str(self.impact),
            "summary": self.result.summary,
            "evidence": self.result.evidence,
            "remediation": self.result.remediation,
            "metrics": self.result.metrics,
            "duration_ms": round(self.duration_ms, 1),
        }
