"""A finding's life across real audits of a sandbox: opened by an audit, claimed fixed by a
consultant, verified by a passing run, regressed by a failing one; accepted risks stay quiet
until they expire; a disproved claim reopens; partial runs, untested results and a second
finalize change nothing. Plus the rules for people's changes (projects.finding_services)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from checks import services
from checks.models import AuditRun, CheckResult
from checks.sandbox import load_scenario
from projects.finding_services import (
    FindingChangeError,
    allowed_statuses,
    finding_accept,
    finding_comment,
    finding_set_due,
    finding_set_owner,
    finding_set_status,
)
from projects.findings import finding_history, findings_sync, sparkline_points
from projects.models import Agency, Finding, FindingEvent, Membership
from projects.services import project_sync_from_scenario

pytestmark = pytest.mark.django_db(transaction=True)

APEX, WWW = "lifecycle.test", "www.lifecycle.test"
CERT = "tls.certificate"
HSTS = "max-age=63072000; includeSubDomains"


def scenario(certificate, *, dns: dict | None = None) -> dict:
    """The apex redirecting to www, both with HSTS; www's certificate is the thing we fix."""
    return {
        "name": "Lifecycle",
        "project": {"name": "Lifecycle", "apex": APEX, "preferred_host": WWW, "subdomains": ["www"]},
        "dns": dns or {},
        "hosts": {
            APEX: {"https": [{"path": "/*", "status": 301, "headers": [
                ["Location", f"https://{WWW}{{path}}"], ["Strict-Transport-Security", HSTS]]}]},
            WWW: {"certificate": certificate, "https": [{"path": "/*", "headers": [
                ["Strict-Transport-Security", HSTS]], "body": "<!doctype html><title>Lifecycle</title>"}]},
        },
    }


EXPIRED, RENEWED, EXPIRING = "expired", {"days_left": 40}, {"days_left": 5}


class Surface:
    """The client's launch surface on disk: ``set(certificate)`` changes it between audits."""

    def __init__(self, path: Path):
        self.path = path

    def set(self, certificate, **kw) -> None:
        self.path.write_text(json.dumps(scenario(certificate, **kw)))


@pytest.fixture
def people(django_user_model):
    """``(agency, consultant, founder)``."""
    agency = Agency.objects.create(name="Northwind Digital", slug="northwind")
    consultant = django_user_model.objects.create_user(
        username="nadia", first_name="Nadia", last_name="Berg", password="pw-123456789")
    founder = django_user_model.objects.create_user(username="fran", password="pw-123456789")
    Membership.objects.create(user=consultant, agency=agency, role=Membership.Role.CONSULTANT)
    Membership.objects.create(user=founder, agency=agency, role=Membership.Role.CLIENT)
    return agency, consultant, founder


@pytest.fixture
def surface(tmp_path, people):
    """``(Surface, project)``: www's certificate starts expired."""
    surface = Surface(tmp_path / "lifecycle.json")
    surface.set(EXPIRED)
    project = project_sync_from_scenario(load_scenario(surface.path), agency=people[0])
    project.founders.add(people[2])
    return surface, project


def audit(project, **kw) -> AuditRun:
    run = services.audit_start(project=project, dispatch=False, **kw)
    services.audit_execute(run.pk)
    run.refresh_from_db()
    assert run.state == "done", run.error
    return run


def cert_finding(project) -> Finding:
    return Finding.objects.get(project=project, check_id=CERT, target=WWW)


def result(run, check=CERT, target=WWW) -> CheckResult:
    return CheckResult.objects.get(run=run, check_id=check, target=target)


def history(finding) -> list[tuple]:
    """(kind, actor username or None, run id or None, from, to, text) per event, in order."""
    return [
        (e.kind, e.actor.username if e.actor else None, e.run_id, e.from_status, e.to_status, e.text)
        for e in finding.events.select_related("actor")
    ]


