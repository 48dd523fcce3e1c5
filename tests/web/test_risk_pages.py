"""The risk list and project page after a real audit of the demo sandbox."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from checks import services
from checks.engine.registry import all_checks
from checks.models import AuditRun, CheckResult
from checks.sandbox import load_scenario
from projects.models import Agency, Membership
from projects.services import project_sync_from_scenario
from tests.conftest import DEMO_COUNTS, DEMO_EXPECT, SCENARIOS

# Audits write from stage threads: they must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

DEMO_RISKS = [
    ("tls.certificate", "api.clubhouse.test", "blocker", "fail"),
    ("dns.resolves", "admin.clubhouse.test", "blocker", "fail"),
    ("http.hsts", "app.clubhouse.test", "high", "fail"),
    ("http.canonical_redirect", "clubhouse.test", "medium", "warn"),
    ("http.redirect_hops", "clubhouse.test", "low", "warn"),  # the third fault, seen from http://
]


@pytest.fixture
def audited(django_user_model):
    """``(consultant, project, run)``: the demo project audited once against its sandbox."""
    agency = Agency.objects.create(name="Northwind Digital", slug="northwind")
    consultant = django_user_model.objects.create_user(username="nadia", password="pw-123456789")
    Membership.objects.create(user=consultant, agency=agency, role=Membership.Role.CONSULTANT)
    project = project_sync_from_scenario(load_scenario(SCENARIOS / "demo.yaml"), agency=agency)
    run = services.audit_start(project=project, user=consultant, dispatch=False)
    services.audit_execute(run.pk)
    run.refresh_from_db()
    assert run.state == "done", run.error
    return consultant, project, run


def test_the_risk_list_ranks_the_demo_risks_in_fix_order(client, audited):
    consultant, project, run = audited
    client.force_login(consultant)

    response = client.get(reverse("checks:risks", args=[project.pk]))

    pairs = response.context["risks"]
    assert [(r.check_id, r.target, r.impact, r.status) for r, _ in pairs] == DEMO_RISKS
    assert [f.status for _, f in pairs] == ["open"] * len(DEMO_RISKS)
    assert response.context["summary"]["blockers"] == 2
    assert response.context["summary"]["counts"] == {
        **DEMO_COUNTS
    }
    html = response.content.decode()
    rows = re.findall(
        r'<li class="risk (blocker|high|medium|low)" data-check="([\w.]+)" data-target="([\w.]+)" id=', html
    )
    assert rows == [(impact, check, target) for check, target, impact, _ in DEMO_RISKS]


def test_the_risk_list_shows_blockers_left_first_and_the_untested_apart(client, audited):
    consultant, project, run = audited
    client.force_login(consultant)

    html = client.get(reverse("checks:run", args=[run.pk])).content.decode()

    blockers = html.index('id="blockers-left"')
    assert blockers < html.index('id="risks"') < html.index('id="untested"')
    assert re.search(r'id="blockers-left">\s*<span class="n">2</span>', html)
    untested = re.findall(r'<li class="risk untested" data-check="([\w.]+)" data-target="([^"]+)" id=', html)
    stage_of = {c.id: c.stage.number for c in all_checks()}
    assert untested == sorted((key for key, status in DEMO_EXPECT.items() if status == "error"),
                              key=lambda key: (stage_of[key[0]], *key))
    assert ("tls.certificate", "admin.clubhouse.test") in untested


def test_the_passed_checks_are_listed_last_folded_away(client, audited):
    consultant, project, run = audited
    client.force_login(consultant)

    html = client.get(reverse("checks:run", args=[run.pk])).content.decode()

    assert html.index('id="untested"') < html.index('id="passed"')
    passed = re.findall(r'<li class="risk passed" data-check="([\w.]+)" data-target="([^"]+)" id=', html)
    stage_of = {c.id: c.stage.number for c in all_checks()}
    assert passed == sorted((key for key, status in DEMO_EXPECT.items() if status == "pass"),
                            key=lambda key: (stage_of[key[0]], *key))
    assert ("tls.certificate", "www.clubhouse.test") in passed


def test_the_evidence_is_shown_as_indented_json(client, audited):
    consultant, project, run = audited
    client.force_login(consultant)

    response = client.get(reverse("checks:run", args=[run.pk]))

    first, _ = response.context["risks"][0]
    assert first.evidence_json == json.dumps(first.evidence, indent=2, ensure_ascii=False)
    assert '&quot;verify_error&quot;: &quot;certificate has expired&quot;' in response.content.decode()


def test_the_project_page_summarises_the_last_finished_audit(client, audited):
    consultant, project, run = audited
    client.force_login(consultant)

    response = client.get(reverse("projects:detail", args=[project.pk]))

    assert response.context["summary"]["blockers"] == 2
    assert response.context["progress"]["state"] == "done"
    assert response.context["progress"]["percent"] == 100
    html = response.content.decode()
    assert f'id="summary" data-run="{run.pk}"' in html
    assert f'id="progress" data-url="/runs/{run.pk}/progress.json" data-state="done"' in html
    # A finished run is not polled.
    assert "setTimeout(poll" not in html



SEVEN_STAGES = ["1. Quick audit", "2. Domain & edge", "3. Production hardening", "4. Performance",
                "5. Monitoring", "6. Email", "7. Handover"]


def _texts(html: str, pattern: str) -> list[str]:
    """The text of each match of ``pattern`` (its group: an item's inner HTML) as a reader sees it:
    tags dropped, ``&amp;`` read back, white space squashed."""
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inner)).replace("&amp;", "&").strip()
            for inner in re.findall(pattern, html, flags=re.S)]


def _between(html: str, start: str, end: str) -> str:
    html = html[html.index(start):]
    return html[:html.index(end)]


def test_the_project_page_numbers_the_stages_from_1_the_quick_audit(client, audited):
    consultant, project, _ = audited
    client.force_login(consultant)

    response = client.get(reverse("projects:detail", args=[project.pk]))

    # Stage 1 has no checks of its own (its result is the risk list): its row opens the list.
    html = response.content.decode()
    readiness, summary = response.context["readiness"], response.context["summary"]
    scores = _texts(_between(html, '<ul id="readiness-stages">', "</ul>"), r"<li[^>]*>(.*?)</li>")
    assert scores == ["1. Quick audit Ranked risk list →",
                      *(f"{s.stage.number}. {s.title} {s.score}" for s in readiness.stages)]
    assert [row.rsplit(" ", 1)[0] for row in scores[1:]] == SEVEN_STAGES[1:]
    risks = reverse("checks:risks", args=[project.pk])
    assert f'<a class="ranked" href="{risks}">Ranked risk list →</a>' in html
    counts = _texts(_between(html, '<table class="stage-counts">', "</table>"), r"<tr[^>]*>(.*?)</tr>")
    assert counts == ["Stage Fail Warn Pass Untested", "1. Quick audit ranked in the risk list",
                      *(f"{s['number']}. {s['stage']} {s['fail']} {s['warn']} {s['pass']} {s['error']}"
                        for s in summary["stages"])]
    assert [f"{s['number']}. {s['stage']}" for s in summary["stages"]] == SEVEN_STAGES[1:]


def test_the_risk_list_names_stage_1_as_itself(client, audited):
    consultant, project, _ = audited
    client.force_login(consultant)

    html = client.get(reverse("checks:risks", args=[project.pk])).content.decode()

    scores = _texts(_between(html, '<ul id="readiness-stages">', "</ul>"), r"<li[^>]*>(.*?)</li>")
    assert scores[0] == "1. Quick audit ranked below"
    assert [row.rsplit(" ", 1)[0] for row in scores[1:]] == SEVEN_STAGES[1:]
    assert '<span class="ranked muted small">ranked below</span>' in html
    assert '<a class="ranked"' not in html  # no link to the page itself


def test_a_stage_1_with_results_of_its_own_is_scored_not_linked(client, world):
    run = AuditRun.objects.create(project=world.a.project, state=AuditRun.State.DONE)
    for stage, status in (("audit", "pass"), ("edge", "fail")):
        CheckResult.objects.create(run=run, check_id=f"{stage}.x", stage=stage, impact="high",
                                   target=world.a.project.apex_domain, status=status, summary=status)
    client.force_login(world.a.founder)

    html = client.get(reverse("projects:detail", args=[world.a.project.pk])).content.decode()

    assert _texts(_between(html, '<ul id="readiness-stages">', "</ul>"), r"<li[^>]*>(.*?)</li>") == [
        "1. Quick audit 100", "2. Domain & edge 0"]
    assert _texts(_between(html, '<table class="stage-counts">', "</table>"), r"<tr[^>]*>(.*?)</tr>") == [
        "Stage Fail Warn Pass Untested", "1. Quick audit 0 0 1 0", "2. Domain & edge 1 0 0 0"]
