"""Audits (start → 202, status and results), findings (filters; changes through the finding
lifecycle, never around it), monitors, deploys and the handover PDF, through the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from checks.models import AuditRun
from projects.findings import findings_sync
from projects.models import Finding, FindingEvent
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def test_starting_an_audit_answers_202_with_the_runs_id(client, world, keys,
                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        response = client.post(reverse("api:project-audits", args=[world.a.project.pk]), {"quick": True},
                               content_type="application/json", headers=bearer(keys.a_write))

    assert response.status_code == 202
    run = AuditRun.objects.get(pk=response.json()["id"])
    assert response.json() == {"id": run.pk, "number": 1, "state": "queued",
                               "planned_count": run.planned_count}
    assert response["Location"] == f"/api/v1/audits/{run.pk}/"
    assert (run.project, run.created_by, run.quick) == (world.a.project, world.a.owner, True)


def test_an_audit_shows_its_progress_and_results(client, world, records, keys):
    url = reverse("api:audit-detail", args=[records["a"].running.pk])
    response = client.get(url, headers=bearer(keys.a_read))

    body = response.json()
    assert body["progress"] == {
        "state": "running", "done": 1, "planned": 4, "percent": 25, "error": "",
        "stages": [{"stage": "edge", "title": "Domain & edge", "done": 1, "planned": 4}],
    }
    assert [(r["check"], r["target"], r["status"]) for r in body["results"]] == [
        ("dns.resolves", "alpha.example.com", "pass")]


def test_the_finding_list_filters(client, world, records, keys):
    url = reverse("api:finding-list", args=[world.a.project.pk])

    everything = client.get(url, headers=bearer(keys.a_read)).json()
    blockers = client.get(url, {"impact": "blocker", "status": "open"}, headers=bearer(keys.a_read)).json()
    none = client.get(url, {"status": "verified"}, headers=bearer(keys.a_read)).json()

    assert [(f["check"], f["target"], f["status"]) for f in everything["results"]] == [
        ("tls.certificate", "api.alpha.example.com", "open")]
    assert blockers["count"] == 1
    assert none["count"] == 0


def test_the_finding_list_is_in_the_risk_lists_fix_order(client, world, keys):
    apex = world.a.project.apex_domain
    # (check, target, impact, last verdict): the same impact ranks by reach (apex 4, app 3,
    # admin 1), then fail before warn, as checks/engine/risk.py ranks the risk list.
    rows = [("http.hsts", f"admin.{apex}", "high", "fail"), ("http.hsts", f"app.{apex}", "high", "warn"),
            ("http.hsts", f"app2.{apex}", "high", "fail"), ("dns.caa", apex, "medium", "fail"),
            ("tls.certificate", f"admin.{apex}", "blocker", "fail"), ("http.hsts", apex, "high", "warn")]
    for check_id, target, impact, verdict in rows:
        Finding.objects.create(project=world.a.project, check_id=check_id, target=target, stage="edge",
                               impact=impact, last_result_status=verdict, summary="seeded")

    listed = client.get(reverse("api:finding-list", args=[world.a.project.pk]), headers=bearer(keys.a_read))

    assert [(f["check"], f["target"]) for f in listed.json()["results"]] == [
        ("tls.certificate", f"admin.{apex}"), ("http.hsts", apex), ("http.hsts", f"app.{apex}"),
        ("http.hsts", f"app2.{apex}"), ("http.hsts", f"admin.{apex}"), ("dns.caa", apex)]


def _finding(world) -> Finding:
    return Finding.objects.get(project=world.a.project)


def test_a_finding_is_claimed_fixed_and_given_an_owner_with_history(client, world, records, keys):
    finding = _finding(world)

    response = client.patch(reverse("api:finding-detail", args=[world.a.project.pk, finding.pk]),
                            {"status": "fixed", "note": "Renewed", "owner": "consultant-a"},
                            content_type="application/json", headers=bearer(keys.a_write))

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["owner"]) == ("fixed", "consultant-a")
    events = list(FindingEvent.objects.filter(finding=finding).values_list("kind", "actor__username", "text"))
    assert events[-2:] == [("owner", "owner-a", "Owner: consultant-a"), ("status", "owner-a", "Renewed")]


def test_only_an_audit_verifies_a_finding(client, world, records, keys):
    finding = _finding(world)

    response = client.patch(reverse("api:finding-detail", args=[world.a.project.pk, finding.pk]),
                            {"status": "verified"}, content_type="application/json",
                            headers=bearer(keys.a_write))

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Only an audit sets “Verified”: run one after the fix is deployed."]}
    assert _finding(world).status == "open"


def test_a_refused_change_applies_nothing_of_the_request(client, world, records, keys):
    finding = _finding(world)

    response = client.patch(reverse("api:finding-detail", args=[world.a.project.pk, finding.pk]),
                            {"owner": "consultant-a", "status": "accepted"},
                            content_type="application/json", headers=bearer(keys.a_write))

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Write why the risk is accepted."]}
    assert _finding(world).owner is None


@pytest.mark.parametrize("owner", ["consultant-b", "founder-a", "nobody"])
def test_the_owner_must_be_staff_of_the_agency(client, world, records, keys, owner):
    finding = _finding(world)

    response = client.patch(reverse("api:finding-detail", args=[world.a.project.pk, finding.pk]),
                            {"owner": owner}, content_type="application/json", headers=bearer(keys.a_write))

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["The owner must be an owner or consultant of the agency."]}


def test_monitors_and_deploys_are_listed(client, world, records, keys):
    args, headers = [world.a.project.pk], bearer(keys.a_read)
    monitors = client.get(reverse("api:monitor-list", args=args), headers=headers).json()
    deploys = client.get(reverse("api:deploy-list", args=args), headers=headers).json()

    assert [(m["name"], m["url"]) for m in monitors["results"]] == [("Homepage", "https://www.alpha.example.com/")]
    assert [(d["environment"], d["version"], d["commit"]) for d in deploys["results"]] == [
        ("production", "1.2.0", "abc123")]


def test_the_handover_pdf_downloads(client, world, records, keys):
    response = client.get(reverse("api:handover-pdf", args=[world.a.project.pk]), headers=bearer(keys.a_read))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content == b"%PDF-1.7 handover of agency A"


def test_a_project_without_a_handover_pdf_answers_404_saying_so(client, world, keys):
    response = client.get(reverse("api:handover-pdf", args=[world.a.project.pk]), headers=bearer(keys.a_read))

    assert response.status_code == 404
    assert response.json() == {"detail": "No handover PDF yet: generate one on the project page."}


def _queries(client, url, key) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, headers=bearer(key))  # the key's first use writes last_used_at
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, headers=bearer(key)).status_code == 200
    return len(queries)


def test_findings_and_an_audits_results_cost_the_same_queries_for_many_rows(client, world, records, keys):
    from checks.models import CheckResult

    findings = reverse("api:finding-list", args=[world.a.project.pk])
    audit = reverse("api:audit-detail", args=[records["a"].done.pk])
    few = (_queries(client, findings, keys.a_read), _queries(client, audit, keys.a_read))
    for n in range(40):
        CheckResult.objects.create(run=records["a"].done, check_id="tls.certificate", stage="edge",
                                   impact="high", target=f"h{n}.alpha.example.com", status="fail",
                                   summary="expired")
    findings_sync(records["a"].done)

    assert Finding.objects.filter(project=world.a.project).count() == 41
    assert (_queries(client, findings, keys.a_read), _queries(client, audit, keys.a_read)) == few
    assert few == (4, 5)  # key, project, count, page; key, run, progress (2), results


@pytest.mark.parametrize("query, errors", [
    ({"owner": "a\x00b"}, {"owner": ["Null characters are not allowed."]}),
    ({"status": "closed"}, {"status": ["\"closed\" is not a valid choice."]}),
])
def test_a_filter_that_cannot_match_is_a_400(client, world, records, keys, query, errors):
    # Found by the fuzzing: a NUL byte reached PostgreSQL and answered 500.
    response = client.get(reverse("api:finding-list", args=[world.a.project.pk]), query,
                          headers=bearer(keys.a_read))

    assert (response.status_code, response.json()) == (400, errors)