def test_a_finding_opens_is_claimed_fixed_is_verified_and_regresses(surface, people):
    surface_file, project = surface
    _, consultant, _ = people

    first = audit(project)
    finding = cert_finding(project)
    assert (finding.status, finding.last_result_status, finding.impact) == ("open", "fail", "blocker")
    assert (finding.first_run_id, finding.last_run_id) == (first.pk, first.pk)
    expired = result(first)
    assert expired.metrics == {"days_left": -3}

    finding_set_status(finding, actor=consultant, status="in_progress")
    finding_set_status(finding, actor=consultant, status="fixed", text="Renewed with certbot, auto-renew on.")
    assert cert_finding(project).status == "fixed"

    surface_file.set(RENEWED)
    second = audit(project)
    finding = cert_finding(project)
    renewed = result(second)
    assert renewed.status == "pass" and renewed.metrics == {"days_left": 39}
    assert (finding.status, finding.last_result_status, finding.last_run_id) == (
        "verified", "pass", second.pk)

    surface_file.set(EXPIRING)
    third = audit(project)
    finding = cert_finding(project)
    expiring = result(third)
    assert expiring.status == "fail" and expiring.metrics == {"days_left": 4}
    assert (finding.status, finding.last_result_status, finding.summary) == (
        "regressed", "fail", expiring.summary)

    assert history(finding) == [
        ("opened", None, first.pk, "", "open", f"Audit #1: fail: {expired.summary}"),
        ("status", "nadia", None, "open", "in_progress", ""),
        ("status", "nadia", None, "in_progress", "fixed", "Renewed with certbot, auto-renew on."),
        ("status", None, second.pk, "fixed", "verified", f"Audit #2 passed: {renewed.summary}"),
        ("status", None, third.pk, "verified", "regressed",
         f"Audit #3 fails again: {expiring.summary}"),
    ]
    # Before and after: the value at each run, read from the stored results.
    before_after = finding_history(finding)
    assert [(row["run"].pk, row["status"], row["values"]) for row in before_after["rows"]] == [
        (first.pk, "fail", [-3]), (second.pk, "pass", [39]), (third.pk, "fail", [4]),
    ]
    assert [(m["name"], m["first"], m["last"], m["points"]) for m in before_after["metrics"]] == [
        ("days_left", -3, 4, "3.0,25.0 60.0,3.0 117.0,21.3"),
    ]


def test_a_claimed_fix_that_still_fails_goes_back_to_open(surface, people):
    _, project = surface
    first = audit(project)
    finding_set_status(cert_finding(project), actor=people[1], status="fixed")

    second = audit(project)  # the certificate is still the expired one

    finding = cert_finding(project)
    assert (finding.status, finding.last_run_id) == ("open", second.pk)
    assert history(finding)[1:] == [
        ("status", "nadia", None, "open", "fixed", ""),
        ("status", None, second.pk, "fixed", "open",
         f"Claimed fixed, but audit #2 still fails: {result(second).summary}"),
    ]
    assert first.pk < second.pk


def test_an_accepted_risk_stays_quiet_until_its_expiry_then_reopens(surface, people):
    _, project = surface
    today = timezone.localdate()
    audit(project)
    finding_accept(cert_finding(project), actor=people[1], reason="The old host is retired next month.",
                   until=today + timedelta(days=30))

    quiet = audit(project)
    finding = cert_finding(project)
    assert (finding.status, finding.last_run_id, finding.last_result_status) == ("accepted", quiet.pk, "fail")
    assert finding.events.count() == 2  # opened, accepted: the failing run said nothing

    Finding.objects.filter(pk=finding.pk).update(accepted_until=today)  # its last day
    audit(project)
    assert cert_finding(project).status == "accepted"
    assert finding.events.count() == 2

    Finding.objects.filter(pk=finding.pk).update(accepted_until=today - timedelta(days=1))  # ran out
    reopening = audit(project)

    finding = cert_finding(project)
    assert (finding.status, finding.accepted_reason, finding.accepted_until) == ("open", "", None)
    expired_on = (today - timedelta(days=1)).isoformat()
    assert history(finding)[1:] == [
        ("accepted", "nadia", None, "open", "accepted",
         f"Accepted until {today + timedelta(days=30):%Y-%m-%d}: The old host is retired next month."),
        ("status", None, reopening.pk, "accepted", "open",
         f"The acceptance expired on {expired_on} and audit #4 still fails: "
         f"{result(reopening).summary}"),
    ]


