"""The finding page: what is wrong, before and after, history and comments; the staff's
forms; the founder's read-only view without internal comments; the risk list's links and the
launch-readiness score on the risk list and the project page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from checks.models import AuditRun, CheckResult
from projects.findings import findings_sync
from projects.models import Finding, FindingEvent, Membership, Project

pytestmark = pytest.mark.django_db


def finished_run(project, *, days_left: int, status: str) -> AuditRun:
    """A finished audit whose one result is ``tls.certificate`` on api. with ``days_left``,
    synced into the project's findings as finalize does."""
    run = AuditRun.objects.create(project=project, state=AuditRun.State.DONE, finished_at=timezone.now())
    summary = (f"api.{project.apex_domain}: certificate expired {-days_left} days ago" if status == "fail"
               else f"trusted certificate for api.{project.apex_domain}, {days_left} days left")
    CheckResult.objects.create(
        run=run, check_id="tls.certificate", stage="edge", impact="blocker",
        target=f"api.{project.apex_domain}", status=status, summary=summary,
        evidence={"days_left": days_left}, metrics={"days_left": days_left},
        remediation="Renew the certificate and automate renewal (ACME, e.g. Let's Encrypt).",
    )
    findings_sync(run)
    return run


@pytest.fixture
def finding(world):
    """Agency A's open finding: api.'s certificate expired 3 days ago (one audit)."""
    run = finished_run(world.a.project, days_left=-3, status="fail")
    found = Finding.objects.get(project=world.a.project)
    assert (found.status, found.first_run) == ("open", run)
    return found


def page(finding) -> str:
    return reverse("projects:finding", args=[finding.project_id, finding.pk])


def post(client, finding, action: str, **fields):
    data = {"action": action, **{f"{action}-{name}": value for name, value in fields.items()}}
    return client.post(page(finding), data)


def test_the_consultant_reads_the_finding_and_gets_every_form(client, world, finding):
    client.force_login(world.a.consultant)

    response = client.get(page(finding))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 class="target">api.alpha.example.com</h1>' in html
    assert "api.alpha.example.com: certificate expired 3 days ago" in html
    assert "<b>Fix:</b> Renew the certificate and automate renewal (ACME, e.g. Let&#x27;s Encrypt)." in html
    for form in ("status-form", "owner-form", "due-form", "accept-form", "comment-form"):
        assert f'id="{form}"' in html
    # Only the statuses a person may choose, as buttons.
    assert re.findall(r'name="status-status" value="(\w+)"', html) == ["in_progress", "fixed"]
    owners = response.context["forms"]["owner"].fields["owner"].queryset
    assert [u.username for u in owners] == ["consultant-a", "owner-a"]
    assert [e.kind for e in response.context["events"]] == ["opened"]


def test_claiming_a_fix_records_who_and_returns_to_the_page(client, world, finding):
    client.force_login(world.a.consultant)

    response = post(client, finding, "status", status="fixed", note="Renewed; auto-renew on.")

    assert response.status_code == 302
    assert response["Location"] == page(finding)
    finding.refresh_from_db()
    assert finding.status == "fixed"
    event = finding.events.last()
    assert (event.kind, event.actor, event.from_status, event.to_status, event.text) == (
        "status", world.a.consultant, "open", "fixed", "Renewed; auto-renew on.")
    html = client.get(page(finding)).content.decode()
    assert '<li class="msg success" role="status">Saved.</li>' in html
    assert "changed the status: Open → <strong>Fixed (claimed)</strong>" in html
    assert "Claimed fixed: the next audit verifies the claim" in html


def test_a_status_only_an_audit_sets_is_refused_on_the_page(client, world, finding):
    client.force_login(world.a.consultant)

    response = post(client, finding, "status", status="verified")

    assert response.status_code == 200
    assert response.context["forms"]["status"].errors == {
        "status": ["Select a valid choice. verified is not one of the available choices."]
    }
    assert Finding.objects.get(pk=finding.pk).status == "open"


