"""Stage 7, handover: is each part of what a founder needs after launch recorded?

The facts come from the project's handover record (``ProjectSpec.handover``, counts and flags
only: no text, never a secret), so these checks touch no network and cannot be ``error``. A
part with nothing recorded fails: an empty handover is the fault these checks exist to show.
Each runs once per project, on the apex.

Impact, by what the founder loses when the part is missing:

- medium — deploy steps, rollback, secret locations, access map: without them the founder
  cannot ship a fix, undo a bad release, rotate a leaked key or lock a leaver out of a
  production system; each turns an ordinary incident into a long outage or a breach. The site
  still runs on launch day, so none blocks the launch.
- low — monitoring links, owners, runbook, sign-off: they shorten an incident (where to look,
  whom to call, what to do first) or close the engagement, but the founder can get by without
  them.
"""

from __future__ import annotations

from checks.engine.registry import Context, check
from checks.engine.result import Impact, Result, Stage
from checks.engine.spec import HandoverFacts, ProjectSpec

# The "what to do if X breaks" situations every handover covers (the defaults the handover
# page offers with starter steps), in the order the page lists them: key → words for people.
RUNBOOK_SITUATIONS = {
    "site_down": "site down",
    "login_broken": "login broken",
    "mail_in_spam": "mails in spam",
    "certificate_expiring": "certificate expiring",
    "bad_deploy": "bad deploy",
}
WHERE = "on the project's Handover page"


def handover_apex(project: ProjectSpec) -> list[str]:
    """Target: the apex, once per project."""
    # No facts given (an engine caller or a scenario without ``handover:``): nothing to judge.
    # The panel always gives them, so there an empty record fails each part.
    return [project.apex] if project.handover is not None else []


def _facts(ctx: Context) -> HandoverFacts:
    # handover_apex plans no unit without facts; a direct call still gets an empty record.
    return ctx.project.handover or HandoverFacts()


@check("handover.deploy_steps", stage=Stage.HANDOVER, impact=Impact.MEDIUM,
       title="Deploy steps recorded", targets=handover_apex, quick=True)
def deploy_steps(target: str, ctx: Context) -> Result:
    """The handover says how a release reaches production (commands, CI job, who may run it).
    No RFC governs a handover; this is the agency's own rule.

    - pass: deploy steps are written down.
    - fail: the deploy steps are blank.
    - error: never — the check reads the record, it fetches nothing.
    Evidence: ``{"recorded": bool}``.
    """
    if _facts(ctx).deploy_steps:
        return Result.passed("deploy steps are recorded", {"recorded": True})
    return Result.fail(
        "no deploy steps recorded: nobody but the agency knows how to ship a fix",
        {"recorded": False},
        remediation=f"Write the deploy steps {WHERE}: how a release goes out (the command or CI "
                    "job), where it runs, and who may run it.",
    )


@check("handover.rollback", stage=Stage.HANDOVER, impact=Impact.MEDIUM,
       title="Rollback recorded", targets=handover_apex, quick=True)
def rollback(target: str, ctx: Context) -> Result:
    """The handover says how to return to the previous release (the project's rollback notes).
    No RFC governs a handover; this is the agency's own rule.

    - pass: rollback instructions are written down.
    - fail: the rollback notes are blank.
    - error: never — the check reads the record, it fetches nothing.
    Evidence: ``{"recorded": bool}``.
    """
    if _facts(ctx).rollback:
        return Result.passed("rollback instructions are recorded", {"recorded": True})
    return Result.fail(
        "no rollback instructions recorded: a bad release cannot be undone quickly",
        {"recorded": False},
        remediation=f"Write the rollback {WHERE}: the command that restores the previous release, "
                    "how long it takes, and what to do about database migrations.",
    )


@check("handover.secret_locations", stage=Stage.HANDOVER, impact=Impact.MEDIUM,
       title="Secret locations recorded", targets=handover_apex)