def test_a_passing_run_verifies_an_accepted_risk_and_ends_the_acceptance(surface, people):
    surface_file, project = surface
    audit(project)
    finding_accept(cert_finding(project), actor=people[1], reason="Waiting for the registrar.",
                   until=timezone.localdate() + timedelta(days=7))
    surface_file.set(RENEWED)

    run = audit(project)

    finding = cert_finding(project)
    assert (finding.status, finding.accepted_reason, finding.accepted_until) == ("verified", "", None)
    assert history(finding)[-1] == (
        "status", None, run.pk, "accepted", "verified", f"Audit #2 passed: {result(run).summary}"
    )


def test_a_run_of_some_checks_touches_only_the_findings_of_those_checks(surface, people):
    _, project = surface
    first = audit(project)
    finding_set_status(cert_finding(project), actor=people[1], status="fixed")
    before = {f.pk: (f.status, f.last_run_id) for f in Finding.objects.filter(project=project)}

    partial = audit(project, check_ids=["http.hsts"])

    assert sorted(partial.results.values_list("check_id", "target", "status")) == [
        ("http.hsts", APEX, "pass"), ("http.hsts", WWW, "error"),  # www: its TLS fails
    ]
    after = {f.pk: (f.status, f.last_run_id) for f in Finding.objects.filter(project=project)}
    assert after == before
    assert cert_finding(project).last_run_id == first.pk


def test_a_result_that_could_not_be_tested_changes_nothing(surface, people):
    surface_file, project = surface
    first = audit(project)
    finding_set_status(cert_finding(project), actor=people[1], status="fixed")
    surface_file.set(RENEWED, dns={WWW: "SERVFAIL"})

    second = audit(project)

    assert result(second).status == "error"
    finding = cert_finding(project)
    assert (finding.status, finding.last_run_id, finding.last_result_status) == ("fixed", first.pk, "fail")
    assert finding.events.count() == 2


def test_finalizing_or_syncing_a_run_twice_adds_no_event(surface, people):
    surface_file, project = surface
    first = audit(project)
    surface_file.set(RENEWED)
    second = audit(project)
    events = list(FindingEvent.objects.filter(finding__project=project).values_list("pk", flat=True))
    statuses = dict(Finding.objects.filter(project=project).values_list("pk", "status"))
    assert cert_finding(project).status == "verified"

    assert services.audit_finalize(second.pk) is False  # already done: nothing runs
    findings_sync(second)  # and the sync itself is idempotent
    findings_sync(first)  # an older run synced late does not undo the newer one

    assert list(FindingEvent.objects.filter(finding__project=project).values_list("pk", flat=True)) == events
    assert dict(Finding.objects.filter(project=project).values_list("pk", "status")) == statuses


# People's changes: the rules, on a finding opened by one real audit.

@pytest.fixture
def opened(surface, people):
    """``(finding, consultant, founder)`` after one audit."""
    _, project = surface
    audit(project)
    return cert_finding(project), people[1], people[2]


def test_a_person_moves_a_finding_only_along_the_allowed_ways(opened):
    finding, consultant, _ = opened
    assert allowed_statuses(finding) == ("in_progress", "fixed")
    for status, message in [
        ("verified", "Only an audit sets “Verified”: run one after the fix is deployed."),
        ("regressed", "Only an audit sets “Regressed”: run one after the fix is deployed."),
        ("accepted", "Accept a risk with a reason and an expiry date."),
        ("closed", "There is no status “closed”."),
    ]:
        with pytest.raises(FindingChangeError) as error:
            finding_set_status(finding, actor=consultant, status=status)
        assert str(error.value) == message
    assert finding_set_status(finding, actor=consultant, status="open") is None  # already open
    Finding.objects.filter(pk=finding.pk).update(status="verified")
    finding.refresh_from_db()
    assert allowed_statuses(finding) == ()
    with pytest.raises(FindingChangeError, match="^The last audit verified the fix; only a failing audit"):
        finding_set_status(finding, actor=consultant, status="open")
    assert finding.events.count() == 1


