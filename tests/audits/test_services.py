"""Audit lifecycle on the real database against the demo sandbox: claim, stages, finalize,
findings, progress, sweeper."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.utils import timezone

from checks import services
from checks.engine.result import Stage
from checks.models import AuditRun, CheckResult, StageRun
from checks.sandbox import load_scenario
from projects.models import Finding
from projects.services import project_sync_from_scenario
from tests.conftest import DEMO_STAGES, DEMO_UNITS, SCENARIOS

pytestmark = pytest.mark.django_db(transaction=True)

DEMO_RISKS = {
    ("tls.certificate", "api.clubhouse.test"): "fail",
    ("dns.resolves", "admin.clubhouse.test"): "fail",
    ("http.hsts", "app.clubhouse.test"): "fail",
    ("http.canonical_redirect", "clubhouse.test"): "warn",
    ("http.redirect_hops", "clubhouse.test"): "warn",  # the third fault, seen from http://
}


def audited(project) -> AuditRun:
    run = services.audit_start(project=project, dispatch=False)
    services.audit_execute(run.pk)
    run.refresh_from_db()
    return run


@pytest.fixture
def demo_project():
    return project_sync_from_scenario(load_scenario(SCENARIOS / "demo.yaml"))


@pytest.fixture
def editable_project(tmp_path: Path):
    """A project on a private copy of the demo scenario, so a test can fix a fault."""
    path = tmp_path / "demo.yaml"
    path.write_text((SCENARIOS / "demo.yaml").read_text())
    return project_sync_from_scenario(load_scenario(path)), path


def test_a_run_is_planned_with_one_row_per_stage_and_every_unit_counted(demo_project):
    run = services.audit_start(project=demo_project, dispatch=False)
    assert run.state == "queued"
    assert run.planned_count == DEMO_UNITS
    assert list(run.stages.values_list("stage", "planned_count")) == DEMO_STAGES


def test_a_run_can_be_claimed_only_once(demo_project):
    run = services.audit_start(project=demo_project, dispatch=False)
    assert services.audit_claim(run.pk) is True
    assert services.audit_claim(run.pk) is False
    run.refresh_from_db()
    assert run.state == "running" and run.started_at is not None


def test_an_audit_writes_every_result_and_opens_one_finding_per_risk(demo_project):
    run = audited(demo_project)
    assert run.state == "done"
    assert run.results.count() == DEMO_UNITS
    risky = {(r.check_id, r.target): r.status for r in run.results.filter(status__in=["fail", "warn"])}
    assert risky == DEMO_RISKS
    assert {(f.check_id, f.target): f.status for f in demo_project.findings.all()} == {
        key: "open" for key in DEMO_RISKS
    }
    assert all(stage.finished_at is not None for stage in StageRun.objects.filter(run=run))


def test_running_a_stage_again_adds_no_duplicate_results(demo_project):
    run = audited(demo_project)
    AuditRun.objects.filter(pk=run.pk).update(state="running")
    services.stage_execute(run.pk, "edge")
    assert CheckResult.objects.filter(run=run).count() == DEMO_UNITS


def test_a_second_failing_run_keeps_one_finding_per_risk(demo_project):
    audited(demo_project)
    second = audited(demo_project)
    assert demo_project.findings.count() == len(DEMO_RISKS)
    assert set(demo_project.findings.values_list("last_run", flat=True)) == {second.pk}


def test_a_fix_is_verified_by_a_passing_run_and_regresses_when_it_breaks_again(editable_project):
    project, path = editable_project
    audited(project)
    data = yaml.safe_load(path.read_text())
    app_routes = data["hosts"]["app.clubhouse.test"]["https"]
    for route in app_routes:
        route["headers"].append(["Strict-Transport-Security", "max-age=31536000"])
    path.write_text(yaml.safe_dump(data))
    audited(project)
    finding = Finding.objects.get(project=project, check_id="http.hsts", target="app.clubhouse.test")
    assert (finding.status, finding.last_result_status) == ("verified", "pass")
    for route in app_routes:
        route["headers"].pop()
    path.write_text(yaml.safe_dump(data))
    audited(project)
    finding.refresh_from_db()
    assert (finding.status, finding.last_result_status) == ("regressed", "fail")


def test_an_accepted_risk_stays_accepted_when_it_fails_again(demo_project):
    audited(demo_project)
    Finding.objects.filter(check_id="dns.resolves").update(status="accepted")
    audited(demo_project)
    assert Finding.objects.get(check_id="dns.resolves").status == "accepted"


def test_progress_counts_results_as_they_are_written(demo_project):
    run = services.audit_start(project=demo_project, dispatch=False)
    assert services.run_progress(run)["percent"] == 0
    services.audit_execute(run.pk)
    run.refresh_from_db()
    progress = services.run_progress(run)
    assert (progress["state"], progress["done"], progress["planned"]) == ("done", DEMO_UNITS, DEMO_UNITS)
    assert progress["percent"] == 100
    assert progress["stages"] == [
        {"stage": stage, "title": Stage(stage).title, "done": units, "planned": units}
        for stage, units in DEMO_STAGES
    ]


def test_the_sweeper_finishes_a_run_whose_worker_died_as_error(demo_project):
    run = services.audit_start(project=demo_project, dispatch=False)
    services.audit_claim(run.pk)
    AuditRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    fresh = services.audit_start(project=demo_project, dispatch=False)
    services.audit_claim(fresh.pk)
    assert services.sweep_stale_audits() == 1
    run.refresh_from_db()
    fresh.refresh_from_db()
    assert run.state == "error"
    assert run.error == "the worker running this audit stopped answering; start the audit again"
    assert fresh.state == "running"


def test_the_sweeper_finishes_a_run_no_worker_ever_picked_up(demo_project):
    run = services.audit_start(project=demo_project, dispatch=False)
    AuditRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert services.sweep_stale_audits() == 1
    run.refresh_from_db()
    assert run.state == "error"
    assert run.error == "no worker picked this audit up; is the Celery worker running?"


def test_a_project_whose_scenario_file_is_gone_ends_in_error_with_the_reason(editable_project):
    project, path = editable_project
    run = services.audit_start(project=project, dispatch=False)
    path.unlink()
    services.audit_execute(run.pk)
    run.refresh_from_db()
    assert run.state == "error"
    assert run.error == f"{path.resolve()}: cannot read (No such file or directory)"
