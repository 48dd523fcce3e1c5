"""hardening.rollback and hardening.deploys judge the project's record (no network): each
verdict with its exact summary, evidence and metrics; planned only with hardening facts."""

from __future__ import annotations

import pytest

from checks.engine.checks.deploys import age_words
from checks.engine.net.session import Net
from checks.engine.registry import Context, all_checks
from checks.engine.runner import plan
from checks.engine.spec import DeployFacts, HardeningFacts, ProjectSpec

DAY_S = 86400
CHECKS = {c.id: c for c in all_checks()}


def _run(check_id: str, facts: HardeningFacts):
    project = ProjectSpec(name="shop", apex="shop.test", hardening=facts)
    with Net() as net:  # never used: these checks read facts only
        return CHECKS[check_id].run("shop.test", Context(net, project))


def _deploy(environment="production", version="v42", days=1.0, smoke="pass", kind="deploy") -> DeployFacts:
    return DeployFacts(kind=kind, environment=environment, version=version, age_s=days * DAY_S,
                       smoke_status=smoke)


def test_no_check_is_planned_without_hardening_facts():
    spec = ProjectSpec(name="shop", apex="shop.test")
    units = plan(spec, check_ids=["hardening.rollback", "hardening.deploys"])
    assert units == []


def test_both_are_planned_once_on_the_apex_with_facts():
    spec = ProjectSpec(name="shop", apex="shop.test", hardening=HardeningFacts())
    units = plan(spec, check_ids=["hardening.rollback", "hardening.deploys"])
    assert sorted((u.check.id, u.target) for u in units) == [
        ("hardening.deploys", "shop.test"), ("hardening.rollback", "shop.test")]
    assert (CHECKS["hardening.rollback"].impact, CHECKS["hardening.deploys"].impact) == ("high", "medium")
    assert CHECKS["hardening.rollback"].stage == "hardening"


# --- hardening.rollback ---------------------------------------------------------------------


def test_no_rollback_steps_fail():
    result = _run("hardening.rollback", HardeningFacts(rollback_steps=False, rollback_tried_age_s=3 * DAY_S))

    assert result.status == "fail"
    assert result.summary == "no rollback steps recorded: a bad release cannot be undone quickly"
    assert result.evidence == {"steps_recorded": False, "last_tried_age_s": 259200, "stale_after_days": 180}
    assert result.metrics == {"last_tried_age_days": 3.0}


def test_steps_never_tried_warn():
    result = _run("hardening.rollback", HardeningFacts(rollback_steps=True))

    assert result.status == "warn"
    assert result.summary == "rollback steps recorded but never tried: nobody knows they work"
    assert result.evidence == {"steps_recorded": True, "last_tried_age_s": None, "stale_after_days": 180}
    assert result.metrics == {}


def test_steps_tried_recently_pass():
    facts = HardeningFacts(rollback_steps=True, rollback_tried_age_s=12.4 * DAY_S)
    result = _run("hardening.rollback", facts)

    assert result.status == "pass"
    assert result.summary == "rollback steps recorded and last tried 12 days ago"
    assert result.metrics == {"last_tried_age_days": 12.4}


def test_a_drill_older_than_180_days_warns():
    result = _run("hardening.rollback", HardeningFacts(rollback_steps=True, rollback_tried_age_s=200 * DAY_S))

    assert result.status == "warn"
    assert result.summary == "rollback last tried 200 days ago (over 180 days): try it again"
    assert result.metrics == {"last_tried_age_days": 200.0}


def test_a_drill_of_exactly_180_days_still_passes():
    assert _run("hardening.rollback", HardeningFacts(rollback_steps=True,
                                                     rollback_tried_age_s=180 * DAY_S)).status == "pass"


# --- hardening.deploys ----------------------------------------------------------------------


def test_no_deploy_recorded_warns():
    result = _run("hardening.deploys", HardeningFacts())

    assert result.status == "warn"
    assert result.summary == "no deploy recorded: connect the deploy webhook"
    assert result.evidence == {"deploys": [], "latest_production": None}
    assert result.metrics == {"deploys_recorded": 0}


def test_only_staging_deploys_warn():
    result = _run("hardening.deploys", HardeningFacts(deploys=(_deploy("staging", "v43", days=0.1),)))

    assert result.status == "warn"
    assert result.summary == "no production deploy recorded: the latest is a staging deploy v43 (2 h ago)"
    assert result.evidence["latest_production"] is None