def test_accepting_a_risk_needs_a_reason_and_an_expiry_within_a_year(opened):
    finding, consultant, _ = opened
    today = timezone.localdate()
    for reason, until, message in [
        ("  ", today + timedelta(days=5), "Write why the risk is accepted."),
        ("Known", today, "Pick an expiry date after today: an acceptance must run out."),
        ("Known", today + timedelta(days=366),
         f"Accept a risk for a year at most (until {today + timedelta(days=365):%Y-%m-%d}), "
         "then decide again."),
    ]:
        with pytest.raises(FindingChangeError) as error:
            finding_accept(finding, actor=consultant, reason=reason, until=until)
        assert str(error.value) == message

    event = finding_accept(finding, actor=consultant, reason=" Known ", until=today + timedelta(days=365))

    finding.refresh_from_db()
    assert (finding.status, finding.accepted_reason, finding.accepted_until) == (
        "accepted", "Known", today + timedelta(days=365))
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        "accepted", consultant, "open", "accepted")
    assert allowed_statuses(finding) == ("open",)
    finding_set_status(finding, actor=consultant, status="open", text="We fix it after all.")
    finding.refresh_from_db()
    assert (finding.status, finding.accepted_reason, finding.accepted_until) == ("open", "", None)


def test_the_owner_is_a_staff_member_of_the_agency(opened, django_user_model):
    finding, consultant, founder = opened
    other = Agency.objects.create(name="Elsewhere", slug="elsewhere")
    stranger = django_user_model.objects.create_user(username="stranger", password="pw-123456789")
    Membership.objects.create(user=stranger, agency=other, role=Membership.Role.CONSULTANT)
    for person in (founder, stranger):
        with pytest.raises(FindingChangeError) as error:
            finding_set_owner(finding, actor=consultant, owner=person)
        assert str(error.value) == "The owner must be an owner or consultant of the agency."

    set_event = finding_set_owner(finding, actor=consultant, owner=consultant)
    same = finding_set_owner(finding, actor=consultant, owner=consultant)
    cleared = finding_set_owner(finding, actor=consultant, owner=None)

    assert (set_event.kind, set_event.text, same, cleared.text) == (
        "owner", "Owner: Nadia Berg", None, "Owner removed")
    finding.refresh_from_db()
    assert finding.owner is None


def test_due_dates_and_comments(opened):
    finding, consultant, _ = opened
    today = timezone.localdate()
    with pytest.raises(FindingChangeError, match="^Pick a due date from today on.$"):
        finding_set_due(finding, actor=consultant, due_date=today - timedelta(days=1))
    due = finding_set_due(finding, actor=consultant, due_date=today + timedelta(days=3))
    assert due.text == f"Due {today + timedelta(days=3):%Y-%m-%d}"
    assert finding_set_due(finding, actor=consultant, due_date=None).text == "Due date removed"
    with pytest.raises(FindingChangeError, match="^Write a comment.$"):
        finding_comment(finding, actor=consultant, text=" \n ", internal=False)
    with pytest.raises(FindingChangeError, match=r"^Keep a comment under 5000 characters \(it has 5001\).$"):
        finding_comment(finding, actor=consultant, text="x" * 5001, internal=False)
    note = finding_comment(finding, actor=consultant, text="Client asked to wait.", internal=True)
    assert (note.kind, note.text, note.internal, note.actor, note.run) == (
        "comment", "Client asked to wait.", True, consultant, None)


def test_a_founder_changes_nothing(opened):
    finding, _, founder = opened
    soon = timezone.localdate() + timedelta(days=3)
    changes = [
        lambda: finding_set_status(finding, actor=founder, status="fixed"),
        lambda: finding_accept(finding, actor=founder, reason="x", until=soon),
        lambda: finding_set_owner(finding, actor=founder, owner=None),
        lambda: finding_set_due(finding, actor=founder, due_date=None),
        lambda: finding_comment(finding, actor=founder, text="hello", internal=False),
    ]
    for change in changes:
        with pytest.raises(PermissionDenied):
            change()
    assert finding.events.count() == 1


def test_sparkline_points_keep_the_time_axis_and_skip_gaps():
    assert sparkline_points([5]) == ""
    assert sparkline_points([None, 5]) == ""
    assert sparkline_points([1, None, 3]) == "3.0,25.0 117.0,3.0"
    assert sparkline_points([2, 2]) == "3.0,14.0 117.0,14.0"
