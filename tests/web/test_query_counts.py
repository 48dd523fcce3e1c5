"""The pages benchmarks/panel_load.py drives read a fixed number of queries, however many
findings and projects an agency has: the risk list, the agency overview (/monitoring/), the
project list and the API's project list.

Counts are pinned exactly, so a new per-row query (an N+1) or a new query per page shows up
here rather than in the benchmark's p95. Growth in monitors and endpoints is pinned already
(tests/monitoring/test_dashboard.py, tests/api/test_projects.py); these grow audits, results
and findings.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from checks.models import AuditRun, CheckResult
from launchready.api.keys import key_create
from projects.models import Finding, Project

pytestmark = pytest.mark.django_db

CHECKS = (("tls.certificate", "edge", "blocker"), ("http.hsts", "edge", "high"),
          ("dns.caa", "edge", "medium"), ("email.dmarc", "email", "high"))


def audit(project: Project, findings: int) -> AuditRun:
    """A finished audit of ``project`` with ``findings`` failing results, a ``Finding`` each,
    and one passed and one untested result."""
    now = timezone.now()
    run = AuditRun.objects.create(project=project, state=AuditRun.State.DONE, started_at=now, finished_at=now)
    units = [(CHECKS[n % len(CHECKS)], f"h{n}.{project.apex_domain}") for n in range(findings + 2)]
    CheckResult.objects.bulk_create(
        CheckResult(run=run, check_id=check_id, stage=stage, impact=impact, target=target,
                    status="fail" if n < findings else ("pass", "error")[n - findings],
                    summary=f"seeded {n}", evidence={"n": n})
        for n, ((check_id, stage, impact), target) in enumerate(units))
    Finding.objects.bulk_create(
        [Finding(project=project, check_id=check_id, target=target, stage=stage, impact=impact,
                 last_result_status="fail", summary=f"seeded {n}", first_run=run, last_run=run,
                 owner=project.created_by)
         for n, ((check_id, stage, impact), target) in enumerate(units[:findings])],
        ignore_conflicts=True)  # a finding outlives its first audit: one per (check, target)
    return run


def more_projects(agency, count: int, findings: int) -> None:
    for n in range(count):
        project = Project.objects.create(agency=agency, name=f"P{n:02}", apex_domain=f"p{n}.example.com")
        audit(project, findings)


def queries(client, url: str, headers: dict | None = None) -> int:
    client.get(url, headers=headers)  # warm: the session's first write, the key's last_used_at
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, headers=headers).status_code == 200
    return len(captured)


def test_the_risk_list_reads_the_same_queries_for_1_and_30_findings(client, world):
    client.force_login(world.a.consultant)
    url = reverse("checks:risks", args=[world.a.project.pk])
    audit(world.a.project, 1)
    one = queries(client, url)

    audit(world.a.project, 30)  # the newer audit is the one shown
    Finding.objects.filter(project=world.a.project).update(owner=world.a.owner)

    assert queries(client, url) == one
    # session, user, memberships, two-factor device, project, run, the results' id, stage,
    # impact, status and text digest (summary, score and cache key), the findings' shown fields
    # (cache key); the cards come from the cache (checks/risk_cards.py)
    assert one == 8


# Both: session, user, memberships, two-factor device. The list: the count, the page's projects,
# their latest audits. The overview: the projects with their monitors and incidents counted (the
# page's probe counts come from the cache within the minute: checks/dashboard.py:overview_uptime).
@pytest.mark.parametrize(("page", "pinned"), [("projects:list", 7), ("checks:monitoring_overview", 5)])
def test_the_agency_pages_read_the_same_queries_for_1_and_30_projects_of_30_findings(
        client, world, page, pinned):
    client.force_login(world.a.owner)
    url = reverse(page)
    audit(world.a.project, 1)
    one = queries(client, url)

    more_projects(world.a.agency, 30, 30)

    assert queries(client, url) == one == pinned


def test_the_api_project_list_reads_the_same_queries_for_1_and_30_projects_of_30_findings(client, world):
    _, key = key_create(agency=world.a.agency, name="counts", scope="read", created_by=world.a.owner)
    headers = {"Authorization": f"Bearer {key}"}
    url = reverse("api:project-list")
    audit(world.a.project, 1)
    one = queries(client, url, headers)

    more_projects(world.a.agency, 30, 30)

    assert queries(client, url, headers) == one == 4  # the key, the count, the page, the endpoints
