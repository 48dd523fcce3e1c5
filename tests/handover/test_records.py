"""The handover record stored for a project: what a scenario writes into it, the facts the
panel's audit judges (the same as the engine's from the scenario), and the starter runbook."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from checks.engine.audit import spec_from_dict
from checks.engine.checks.handover import RUNBOOK_SITUATIONS
from checks.engine.spec import HandoverFacts
from checks.sandbox import load_scenario
from handover.models import AccessEntry, AreaOwner, HandoverRecord, RunbookEntry, SecretLocation
from handover.runbook_defaults import BY_KEY, STARTERS
from projects.services import project_sync_from_scenario
from tests.conftest import SCENARIOS

pytestmark = pytest.mark.django_db


def test_the_starters_are_the_engines_five_situations_in_its_order():
    assert [s.key for s in STARTERS] == list(RUNBOOK_SITUATIONS)
    assert [s.title for s in STARTERS] == [
        "Site down",
        "Login broken",
        "Mails land in spam",
        "Certificate expiring",
        "Bad deploy",
    ]
    for starter in STARTERS:
        lines = starter.steps.splitlines()
        assert [line.split(". ")[0] for line in lines] == [str(n) for n in range(1, len(lines) + 1)]
        assert all(len(line) <= 100 for line in lines)  # short enough for a phone


def test_the_demo_scenario_is_written_into_the_handover_record():
    scenario = load_scenario(SCENARIOS / "demo.yaml")
    project = project_sync_from_scenario(scenario)
    record = HandoverRecord.objects.get(project=project)
    assert record.deploy_steps.startswith("1. Merge the pull request into `main`; CI runs the tests.\n")
    assert record.monitoring_links == (
        "Uptime: https://status.clubhouse.test/\n"
        "Errors: https://errors.clubhouse.test/clubhouse\n"
        "Logs: https://logs.clubhouse.test/app/clubhouse"
    )
    assert (record.consultant_signed_at, record.founder_signed_at) == (
        datetime(2026, 11, 27, tzinfo=UTC),
        datetime(2026, 11, 28, tzinfo=UTC),
    )
    assert (record.consultant_signed_by, record.founder_signed_by) == (None, None)  # a scenario names no user
    assert list(SecretLocation.objects.filter(project=project).values_list("name", "store")) == [
        ("Database URL", "PaaS config vars"),
        ("SMTP password", "1Password"),
        ("Stripe live secret key", "1Password"),
    ]
    assert list(AccessEntry.objects.filter(project=project).values_list("system", "mfa")) == [
        ("DNS registrar", "on"),
        ("Mailhost", "on"),
        ("PaaS hosting", "on"),
        ("Stripe", "on"),
    ]
    assert AreaOwner.objects.filter(project=project).count() == 3
    runbook = list(
        RunbookEntry.objects.filter(project=project).values_list("key", "title", "steps", "position")
    )
    assert runbook[:4] == [(s.key, s.title, s.steps, n) for n, s in enumerate(STARTERS[:4], 1)]
    assert runbook[4] == (
        "bad_deploy",
        "Bad deploy",
        "1. `paas rollback v<N>` to the previous release.\n"
        "2. Check login and the feed.\n3. Fix on a branch, redeploy.",
        5,
    )


def test_the_panel_judges_the_same_facts_as_the_engine_from_the_scenario():
    scenario = load_scenario(SCENARIOS / "demo.yaml")
    project = project_sync_from_scenario(scenario)
    assert (
        project.spec().handover
        == spec_from_dict(scenario.project).handover
        == HandoverFacts(
            deploy_steps=True,
            rollback=True,
            secret_locations=3,
            monitoring_links=3,
            access_entries=4,
            owners=3,
            runbook_keys=tuple(sorted(RUNBOOK_SITUATIONS)),
            runbook_entries=5,
            consultant_signed=True,
            founder_signed=True,
        )
    )


def test_syncing_again_replaces_the_rows_and_a_scenario_without_handover_empties_the_record():
    scenario = load_scenario(SCENARIOS / "demo.yaml")
    project = project_sync_from_scenario(scenario)
    assert project_sync_from_scenario(scenario).pk == project.pk
    assert (SecretLocation.objects.count(), RunbookEntry.objects.count()) == (3, 5)
    scenario.project.pop("handover")
    project_sync_from_scenario(scenario)
    assert (
        SecretLocation.objects.count(),
        AccessEntry.objects.count(),
        AreaOwner.objects.count(),
        RunbookEntry.objects.count(),
    ) == (0, 0, 0, 0)
    assert project.spec().handover == HandoverFacts(rollback=True)


def test_a_project_never_given_a_record_has_empty_facts_and_a_new_one_too(world):
    assert world.a.project.spec().handover == HandoverFacts(rollback=True)
    assert not HandoverRecord.objects.exists()  # reading the facts creates nothing


def test_mfa_and_runbook_keys_are_counted_from_the_rows(world):
    project = world.a.project
    for system, mfa in (("A", "on"), ("B", "off"), ("C", "unknown"), ("D", "unknown")):
        AccessEntry.objects.create(project=project, system=system, mfa=mfa)
    RunbookEntry.objects.create(
        project=project, key="bad_deploy", title="Bad deploy", steps=BY_KEY["bad_deploy"].steps
    )
    RunbookEntry.objects.create(project=project, key="", title="Webhooks", steps="Replay them.")
    HandoverRecord.objects.create(project=project, monitoring_links="Uptime https://a.test/\nnotes only")
    facts = project.spec().handover
    assert (facts.access_entries, facts.access_mfa_off, facts.access_mfa_unknown) == (4, 1, 2)
    assert (facts.runbook_keys, facts.runbook_entries, facts.monitoring_links) == (("bad_deploy",), 2, 1)