def secret_locations(target: str, ctx: Context) -> Result:
    """The handover says where each secret lives — store, path, who can reach it — never its
    value (the handover page refuses a value). No RFC governs a handover.

    - pass: at least one secret location is recorded.
    - fail: none is.
    - error: never — the check reads the record, it fetches nothing.
    Evidence: ``{"secret_locations": n}``. Metrics: ``secret_locations``.
    """
    count = _facts(ctx).secret_locations
    evidence = {"secret_locations": count}
    if count:
        return Result.passed(f"{_n(count, 'secret location')} recorded", evidence,
                             metrics={"secret_locations": count})
    return Result.fail(
        "no secret locations recorded: a leaked key could not be found and rotated",
        evidence, metrics={"secret_locations": 0},
        remediation=f"Record {WHERE} where each secret lives (API keys, database URL, SMTP "
                    "password): the store, the path in it and who can reach it — never the value.",
    )


@check("handover.monitoring", stage=Stage.HANDOVER, impact=Impact.LOW,
       title="Monitoring links recorded", targets=handover_apex)
def monitoring(target: str, ctx: Context) -> Result:
    """The handover links to where the app is watched (uptime, errors, logs, status page).
    No RFC governs a handover.

    - pass: at least one monitoring link (a line with a URL) is recorded.
    - fail: none is.
    - error: never — the check reads the record, it fetches nothing.
    Evidence: ``{"monitoring_links": n}``. Metrics: ``monitoring_links``.
    """
    count = _facts(ctx).monitoring_links
    evidence = {"monitoring_links": count}
    if count:
        return Result.passed(f"{_n(count, 'monitoring link')} recorded", evidence,
                             metrics={"monitoring_links": count})
    return Result.fail(
        "no monitoring links recorded: the founder does not know where to look when it breaks",
        evidence, metrics={"monitoring_links": 0},
        remediation=f"Add the monitoring links {WHERE}, one per line: the uptime checks, the "
                    "error tracker, the logs and the status page.",
    )


@check("handover.access_map", stage=Stage.HANDOVER, impact=Impact.MEDIUM,
       title="Access map recorded, MFA on", targets=handover_apex)
def access_map(target: str, ctx: Context) -> Result:
    """The access map lists each production system (hosting, DNS, payments, mail …) with its
    URL, owner, who can log in, and whether multi-factor authentication is on. MFA on every
    account with administrative access is CIS Controls v8 safeguard 6.5; NIST SP 800-63B §4.2
    (AAL2) asks for two factors. No RFC governs a handover.

    - pass: at least one system is recorded, each with MFA on.
    - fail: no system is recorded; a system has MFA off (one stolen password opens it).
    - warn: no system has MFA off but some have it marked unknown.
    - error: never — the check reads the record, it fetches nothing.
    Evidence: ``{"systems": n, "mfa_off": n, "mfa_unknown": n}``. Metrics: the same.
    """
    facts = _facts(ctx)
    evidence = {"systems": facts.access_entries, "mfa_off": facts.access_mfa_off,
                "mfa_unknown": facts.access_mfa_unknown}
    metrics = dict(evidence)
    if not facts.access_entries:
        return Result.fail(
            "no access map recorded: nobody knows who can log in to which production system",
            evidence, metrics=metrics,
            remediation=f"List each production system {WHERE} (hosting, DNS registrar, payments, "
                        "mail, analytics) with its URL, owner, who can log in and whether MFA is on.",
        )
    systems = _n(facts.access_entries, "system")
    if facts.access_mfa_off:
        return Result.fail(
            f"MFA is off on {_n(facts.access_mfa_off, 'system')} of the {systems} in the access map",
            evidence, metrics=metrics,
            remediation="Turn on multi-factor authentication for every account on the systems "
                        f"marked \"MFA off\" {WHERE}, then mark them on.",
        )
    if facts.access_mfa_unknown:
        return Result.warn(
            f"MFA is unknown on {_n(facts.access_mfa_unknown, 'system')} of the {systems} in the "
            "access map", evidence, metrics=metrics,
            remediation=f"Find out whether MFA is on for the systems marked \"unknown\" {WHERE}; "
                        "turn it on where it is not.",
        )
    return Result.passed(f"{systems} in the access map, MFA on for each", evidence, metrics=metrics)


