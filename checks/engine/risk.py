"""The risk list: fail and warn outcomes ranked by launch impact, then reach.

Order (DESIGN "The check contract"): impact (blocker first); then how many members the
failure touches (apex/www, then app/api/auth, admin last); then fail before warn; then stage
order, check id and target so that the order is stable between runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from checks.engine.result import Impact, Stage, Status
from checks.engine.spec import ProjectSpec

RISK_STATUSES = (Status.FAIL, Status.WARN)


class Ranked(Protocol):
    check_id: str
    stage: Stage | str
    impact: Impact | str
    target: str
    status: Status | str


def risk_key(item: Ranked, project: ProjectSpec):
    return (
        Impact(item.impact).rank,
        -project.reach(item.target),
        0 if Status(item.status) is Status.FAIL else 1,
        Stage(item.stage).number,
        item.check_id,
        item.target,
    )


def rank(items: Iterable[Ranked], project: ProjectSpec) -> list:
    """The fail and warn items of ``items``, in fix order."""
    risks = [i for i in items if Status(i.status) in RISK_STATUSES]
    return sorted(risks, key=lambda i: risk_key(i, project))
