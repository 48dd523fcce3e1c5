"""Stage 7: each handover check's verdicts on recorded facts, the scenario format they come
from, and the refusal of secret values. The checks read the record only: an audit of them
sends no DNS query and opens no connection."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from checks.engine.audit import run_audit, spec_from_dict
from checks.engine.checks.handover import RUNBOOK_SITUATIONS
from checks.engine.handover_record import handover_from_dict, link_lines, mfa_value
from checks.engine.result import Result, Stage
from checks.engine.runner import plan
from checks.engine.secretlike import secret_like
from checks.engine.spec import HandoverFacts, ProjectSpec

ALL_KEYS = tuple(RUNBOOK_SITUATIONS)
STRIPE_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"  # the example key of Stripe's documentation
FULL = HandoverFacts(
    deploy_steps=True, rollback=True, secret_locations=3, monitoring_links=2, access_entries=4, owners=2,
    runbook_keys=ALL_KEYS, runbook_entries=6, consultant_signed=True, founder_signed=True,
)
CHECKS = ["handover.access_map", "handover.deploy_steps", "handover.monitoring", "handover.owners",
          "handover.rollback", "handover.runbook", "handover.secret_locations", "handover.sign_off"]


def audit(facts: HandoverFacts) -> dict[str, tuple[str, str, Result]]:
    """check id → (impact, target, result) of a stage 7 audit of shop.test with ``facts``."""
    spec = ProjectSpec(name="Shop", apex="shop.test", handover=facts)
    outcomes, counters = run_audit(spec, stages=[Stage.HANDOVER])
    assert (counters["dns_queries"], counters["connections_opened"]) == (0, 0)
    return {o.check_id: (str(o.impact), o.target, o.result) for o in outcomes}


def verdicts(facts: HandoverFacts) -> dict[str, tuple[str, str]]:
    return {check: (str(r.status), r.summary) for check, (_, _, r) in audit(facts).items()}


def test_a_complete_record_passes_every_part_on_the_apex():
    results = audit(FULL)
    assert sorted(results) == CHECKS
    assert {target for _, target, _ in results.values()} == {"shop.test"}
    assert verdicts(FULL) == {
        "handover.deploy_steps": ("pass", "deploy steps are recorded"),
        "handover.rollback": ("pass", "rollback instructions are recorded"),
        "handover.secret_locations": ("pass", "3 secret locations recorded"),
        "handover.monitoring": ("pass", "2 monitoring links recorded"),
        "handover.access_map": ("pass", "4 systems in the access map, MFA on for each"),
        "handover.owners": ("pass", "2 area owners recorded"),
        "handover.runbook": ("pass", "the runbook covers the 5 usual situations (6 entries)"),
        "handover.sign_off": ("pass", "signed off by the consultant and the founder"),
    }
    assert all(r.remediation == "" for _, _, r in results.values())


def test_an_empty_record_fails_every_part_with_what_to_do():
    results = audit(HandoverFacts())
    assert {check: (impact, str(r.status), r.summary) for check, (impact, _, r) in results.items()} == {
        "handover.deploy_steps": (
            "medium", "fail", "no deploy steps recorded: nobody but the agency knows how to ship a fix"),
        "handover.rollback": (
            "medium", "fail", "no rollback instructions recorded: a bad release cannot be undone quickly"),
        "handover.secret_locations": (
            "medium", "fail", "no secret locations recorded: a leaked key could not be found and rotated"),
        "handover.monitoring": (
            "low", "fail",
            "no monitoring links recorded: the founder does not know where to look when it breaks"),
        "handover.access_map": (
            "medium", "fail",
            "no access map recorded: nobody knows who can log in to which production system"),
        "handover.owners": (
            "low", "fail",
            "no owners recorded: nobody is named for infrastructure, payments or email after launch"),
        "handover.runbook": (
            "low", "fail", "the runbook is empty: nothing says what to do when something breaks"),
        "handover.sign_off": ("low", "fail", "the handover is not signed off"),
    }
    assert results["handover.deploy_steps"][2].remediation == (
        "Write the deploy steps on the project's Handover page: how a release goes out (the command or CI "
        "job), where it runs, and who may run it."
    )
    assert results["handover.secret_locations"][2].evidence == {"secret_locations": 0}
    assert results["handover.secret_locations"][2].metrics == {"secret_locations": 0}
    assert results["handover.access_map"][2].evidence == {"systems": 0, "mfa_off": 0, "mfa_unknown": 0}
    assert results["handover.runbook"][2].evidence == {"entries": 0, "covered": [], "missing": list(ALL_KEYS)}
    assert results["handover.sign_off"][2].evidence == {"consultant": False, "founder": False}


def test_mfa_off_on_any_system_fails_the_access_map():
    facts = dataclasses.replace(FULL, access_mfa_off=1, access_mfa_unknown=2)
    _, _, result = audit(facts)["handover.access_map"]
    assert (str(result.status), result.summary) == (
        "fail", "MFA is off on 1 system of the 4 systems in the access map")
    assert result.evidence == result.metrics == {"systems": 4, "mfa_off": 1, "mfa_unknown": 2}
    assert result.remediation == (
        "Turn on multi-factor authentication for every account on the systems marked \"MFA off\" on the "
        "project's Handover page, then mark them on."
    )


def test_mfa_not_known_warns():
    _, _, result = audit(dataclasses.replace(FULL, access_mfa_unknown=2))["handover.access_map"]
    assert (str(result.status), result.summary) == (
        "warn", "MFA is unknown on 2 systems of the 4 systems in the access map")
    assert result.evidence == {"systems": 4, "mfa_off": 0, "mfa_unknown": 2}


def test_a_runbook_missing_usual_situations_warns_and_names_them():
    facts = dataclasses.replace(FULL, runbook_keys=("site_down", "bad_deploy"), runbook_entries=3)
    _, _, result = audit(facts)["handover.runbook"]
    assert (str(result.status), result.summary) == (
        "warn", "the runbook does not cover: login broken, mails in spam, certificate expiring"
    )
    assert result.evidence == {"entries": 3, "covered": ["site_down", "bad_deploy"],
                               "missing": ["login_broken", "mail_in_spam", "certificate_expiring"]}
    assert result.metrics == {"entries": 3}
    assert result.remediation == (
        "Add runbook entries for login broken, mails in spam, certificate expiring on the project's Handover "
        "page: adopt the starter steps offered there and make them this project's own."
    )


def test_entries_of_the_agencys_own_do_not_stand_in_for_the_usual_situations():
    facts = dataclasses.replace(FULL, runbook_keys=(), runbook_entries=2)
    assert verdicts(facts)["handover.runbook"] == (
        "warn", "the runbook does not cover: site down, login broken, mails in spam, certificate expiring, "
                "bad deploy"
    )


def test_signed_by_the_consultant_only_waits_for_the_founder():
    facts = dataclasses.replace(FULL, founder_signed=False)
    _, _, result = audit(facts)["handover.sign_off"]
    assert (str(result.status), result.summary) == (
        "warn", "signed by the consultant, waiting for the founder")
    assert result.evidence == {"consultant": True, "founder": False}


def test_one_of_each_is_said_in_the_singular():
    facts = dataclasses.replace(FULL, secret_locations=1, monitoring_links=1, access_entries=1, owners=1,
                                runbook_entries=5)
    got = verdicts(facts)
    assert got["handover.secret_locations"] == ("pass", "1 secret location recorded")
    assert got["handover.monitoring"] == ("pass", "1 monitoring link recorded")
    assert got["handover.access_map"] == ("pass", "1 system in the access map, MFA on for each")
    assert got["handover.owners"] == ("pass", "1 area owner recorded")


def test_without_handover_facts_stage_7_plans_nothing():
    assert [u.key for u in plan(ProjectSpec(name="Shop", apex="shop.test"), stages=[Stage.HANDOVER])] == []
    with_facts = ProjectSpec(name="Shop", apex="shop.test", handover=HandoverFacts())
    assert [u.key for u in plan(with_facts, stages=[Stage.HANDOVER])] == [(c, "shop.test") for c in CHECKS]
    # Deploy steps and rollback belong to the quick audit (stage 1's cross-cutting subset).
    quick = [u.key for u in plan(with_facts, quick=True) if u.check.stage is Stage.HANDOVER]
    assert quick == [("handover.deploy_steps", "shop.test"), ("handover.rollback", "shop.test")]


def test_a_scenario_without_handover_gives_no_facts_and_an_empty_mapping_gives_an_empty_record():
    assert spec_from_dict({"apex": "shop.test"}).handover is None
    assert spec_from_dict({"apex": "shop.test", "handover": {}}).handover == HandoverFacts()
    assert spec_from_dict({"apex": "shop.test", "handover": None}).handover == HandoverFacts()
    blank, written = ({"apex": "shop.test", "rollback_notes": n, "handover": {}} for n in (" \n", "x"))
    assert (spec_from_dict(blank).handover.rollback, spec_from_dict(written).handover.rollback) == (
        False, True)


SCENARIO = """
apex: shop.test
rollback_notes: "`paas rollback`"
handover:
  deploy_steps: "CI deploys main."
  monitoring_links: "Uptime: https://status.shop.test/\\n\\nErrors https://errors.shop.test/"
  secret_locations:
    - {name: Stripe live secret key, store: 1Password, path: Shop / Stripe, who_can_access: Sam}
  access_map:
    - {system: Hosting, mfa: on}
    - {system: DNS, mfa: off}
    - {system: Stripe}
  owners:
    - {area: Payments, owner: Sam}
  runbook:
    - {key: site_down}
    - {key: site_down}
    - {title: Webhooks failing, steps: Replay them.}
  signed_off: {consultant: 2026-11-27}