@check("handover.owners", stage=Stage.HANDOVER, impact=Impact.LOW,
       title="Owners per area recorded", targets=handover_apex)
def owners(target: str, ctx: Context) -> Result:
    """The handover names who owns each area after launch (infrastructure, payments, email …)
    and how to reach them. No RFC governs a handover.

    - pass: at least one area has an owner.
    - fail: no owner is recorded.
    - error: never — the check reads the record, it fetches nothing.
    Evidence: ``{"owners": n}``. Metrics: ``owners``.
    """
    count = _facts(ctx).owners
    evidence = {"owners": count}
    if count:
        return Result.passed(f"{_n(count, 'area owner')} recorded", evidence, metrics={"owners": count})
    return Result.fail(
        "no owners recorded: nobody is named for infrastructure, payments or email after launch",
        evidence, metrics={"owners": 0},
        remediation=f"Name an owner and a contact for each area {WHERE}: infrastructure, "
                    "payments, email, the app itself.",
    )


@check("handover.runbook", stage=Stage.HANDOVER, impact=Impact.LOW,
       title="Runbook covers the usual incidents", targets=handover_apex)
def runbook(target: str, ctx: Context) -> Result:
    """The "what to do if X breaks" runbook covers the five usual situations: site down, login
    broken, mails in spam, certificate expiring, bad deploy (entries of the agency's own count
    too, but do not stand in for these). No RFC governs a handover.

    - pass: each of the five situations has an entry.
    - warn: some have none (listed in the summary).
    - fail: the runbook is empty.
    - error: never — the check reads the record, it fetches nothing.
    Evidence: ``{"entries": n, "covered": [keys], "missing": [keys]}``. Metrics: ``entries``.
    """
    facts = _facts(ctx)
    covered = [key for key in RUNBOOK_SITUATIONS if key in facts.runbook_keys]
    missing = [key for key in RUNBOOK_SITUATIONS if key not in facts.runbook_keys]
    evidence = {"entries": facts.runbook_entries, "covered": covered, "missing": missing}
    metrics = {"entries": facts.runbook_entries}
    adopt = f"{WHERE}: adopt the starter steps offered there and make them this project's own."
    if not facts.runbook_entries:
        return Result.fail("the runbook is empty: nothing says what to do when something breaks",
                           evidence, metrics=metrics, remediation=f"Write the runbook {adopt}")
    if missing:
        words = ", ".join(RUNBOOK_SITUATIONS[key] for key in missing)
        return Result.warn(f"the runbook does not cover: {words}", evidence, metrics=metrics,
                           remediation=f"Add runbook entries for {words} {adopt}")
    return Result.passed(f"the runbook covers the {len(RUNBOOK_SITUATIONS)} usual situations "
                         f"({_n(facts.runbook_entries, 'entry', 'entries')})", evidence, metrics=metrics)


@check("handover.sign_off", stage=Stage.HANDOVER, impact=Impact.LOW,
       title="Handover signed off", targets=handover_apex)
def sign_off(target: str, ctx: Context) -> Result:
    """The consultant signed the handover record, then the founder did (an edit after signing
    clears both signatures, so a signature always covers the record as it is). No RFC governs
    a handover.

    - pass: both signed.
    - warn: the consultant signed, the founder has not yet.
    - fail: the consultant has not signed.
    - error: never — the check reads the record, it fetches nothing.
    Evidence: ``{"consultant": bool, "founder": bool}``.
    """
    facts = _facts(ctx)
    evidence = {"consultant": facts.consultant_signed, "founder": facts.founder_signed}
    if facts.consultant_signed and facts.founder_signed:
        return Result.passed("signed off by the consultant and the founder", evidence)
    if facts.consultant_signed:
        return Result.warn("signed by the consultant, waiting for the founder", evidence,
                           remediation=f"Ask the founder to read the handover and sign it {WHERE}.")
    return Result.fail("the handover is not signed off", evidence,
                       remediation=f"When the record is complete, sign it {WHERE}, then ask the "
                                   "founder to sign it too.")


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"
