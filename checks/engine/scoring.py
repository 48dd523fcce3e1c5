"""Launch-readiness score: one number per stage and one overall, from an audit's results.

The formula (documented for users in docs/scoring.md):

- Each tested unit (one check on one target) weighs by its launch impact:
  blocker 8, high 4, medium 2, low 1 (``WEIGHTS``).
- It earns its full weight when it passes, half when it warns, nothing when it fails
  (``CREDIT``). ``error`` (could not be tested) and ``skipped`` (not applicable) units are left
  out: "could not test" is neither ready nor unready, so it neither raises nor lowers a score.
- A stage's score is ``floor(100 × earned / possible)`` over its tested units, so 100 means
  every tested unit passed; a stage with no tested unit has no score (``None``).
- The overall score is the same fraction over every tested unit of every stage — a weighted
  mean of the stages by how much each one tested, not a mean of the stage scores.
- While any blocker fails ("blockers left" > 0) the overall score is capped at 49
  (``BLOCKER_CAP``): an app that cannot launch never reads as more than half ready.

The score reads the audit's verdicts only. Accepting a risk does not raise it: an accepted
risk still fails. No Django here: the panel, the PDF and the CLI pass any objects with
``stage``, ``impact`` and ``status``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from checks.engine.result import Impact, Stage, Status

WEIGHTS: dict[Impact, int] = {Impact.BLOCKER: 8, Impact.HIGH: 4, Impact.MEDIUM: 2, Impact.LOW: 1}
# Credit in halves, so the arithmetic stays exact: pass 2/2, warn 1/2, fail 0/2.
_HALVES: dict[Status, int] = {Status.PASS: 2, Status.WARN: 1, Status.FAIL: 0}
CREDIT: dict[Status, float] = {status: halves / 2 for status, halves in _HALVES.items()}
BLOCKER_CAP = 49


class Scored(Protocol):
    stage: Stage | str
    impact: Impact | str
    status: Status | str


@dataclass(frozen=True)
class StageScore:
    """One stage: ``score`` 0–100 (``None`` when nothing was tested), ``tested`` units,
    ``earned`` and ``possible`` weight (``earned`` may end in .5)."""

    stage: Stage
    score: int | None
    tested: int
    earned: float
    possible: int

    @property
    def title(self) -> str:
        return self.stage.title


@dataclass(frozen=True)
class Readiness:
    """``overall`` 0–100 (``None`` when nothing was tested), ``uncapped`` (the score before
    the blocker cap), ``capped`` (True when the cap lowered it), ``blockers`` (failing blocker
    units) and ``stages`` in stage order, only the stages that had a unit in the run."""

    overall: int | None
    uncapped: int | None
    capped: bool
    blockers: int
    stages: list[StageScore]


def _percent(halves: int, possible: int) -> int | None:
    """floor(100 × halves / (2 × possible)) in integers; ``None`` for nothing possible."""
    return (100 * halves) // (2 * possible) if possible else None


def readiness(results: Iterable[Scored]) -> Readiness:
    """The launch-readiness of one audit from its ``results`` (any order).

    Raises ``ValueError`` for a stage, impact or status outside the enums.
    """
    halves: dict[Stage, int] = {}
    possible: dict[Stage, int] = {}
    tested: dict[Stage, int] = {}
    blockers = 0
    for result in results:
        stage, impact, status = Stage(result.stage), Impact(result.impact), Status(result.status)
        possible.setdefault(stage, 0)
        halves.setdefault(stage, 0)
        tested.setdefault(stage, 0)
        if status not in _HALVES:  # error, skipped: not tested
            continue
        weight = WEIGHTS[impact]
        possible[stage] += weight
        halves[stage] += weight * _HALVES[status]
        tested[stage] += 1
        if status is Status.FAIL and impact is Impact.BLOCKER:
            blockers += 1
    stages = [
        StageScore(stage=s, score=_percent(halves[s], possible[s]), tested=tested[s],
                   earned=halves[s] / 2, possible=possible[s])
        for s in sorted(possible, key=lambda s: s.number)
    ]
    uncapped = _percent(sum(halves.values()), sum(possible.values()))
    overall = uncapped
    if blockers and uncapped is not None and uncapped > BLOCKER_CAP:
        overall = BLOCKER_CAP
    return Readiness(overall=overall, uncapped=uncapped, capped=overall != uncapped,
                     blockers=blockers, stages=stages)
