"""The launch-readiness score (checks/engine/scoring.py, docs/scoring.md), with exact numbers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from checks.engine.result import Stage
from checks.engine.scoring import BLOCKER_CAP, CREDIT, WEIGHTS, readiness
from tests.conftest import DEMO_EXPECT


@dataclass
class R:
    stage: str
    impact: str
    status: str


def scores(result) -> list[tuple]:
    return [(s.stage.value, s.score, s.tested, s.earned, s.possible) for s in result.stages]


def test_the_weights_and_credits_are_the_documented_ones():
    assert {str(k): v for k, v in WEIGHTS.items()} == {"blocker": 8, "high": 4, "medium": 2, "low": 1}
    assert {str(k): v for k, v in CREDIT.items()} == {"pass": 1.0, "warn": 0.5, "fail": 0.0}
    assert BLOCKER_CAP == 49


def test_each_stage_scores_the_weighted_share_it_earned_rounded_down():
    result = readiness([
        R("email", "high", "pass"), R("email", "high", "fail"),
        R("edge", "blocker", "pass"), R("edge", "high", "warn"), R("edge", "medium", "fail"),
        R("edge", "low", "error"), R("edge", "low", "skipped"),
    ])
    # edge: (8 + 4/2 + 0) / (8 + 4 + 2) = 10/14 = 71.4 %; email: 4/8 = 50 %.
    assert scores(result) == [("edge", 71, 3, 10.0, 14), ("email", 50, 2, 4.0, 8)]
    # overall: (10 + 4) / (14 + 8) = 14/22 = 63.6 %: stages weigh by what they tested.
    assert (result.overall, result.uncapped, result.capped, result.blockers) == (63, 63, False, 0)


def test_a_failing_blocker_caps_the_overall_score_at_49():
    result = readiness([R("edge", "blocker", "fail")] + [R("edge", "high", "pass")] * 10)
    # 40 / 48 = 83.3 % before the cap; the stage itself is not capped.
    assert scores(result) == [("edge", 83, 11, 40.0, 48)]
    assert (result.overall, result.uncapped, result.capped, result.blockers) == (49, 83, True, 1)


def test_a_low_score_stays_below_the_cap_and_a_warning_blocker_does_not_cap():
    low = readiness([R("edge", "blocker", "fail"), R("edge", "low", "pass")])
    assert (low.overall, low.uncapped, low.capped, low.blockers) == (11, 11, False, 1)  # 1/9
    warned = readiness([R("edge", "blocker", "warn")] + [R("edge", "high", "pass")] * 4)
    assert (warned.overall, warned.capped, warned.blockers) == (83, False, 0)  # (4 + 16) / 24


def test_untested_stages_and_empty_audits_have_no_score():
    result = readiness([R("edge", "high", "pass"), R("email", "high", "error"), R("email", "low", "skipped")])
    assert scores(result) == [("edge", 100, 1, 4.0, 4), ("email", None, 0, 0.0, 0)]
    assert result.overall == 100
    nothing = readiness([])
    assert (nothing.overall, nothing.uncapped, nothing.capped, nothing.stages) == (None, None, False, [])


def test_stages_come_in_stage_order_whatever_the_order_of_the_results():
    result = readiness([R("handover", "low", "pass"), R("email", "low", "pass"), R("audit", "low", "pass")])
    assert [s.stage for s in result.stages] == [Stage.AUDIT, Stage.EMAIL, Stage.HANDOVER]


def test_an_unknown_impact_is_refused():
    with pytest.raises(ValueError):
        readiness([R("edge", "critical", "fail")])


def test_the_demo_audit_scores_88_on_the_edge_100_on_mail_and_is_capped_by_its_two_blockers():
    from checks.engine.registry import all_checks

    checks = {c.id: c for c in all_checks()}
    result = readiness(
        R(checks[check].stage, checks[check].impact, status) for (check, _), status in DEMO_EXPECT.items()
    )
    by_stage = {row[0]: row for row in scores(result)}
    # edge: 48 units tested (10 could not be); 3 fail (two of them blockers) and 2 warn.
    assert by_stage["edge"] == ("edge", 88, 48, 160.5, 182)
    assert by_stage["email"] == ("email", 100, 5, 20.0, 20)
    assert (result.overall, result.capped, result.blockers) == (49, True, 2)