def test_the_owner_must_be_agency_staff(client, world, finding):
    client.force_login(world.a.consultant)
    for person in (world.a.founder, world.b.consultant):
        response = post(client, finding, "owner", owner=person.pk)
        assert response.context["forms"]["owner"].errors == {
            "owner": ["Select a valid choice. That choice is not one of the available choices."]
        }

    post(client, finding, "owner", owner=world.a.owner.pk)
    again = post(client, finding, "owner", owner=world.a.owner.pk)

    assert Finding.objects.get(pk=finding.pk).owner == world.a.owner
    assert finding.events.filter(kind="owner").count() == 1
    nothing = '<li class="msg success" role="status">Nothing changed.</li>'
    assert nothing in client.get(again["Location"]).content.decode()


def test_a_due_date_in_the_past_is_refused_with_the_reason(client, world, finding):
    client.force_login(world.a.consultant)
    today = timezone.localdate()

    refused = post(client, finding, "due", due_date=(today - timedelta(days=1)).isoformat())
    post(client, finding, "due", due_date=(today + timedelta(days=14)).isoformat())

    assert refused.status_code == 200
    reason = '<ul class="errorlist nonfield"><li>Pick a due date from today on.</li></ul>'
    assert reason in refused.content.decode()
    assert Finding.objects.get(pk=finding.pk).due_date == today + timedelta(days=14)


def test_accepting_a_risk_needs_a_reason_and_shows_until_when(client, world, finding):
    client.force_login(world.a.consultant)
    until = timezone.localdate() + timedelta(days=90)

    missing = post(client, finding, "accept", reason="", until=until.isoformat())
    post(client, finding, "accept", reason="Staging host, retired in March.", until=until.isoformat())

    assert missing.context["forms"]["accept"].errors == {"reason": ["This field is required."]}
    refused = missing.content.decode()
    assert 'id="accept" open' in refused  # the failed form stays unfolded
    today = timezone.localdate()  # the date picker offers tomorrow up to a year ahead
    assert f'min="{today + timedelta(days=1)}" max="{today + timedelta(days=365)}"' in refused
    finding.refresh_from_db()
    assert (finding.status, finding.accepted_reason, finding.accepted_until) == (
        "accepted", "Staging host, retired in March.", until)
    html = client.get(page(finding)).content.decode()
    assert f'<dd id="accepted-until">{until:%-d %b %Y}</dd>' in html
    assert re.findall(r'name="status-status" value="(\w+)">(\w+)<', html) == [("open", "Reopen")]


def test_the_founder_reads_without_forms_or_internal_comments(client, world, finding):
    client.force_login(world.a.consultant)
    post(client, finding, "comment", text="Client is slow to answer; chase on Monday.", internal="on")
    post(client, finding, "comment", text="We renew it this week.")
    client.force_login(world.a.founder)

    response = client.get(page(finding))

    assert response.status_code == 200
    html = response.content.decode()
    assert "We renew it this week." in html
    assert "chase on Monday" not in html
    assert [(e.kind, e.text) for e in response.context["events"]] == [
        ("opened",
         "Audit #1: fail: api.alpha.example.com: certificate expired 3 days ago"),
        ("comment", "We renew it this week."),
    ]
    assert "<form" not in html.split('<main class="wrap">')[1]
    assert FindingEvent.objects.filter(finding=finding, internal=True).count() == 1


@pytest.mark.parametrize("action", ["status", "owner", "due", "accept", "comment"])
def test_the_founder_changes_nothing(client, world, finding, action):
    client.force_login(world.a.founder)
    fields = {"status": {"status": "fixed"}, "owner": {"owner": world.a.owner.pk},
              "due": {"due_date": ""}, "accept": {"reason": "x", "until": "2099-01-01"},
              "comment": {"text": "hello"}}[action]

    response = post(client, finding, action, **fields)

    assert response.status_code == 403
    assert finding.events.count() == 1
    assert Finding.objects.get(pk=finding.pk).status == "open"


