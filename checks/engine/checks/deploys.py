"""Stage 3, production hardening: can a release be undone, and is each release checked?

The facts come from the project's record (``ProjectSpec.hardening``: its rollback steps and
when a rollback was last tried, the deploys the webhook recorded with their smoke tests), so
these checks touch no network. Each runs once per project, on the apex; a caller that gave no
hardening facts (``hardening`` is ``None``) plans none.

Impact: high for the rollback — without a tried way back, a bad release stays up while someone
works out how to undo it; medium for deploys — an unrecorded or unchecked release is found
broken by members instead of by the smoke test.
"""

from __future__ import annotations

from checks.engine.registry import Context, check
from checks.engine.result import Impact, Result, Stage
from checks.engine.spec import DeployFacts, HardeningFacts, ProjectSpec

DAY_S = 86400
# A rollback tried more than this long ago is warned about: the platform, the migrations and the
# people have changed since. Two quarters, the agency's rule, in the spirit of the AWS
# Well-Architected Reliability Pillar (REL13-BP03, "test disaster recovery implementation …
# regularly") and Google's SRE book (ch. 8, Release Engineering: rollback is a tested path).
ROLLBACK_STALE_DAYS = 180
LISTED_DEPLOYS = 10
WHERE = "on the project's Deploys page"


def hardening_apex(project: ProjectSpec) -> list[str]:
    """Target: the apex, once per project that has hardening facts."""
    return [project.apex] if project.hardening is not None else []


def _facts(ctx: Context) -> HardeningFacts:
    # hardening_apex plans no unit without facts; a direct call still gets empty facts.
    return ctx.project.hardening or HardeningFacts()