"""


def test_the_scenario_format_gives_counts_and_flags():
    spec = spec_from_dict(yaml.safe_load(SCENARIO))
    assert spec.handover == HandoverFacts(
        deploy_steps=True, rollback=True, secret_locations=1, monitoring_links=2, access_entries=3,
        access_mfa_off=1, access_mfa_unknown=1, owners=1, runbook_keys=("site_down",), runbook_entries=3,
        consultant_signed=True, founder_signed=False,
    )
    data = handover_from_dict(yaml.safe_load(SCENARIO)["handover"])
    # YAML 1.1 reads a bare on / off as true / false: taken as meant.
    assert [row["mfa"] for row in data.access_map] == ["on", "off", "unknown"]
    assert data.runbook[0] == {"key": "site_down", "title": "", "steps": ""}
    assert data.consultant_signed_at.isoformat() == "2026-11-27T00:00:00+00:00"
    assert data.founder_signed_at is None


@pytest.mark.parametrize(("handover", "message"), [
    ("yes", "the project's handover must be a mapping of deploy_steps, monitoring_links, secret_locations, "
            "access_map, owners, runbook, signed_off"),
    ({"deploy": "x"}, "the project's handover has unknown keys ['deploy']: use deploy_steps, "
                      "monitoring_links, secret_locations, access_map, owners, runbook, signed_off"),
    ({"secret_locations": [{"name": "Stripe key"}]}, "handover.secret_locations 1 has no store"),
    ({"secret_locations": [{"name": "Stripe key", "store": "1Password", "value": "x"}]},
     "handover.secret_locations 1 has unknown keys ['value']: use name, store, path, who_can_access"),
    ({"secret_locations": [{"name": "Stripe key", "store": "Vercel", "path": STRIPE_KEY}]},
     "handover.secret_locations 1: path holds a Stripe secret key (sk_live_…): record where it lives, "
     "not the value"),
    ({"deploy_steps": "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"},
     "handover.deploy_steps holds an AWS access key id (AKIA…): record where it lives, not the value"),
    ({"access_map": [{"system": "DNS", "mfa": "sometimes"}]}, "mfa 'sometimes': use on, off or unknown"),
    ({"access_map": [{"owner": "Sam"}]}, "handover.access_map 1 has no system"),
    ({"owners": [{"area": "Payments"}]}, "handover.owners 1 has no owner"),
    ({"runbook": [{"key": "fire"}]},
     "handover.runbook 1: key 'fire' is not one of site_down, login_broken, mail_in_spam, "
     "certificate_expiring, bad_deploy (leave it out for an entry of your own)"),
    ({"runbook": [{"title": "Fire"}]},
     "handover.runbook 1 needs a title and steps (or a default key: site_down, login_broken, "
     "mail_in_spam, certificate_expiring, bad_deploy)"),
    ({"monitoring_links": ["status page"]}, "handover.monitoring_links: no line holds an http(s):// URL"),
    ({"signed_off": {"founder": "2026-11-28"}},
     "handover.signed_off: the founder signs after the consultant"),
    ({"signed_off": {"consultant": "last week"}},
     "handover.signed_off.consultant 'last week' is not a date like 2026-11-28"),
    ({"signed_off": ["2026-11-28"]},
     "handover.signed_off must be a mapping {consultant: DATE, founder: DATE}"),
    ({"owners": {"area": "Payments"}}, "handover.owners must be a list of at most 100 mappings"),
])
def test_a_handover_the_engine_cannot_use_is_refused_with_the_place(handover, message):
    with pytest.raises(ValueError) as refused:
        spec_from_dict({"apex": "shop.test", "handover": handover})
    assert str(refused.value) == message


def test_link_lines_count_lines_with_a_url_and_mfa_values():
    assert link_lines("Uptime https://a.test/\n\nnotes\nHTTP://B.TEST") == ["Uptime https://a.test/", "HTTP://B.TEST"]
    assert (mfa_value(True), mfa_value(False), mfa_value(None), mfa_value(" Unknown ")) == (
        "on", "off", "unknown", "unknown")


@pytest.mark.parametrize(("text", "what"), [
    (STRIPE_KEY, "a Stripe secret key (sk_live_…)"),
    ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "a Stripe webhook secret (whsec_…)"),
    ("AKIAIOSFODNN7EXAMPLE", "an AWS access key id (AKIA…)"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "a PEM/PGP block (-----BEGIN …)"),
    ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "a GitHub token (ghp_…)"),
    ("xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy", "a Slack token (xox…-)"),
    ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
     "a Slack webhook URL (it is the secret)"),
    ("postgres://app:hunter2hunter2@db.internal:5432/app", "a URL with a password in it"),
    ("https://status.test/feed?token=9f8e7d6c5b4a3210", "a URL with a key or token in its query"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "a JSON Web Token (eyJ…)"),
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "a random-looking string of 40 characters (a key or a password)"),
    ("d1a32fe6aa3cb4fa284d934c469113890875bd4dbfbf8d4721d79d91760cc854",
     "a random-looking string of 64 characters (a key or a password)"),
])
def test_secret_values_are_recognised(text, what):
    assert secret_like(f"the key is {text} for now") == what


@pytest.mark.parametrize("text", [
    "op://Clubhouse/Stripe/live-secret-key", "Clubhouse / Production / Stripe",
    "Vercel env STRIPE_SECRET_KEY",
    "AWS Secrets Manager: prod/clubhouse/DATABASE_URL", "ConnectionStringPrimaryReadWrite2024Production",
    "git checkout 3f2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a", "https://github.com/clubhouse/app/actions/workflows",
    "Sentry: https://clubhouse.sentry.io/issues/?project=4504123456789", "`paas rollback v<N>`", "",
])
def test_locations_paths_and_commit_hashes_are_not_secrets(text):
    assert secret_like(text) is None