def test_a_finding_is_reached_only_through_its_own_project(client, world, finding):
    other = finished_run(world.b.project, days_left=-3, status="fail")
    b_finding = Finding.objects.get(project=world.b.project)
    assert other.project == world.b.project
    client.force_login(world.a.consultant)
    # Agency A's consultant: B's finding under B's project, or under A's project: 404.
    assert client.get(page(b_finding)).status_code == 404
    assert client.get(reverse("projects:finding", args=[world.a.project.pk, b_finding.pk])).status_code == 404
    # A second project of agency A does not open A's first project's findings either.
    second = Project.objects.create(agency=world.a.agency, name="Second", apex_domain="second.test")
    assert client.get(reverse("projects:finding", args=[second.pk, finding.pk])).status_code == 404
    assert client.get(page(finding)).status_code == 200


def test_an_unknown_change_is_a_bad_request(client, world, finding):
    client.force_login(world.a.consultant)

    response = client.post(page(finding), {"action": "delete"})

    assert response.status_code == 400
    assert finding.events.count() == 1


def test_before_and_after_shows_the_metric_at_each_audit(client, world, finding):
    first = finding.first_run
    second = finished_run(world.a.project, days_left=79, status="pass")
    third = finished_run(world.a.project, days_left=20, status="pass")
    client.force_login(world.a.founder)

    response = client.get(page(finding))

    html = response.content.decode()
    rows = re.findall(
        r'<tr data-run="(\d+)">.*?status-(\w+)">.*?<td class="num">(-?\d+)</td>', html, flags=re.S)
    assert rows == [
        (str(first.pk), "fail", "-3"), (str(second.pk), "pass", "79"), (str(third.pk), "pass", "20"),
    ]
    assert '<span class="change">-3 → 20</span>' in html
    assert '<polyline points="3.0,25.0 60.0,3.0 117.0,18.8"/>' in html
    assert response.context["finding"].status == "verified"


def test_the_risk_list_links_each_risk_to_its_finding_with_status_and_owner(client, world, finding):
    client.force_login(world.a.consultant)
    post(client, finding, "owner", owner=world.a.consultant.pk)
    client.force_login(world.a.founder)

    html = client.get(reverse("checks:risks", args=[world.a.project.pk])).content.decode()

    block = re.search(rf'<div class="finding" data-finding="{finding.pk}">(.*?)</div>', html, flags=re.S)[1]
    assert '<span class="badge finding-open">Open</span>' in block
    assert "Owner: <strong>consultant-a</strong>" in block
    assert f'href="{page(finding)}">Open finding →</a>' in block
    assert html.index('id="blockers-left"') < html.index('id="readiness"') < html.index('id="risks"')


def test_the_readiness_score_is_on_the_risk_list_and_the_project_page(client, world, finding):
    # One failing blocker alone: 0 of 8 tested weight, the cap does not matter.
    client.force_login(world.a.founder)

    risks = client.get(reverse("checks:risks", args=[world.a.project.pk]))
    project_page = client.get(reverse("projects:detail", args=[world.a.project.pk]))

    for response in (risks, project_page):
        assert response.context["readiness"].overall == 0
        html = response.content.decode()
        assert '<span class="n" id="readiness-overall">0</span>' in html
        assert re.search(r'<li data-stage="edge">\s*<span>2. Domain &amp; edge</span>', html)


def test_a_membership_change_to_client_takes_the_forms_away(client, world, finding):
    Membership.objects.filter(user=world.a.consultant).update(role=Membership.Role.CLIENT)
    world.a.project.founders.add(world.a.consultant)
    client.force_login(world.a.consultant)

    response = client.get(page(finding))

    assert response.status_code == 200
    assert response.context["can_write"] is False
    assert 'id="status-form"' not in response.content.decode()