def age_words(age_s: float) -> str:
    """``"5 min ago"``, ``"3 h ago"``, ``"12 days ago"``, ``"1 day ago"``."""
    if age_s < 3600:
        return f"{max(0, int(age_s // 60))} min ago"
    if age_s < DAY_S:
        return f"{int(age_s // 3600)} h ago"
    days = int(age_s // DAY_S)
    return f"{days} day{'s' if days != 1 else ''} ago"


@check("hardening.rollback", stage=Stage.HARDENING, impact=Impact.HIGH,
       title="Rollback written down and tried", targets=hardening_apex, quick=True)
def rollback(target: str, ctx: Context) -> Result:
    """The project's rollback steps are written down (the project form's rollback notes) and
    a rollback was really carried out (a drill recorded on the Deploys page, or a ``rollback``
    event from the deploy webhook). No RFC governs a rollback; the agency's rule, after
    Google's SRE book (ch. 8, Release Engineering) and the AWS Well-Architected Reliability
    Pillar (REL13-BP03): a way back that was never tried is not known to work.

    - fail: no rollback steps written.
    - warn: steps written but never tried; or last tried more than ``ROLLBACK_STALE_DAYS``
      (180) days ago.
    - pass: steps written and tried within 180 days.
    - error: never — the check reads the record, it fetches nothing.
    Evidence: ``{"steps_recorded": bool, "last_tried_age_s": int | None, "stale_after_days":
    180}``. Metrics: ``last_tried_age_days`` when tried.
    """
    facts = _facts(ctx)
    age = facts.rollback_tried_age_s
    evidence = {"steps_recorded": facts.rollback_steps,
                "last_tried_age_s": None if age is None else round(age),
                "stale_after_days": ROLLBACK_STALE_DAYS}
    metrics = {} if age is None else {"last_tried_age_days": round(age / DAY_S, 1)}
    if not facts.rollback_steps:
        return Result.fail(
            "no rollback steps recorded: a bad release cannot be undone quickly", evidence, metrics=metrics,
            remediation="Write the rollback steps in the project's rollback notes (Edit project): the "
                        "command that restores the previous release, how long it takes, what to do about "
                        f"database migrations. Then try them on staging and record the drill {WHERE}.",
        )
    if age is None:
        return Result.warn(
            "rollback steps recorded but never tried: nobody knows they work", evidence,
            remediation="Carry out the rollback once (on staging, or production at a quiet hour) and "
                        f"press \"Record a rollback drill\" {WHERE}; a rollback posted by the deploy "
                        "webhook counts too.",
        )
    if age > ROLLBACK_STALE_DAYS * DAY_S:
        return Result.warn(
            f"rollback last tried {age_words(age)} (over {ROLLBACK_STALE_DAYS} days): try it again",
            evidence, metrics=metrics,
            remediation=f"Run a rollback drill again and record it {WHERE}: the platform and migrations "
                        "have changed since the last one.",
        )
    return Result.passed(f"rollback steps recorded and last tried {age_words(age)}", evidence,
                         metrics=metrics)


def _row(deploy: DeployFacts) -> dict:
    return {"kind": deploy.kind, "environment": deploy.environment, "version": deploy.version,
            "age_s": round(deploy.age_s), "smoke": deploy.smoke_status}


def _named(deploy: DeployFacts) -> str:
    version = f" {deploy.version}" if deploy.version else ""
    return f"{deploy.kind}{version} ({age_words(deploy.age_s)})"


@check("hardening.deploys", stage=Stage.HARDENING, impact=Impact.MEDIUM,
       title="Deploys recorded and smoke-tested", targets=hardening_apex, quick=True)
def deploys(target: str, ctx: Context) -> Result:
    """Deploys reach the panel through the deploy webhook, and the latest production deploy
    (or rollback) passed the smoke test run after it (homepage, login with the test account,
    one authenticated API route; ``checks.engine.smoke``). No RFC governs this; the agency's
    rule that a release is checked the moment it ships, not when a member complains.

    - warn: no deploy recorded; none to production; or the latest production one's smoke test
      is still pending or could not run (not verified either way).
    - fail: the latest production deploy failed its smoke test.
    - pass: it passed.
    - error: never — the check reads the recorded deploys, it fetches nothing.
    Evidence: ``{"deploys": [{kind, environment, version, age_s, smoke}] (newest first, at most
    10), "latest_production": that row or None}``. Metrics: ``deploys_recorded``, and
    ``last_production_deploy_age_days`` when there is one.
    """
    recorded = _facts(ctx).deploys
    production = next((d for d in recorded if d.environment == "production"), None)
    evidence = {"deploys": [_row(d) for d in recorded[:LISTED_DEPLOYS]],
                "latest_production": _row(production) if production else None}
    metrics = {"deploys_recorded": len(recorded)}
    if not recorded:
        return Result.warn(
            "no deploy recorded: connect the deploy webhook", evidence, metrics=metrics,
            remediation=f"Create the deploy webhook {WHERE} and call scripts/post-deploy.sh from the "
                        "client's CI after each release (docs/deploys.md).",
        )
    if production is None:
        return Result.warn(
            f"no production deploy recorded: the latest is a {recorded[0].environment} {_named(recorded[0])}",
            evidence, metrics=metrics,
            remediation="Post production releases to the deploy webhook too, with environment "
                        "\"production\".",
        )
    metrics["last_production_deploy_age_days"] = round(production.age_s / DAY_S, 1)
    named = f"the latest production {_named(production)}"
    if production.smoke_status == "fail":
        return Result.fail(
            f"{named} failed its smoke test", evidence, metrics=metrics,
            remediation=f"Open the deploy {WHERE} to see which step failed; fix it or roll back.",
        )
    if production.smoke_status == "pass":
        return Result.passed(f"{named} passed its smoke test", evidence, metrics=metrics)
    words = "could not run" if production.smoke_status == "error" else "has not finished"
    return Result.warn(
        f"the smoke test of {named} {words}: the release is not verified", evidence, metrics=metrics,
        remediation=f"See the deploy's smoke steps {WHERE}: add a test account and a login and API "
                    "endpoint if they are missing, then deploy again.",
    )