def test_the_latest_production_deploy_failing_its_smoke_test_fails():
    deploys = (_deploy("staging", "v44", days=0.01, smoke="pass"),
               _deploy(version="v43", days=2, smoke="fail"),
               _deploy(version="v42", days=9, smoke="pass"))
    result = _run("hardening.deploys", HardeningFacts(deploys=deploys))

    assert result.status == "fail"
    assert result.summary == "the latest production deploy v43 (2 days ago) failed its smoke test"
    v43 = {"kind": "deploy", "environment": "production", "version": "v43", "age_s": 172800, "smoke": "fail"}
    assert result.evidence == {
        "deploys": [
            {"kind": "deploy", "environment": "staging", "version": "v44", "age_s": 864, "smoke": "pass"},
            v43,
            {"kind": "deploy", "environment": "production", "version": "v42", "age_s": 777600,
             "smoke": "pass"},
        ],
        "latest_production": v43,
    }
    assert result.metrics == {"deploys_recorded": 3, "last_production_deploy_age_days": 2.0}


def test_a_passing_latest_production_deploy_passes():
    facts = HardeningFacts(deploys=(_deploy(version="v42", days=1, smoke="pass"),))
    result = _run("hardening.deploys", facts)

    assert result.status == "pass"
    assert result.summary == "the latest production deploy v42 (1 day ago) passed its smoke test"


def test_a_rollback_counts_as_the_latest_production_release():
    facts = HardeningFacts(deploys=(_deploy(kind="rollback", version="v41", days=0.5, smoke="pass"),
                                    _deploy(version="v42", days=1, smoke="fail")))
    result = _run("hardening.deploys", facts)

    assert result.status == "pass"
    assert result.summary == "the latest production rollback v41 (12 h ago) passed its smoke test"


@pytest.mark.parametrize("smoke, words", [("pending", "has not finished"), ("error", "could not run")])
def test_an_unverified_latest_production_deploy_warns(smoke, words):
    result = _run("hardening.deploys", HardeningFacts(deploys=(_deploy(version="v42", days=1, smoke=smoke),)))

    assert result.status == "warn"
    assert result.summary == (f"the smoke test of the latest production deploy v42 (1 day ago) {words}: "
                              "the release is not verified")


def test_evidence_lists_at_most_ten_deploys():
    facts = HardeningFacts(deploys=tuple(_deploy(version=f"v{n}", days=n) for n in range(12)))
    result = _run("hardening.deploys", facts)

    assert len(result.evidence["deploys"]) == 10
    assert result.metrics["deploys_recorded"] == 12


@pytest.mark.parametrize("age_s, words", [(30, "0 min ago"), (600, "10 min ago"), (7200, "2 h ago"),
                                          (DAY_S, "1 day ago"), (3.5 * DAY_S, "3 days ago")])
def test_ages_in_words(age_s, words):
    assert age_words(age_s) == words


# --- the fault scenarios, played exactly --------------------------------------------------------

SCENARIO_VERDICTS = {
    "rollback-none.yaml": {
        "hardening.rollback": ("fail", "no rollback steps recorded: a bad release cannot be undone quickly"),
        "hardening.deploys": ("warn", "no deploy recorded: connect the deploy webhook"),
    },
    "rollback-untried.yaml": {
        "hardening.rollback": ("warn", "rollback steps recorded but never tried: nobody knows they work"),
        "hardening.deploys": ("warn", "no production deploy recorded: the latest is a staging deploy v43 "
                                      "(1 day ago)"),
    },
    "deploys-smoke-failed.yaml": {
        "hardening.rollback": ("pass", "rollback steps recorded and last tried 12 days ago"),
        "hardening.deploys": ("fail", "the latest production deploy v42 (1 day ago) failed its smoke test"),
    },
}


@pytest.mark.parametrize("name", SCENARIO_VERDICTS)
def test_each_fault_scenario_gives_its_exact_verdicts(name):
    from checks.engine.audit import spec_from_dict
    from checks.sandbox import load_scenario
    from tests.conftest import SCENARIOS

    spec = spec_from_dict(load_scenario(SCENARIOS / "faults" / name).project)
    with Net() as net:
        got = {check_id: (str(r.status), r.summary) for check_id in SCENARIO_VERDICTS[name]
               for r in [CHECKS[check_id].run(spec.apex, Context(net, spec))]}

    assert got == SCENARIO_VERDICTS[name]
