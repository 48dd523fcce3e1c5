"""Tenancy of every page: the wrong tenant gets 404 (missing and not-yours look the same), a
founder reads their own project but cannot change it (403), a stranger is sent to log in."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import reverse

from checks.models import AlertChannel, AlertDelivery, AuditRun, LogSample, Monitor
from handover.models import HandoverDocument
from projects import invites
from projects.findings import findings_sync
from projects.models import (
    DeployHook,
    Finding,
    FindingEvent,
    Invite,
    Membership,
    Project,
    RepositoryArchive,
    SecretAcceptance,
    TestAccount,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Page:
    name: str
    method: str
    url_name: str
    arg: str  # "project", "running" (a running audit), "done" (a finished audit), "document", "invite"
    # or "finding" (the finding the finished audit opened; its URL names the project too), "monitor"
    # or "channel" (the project's monitor / alert channel; their URLs name the project too)


PAGES = [
    Page("project detail", "get", "projects:detail", "project"),
    Page("project edit form", "get", "projects:edit", "project"),
    Page("project edit", "post", "projects:edit", "project"),
    Page("audit start", "post", "checks:start", "project"),
    Page("send test mails", "post", "checks:test_mails", "project"),
    Page("risk list", "get", "checks:risks", "project"),
    Page("run detail", "get", "checks:run", "done"),
    Page("progress JSON", "get", "checks:progress", "running"),
    Page("handover create", "post", "handover:create", "project"),
    Page("handover download", "get", "handover:download", "document"),
    Page("handover record", "get", "handover:record", "project"),
    Page("handover record edit", "post", "handover:record", "project"),
    Page("handover runbook starter", "post", "handover:runbook_adopt", "project"),
    Page("handover sign-off", "post", "handover:sign", "project"),
    Page("invite form", "get", "projects:invite_create", "project"),
    Page("invite send", "post", "projects:invite_create", "project"),
    Page("invite revoke", "post", "projects:invite_revoke", "invite"),
    Page("finding detail", "get", "projects:finding", "finding"),
    Page("finding change", "post", "projects:finding", "finding"),
    Page("monitoring dashboard", "get", "checks:monitoring", "project"),
    Page("monitor form", "get", "checks:monitor_create", "project"),
    Page("monitor add", "post", "checks:monitor_create", "project"),
    Page("monitors from endpoints", "post", "checks:monitors_from_endpoints", "project"),
    Page("monitor edit form", "get", "checks:monitor_edit", "monitor"),
    Page("monitor edit", "post", "checks:monitor_edit", "monitor"),
    Page("monitor delete", "post", "checks:monitor_delete", "monitor"),
    Page("alert channel form", "get", "checks:channel_create", "project"),
    Page("alert channel add", "post", "checks:channel_create", "project"),
    Page("alert channel edit form", "get", "checks:channel_edit", "channel"),
    Page("alert channel edit", "post", "checks:channel_edit", "channel"),
    Page("alert channel delete", "post", "checks:channel_delete", "channel"),
    Page("send test alert", "post", "checks:channel_test", "channel"),
    Page("log sample form", "get", "checks:log_sample", "project"),
    Page("log sample scan", "post", "checks:log_sample", "project"),
    Page("deploys", "get", "deploys:list", "project"),
    Page("deploy hook rotate", "post", "deploys:hook_rotate", "project"),
    Page("rollback drill", "post", "deploys:rollback_drill", "project"),
    Page("test accounts", "get", "deploys:accounts", "project"),
    Page("test account add", "post", "deploys:accounts", "project"),
    Page("test account remove", "post", "deploys:account_delete", "account"),
    Page("secret scan", "get", "secrets:page", "project"),
    Page("repository URL save", "post", "secrets:repository", "project"),
    Page("repository archive upload", "post", "secrets:archive", "project"),
    Page("repository archive remove", "post", "secrets:archive_remove", "project"),
    Page("secret accept", "post", "secrets:accept", "project"),
    Page("accepted secret withdraw", "post", "secrets:acceptance_remove", "acceptance"),
    Page("API keys", "get", "agency:api_keys", "agency"),
    Page("API key create", "post", "agency:api_keys", "agency"),
    Page("audit log", "get", "agency:audit_log", "agency"),
    Page("team", "get", "agency:team", "agency"),
    Page("team invite", "post", "agency:team", "agency"),
    Page("member role change", "post", "agency:member_role", "member"),
    Page("member remove", "post", "agency:member_remove", "member"),
]
# The agency owners' pages ("agency": the side's agency): a founder of the agency gets 404
# there, not 403 (tests/api/test_keys.py, test_audit_log.py).
OWNER_PAGES = ("agency:api_keys", "agency:audit_log", "agency:team", "agency:member_role",
               "agency:member_remove")
# GET pages that are forms for changes: staff only.
STAFF_FORMS = ("projects:edit", "projects:invite_create", "checks:monitor_create", "checks:monitor_edit",
               "checks:channel_create", "checks:channel_edit", "checks:log_sample",
               "deploys:accounts")  # test accounts hold the client's logins: staff only
# Pages whose URL names the project and an object of it.
NESTED = {"finding", "monitor", "channel", "account", "acceptance"}
READ_PAGES = [p for p in PAGES if p.method == "get" and p.url_name not in STAFF_FORMS + OWNER_PAGES]
# The one write a founder of the project may make: signing its handover record.
FOUNDER_WRITES = ("handover:sign",)
WRITE_PAGES = [p for p in PAGES if p not in READ_PAGES and p.url_name not in FOUNDER_WRITES + OWNER_PAGES]


def url_of(page: Page, side, stored) -> str:
    if page.arg in NESTED:  # /projects/<id>/findings/<id>/, …/monitoring/monitors/<id>/
        model = {"finding": Finding, "monitor": Monitor, "channel": AlertChannel,
                 "account": TestAccount, "acceptance": SecretAcceptance}[page.arg]
        return reverse(page.url_name, args=[side.project.pk, model.objects.get(project=side.project).pk])
    if page.arg == "member":  # /agencies/<id>/team/<membership id>/…: the side's consultant
        member = Membership.objects.get(agency=side.agency, user=side.consultant)
        return reverse(page.url_name, args=[side.agency.pk, member.pk])
    target = {
        "project": side.project.pk,
        "running": stored.running.pk,
        "done": stored.done.pk,
        "document": stored.document.pk,
        "invite": Invite.objects.filter(agency=side.agency).values_list("pk", flat=True).first(),
        "agency": side.agency.pk,
    }[page.arg]
    return reverse(page.url_name, args=[target])


@pytest.fixture(autouse=True)
def pending_invites(request):
    """A pending founder invite to each side's project (what "invite revoke" aims at)."""
    if "world" not in request.fixturenames:
        return
    world = request.getfixturevalue("world")
    for side in (world.a, world.b):
        invites.invite_create(agency=side.agency, email=f"new-founder@{side.project.apex_domain}",
                              projects=[side.project], created_by=side.consultant)


@pytest.fixture(autouse=True)
def monitoring_rows(request):
    """A monitor and a Slack alert channel on each side's project (what the monitor and channel
    pages aim at)."""
    if "world" not in request.fixturenames:
        return
    from launchready import crypto

    world = request.getfixturevalue("world")
    for side in (world.a, world.b):
        Monitor.objects.create(project=side.project, name="Homepage", url=f"https://www.{side.project.apex_domain}/")
        AlertChannel.objects.create(project=side.project, kind="slack", name="#alerts",
                                    webhook_url_encrypted=crypto.encrypt("https://hooks.slack.com/services/T/B/x"))


@pytest.fixture(autouse=True)
def deploy_rows(request):
    """A deploy hook and a test account on each side's project (what the deploy pages aim at)."""
    if "world" not in request.fixturenames:
        return
    from projects import deploys

    world = request.getfixturevalue("world")
    for side in (world.a, world.b):
        deploys.hook_rotate(side.project)
        deploys.account_create(side.project, label="alice", login="bearer", secret="tok-alice")


@pytest.fixture(autouse=True)
def secret_rows(request):
    """An accepted secret on each side's project (what the withdraw action aims at)."""
    if "world" not in request.fixturenames:
        return
    world = request.getfixturevalue("world")
    for side in (world.a, world.b):
        SecretAcceptance.objects.create(project=side.project, fingerprint="stripe-access-key:" + "0" * 24,
                                        rule="Stripe Access Key", reason="a test key")


@pytest.fixture(autouse=True)
def opened_findings(request):
    """The finding each side's finished audit opened (its failing certificate), as finalize
    opens it: what the finding pages show."""
    if "stored" not in request.fixturenames:
        return
    for stored in request.getfixturevalue("stored").values():
        findings_sync(stored.done)


def edit_data(side) -> dict:
    """A valid edit of ``side``'s project, so only access can refuse it."""
    return {
        "name": "Renamed by someone", "client_name": "", "apex_domain": "hijack.example.com",
        "preferred_host": "", "subdomains_text": "www", "endpoints_text": "", "rollback_notes": "",
        "sandbox_scenario": "",
    }


def request(client, page: Page, url: str, side):
    if page.method == "post":
        data = {"projects:edit": edit_data(side), "projects:invite_create": {"email": "smuggled@example.com"},
                "agency:team": {"email": "smuggled@example.com", "role": "owner"},
                "agency:member_role": {"role": "owner"}}
        return client.post(url, data.get(page.url_name, {}))
    return client.get(url)


def snapshot(side) -> tuple:
    """What a refused write must leave unchanged."""
    project = Project.objects.get(pk=side.project.pk)
    return (
        project.name, project.apex_domain, project.updated_at,
        AuditRun.objects.filter(project=project).count(),
        HandoverDocument.objects.filter(project=project).count(),
        tuple(Invite.objects.filter(agency=side.agency).values_list("pk", "expires_at", "accepted_at")),
        tuple(Finding.objects.filter(project=project).values_list("pk", "status", "owner_id", "due_date")),
        FindingEvent.objects.filter(finding__project=project).count(),
        tuple(Monitor.objects.filter(project=project).values_list("pk", "interval_s", "enabled", "url")),
        tuple(AlertChannel.objects.filter(project=project).values_list("pk", "name", "enabled",
                                                                        "webhook_url_encrypted")),
        AlertDelivery.objects.filter(channel__project=project).count(),
        LogSample.objects.filter(project=project).count(),
        project.rollback_last_tried_at,
        tuple(DeployHook.objects.filter(project=project).values_list("token_sha256", "secret_encrypted")),
        tuple(TestAccount.objects.filter(project=project).values_list("pk", "label", "secret_encrypted")),
        project.repository_url, RepositoryArchive.objects.filter(project=project).count(),
        tuple(SecretAcceptance.objects.filter(project=project).values_list("pk", "fingerprint", "reason")),
        tuple(Membership.objects.filter(agency=side.agency).order_by("pk")
              .values_list("pk", "user_id", "role")),
    )


INTRUDERS = {
    "the other agency's consultant": lambda w: w.b.consultant,
    "the other agency's owner": lambda w: w.b.owner,
    "the other agency's founder": lambda w: w.b.founder,
    "an outsider in no agency": lambda w: w.outsider,
}


@pytest.mark.parametrize("intruder", INTRUDERS)
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_page_of_another_tenant_answers_404_and_changes_nothing(client, world, stored, page, intruder):
    client.force_login(INTRUDERS[intruder](world))
    before = snapshot(world.a)

    response = request(client, page, url_of(page, world.a, stored["a"]), world.a)

    assert response.status_code == 404
    assert snapshot(world.a) == before


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_founder_not_granted_the_project_of_their_own_agency_gets_404(
    client, world, stored, django_user_model, page
):
    cofounder = django_user_model.objects.create_user(username="cofounder-a", password="pw-123456789")
    Membership.objects.create(user=cofounder, agency=world.a.agency, role=Membership.Role.CLIENT)
    client.force_login(cofounder)

    response = request(client, page, url_of(page, world.a, stored["a"]), world.a)

    assert response.status_code == 404


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_grant_without_a_client_membership_of_that_agency_shows_nothing(client, world, stored, page):
    # Founder B is granted project A by mistake: still not a member of agency A.
    world.a.project.founders.add(world.b.founder)
    client.force_login(world.b.founder)

    response = request(client, page, url_of(page, world.a, stored["a"]), world.a)

    assert response.status_code == 404


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_missing_object_answers_404_like_another_tenants(client, world, stored, page):
    client.force_login(world.a.consultant)
    args = [world.a.project.pk, 999_999] if page.arg in NESTED else [999_999]
    url = reverse(page.url_name, args=[999_999, 999_999] if page.arg == "member" else args)

    response = request(client, page, url, world.a)

    assert response.status_code == 404


@pytest.mark.parametrize("page", READ_PAGES, ids=lambda p: p.name)
def test_a_founder_can_read_every_page_of_their_own_project(client, world, stored, page):
    client.force_login(world.a.founder)

    response = request(client, page, url_of(page, world.a, stored["a"]), world.a)

    assert response.status_code == 200


@pytest.mark.parametrize("page", WRITE_PAGES, ids=lambda p: p.name)
def test_a_founder_cannot_change_their_own_project(client, world, stored, page):
    client.force_login(world.a.founder)
    before = snapshot(world.a)

    response = request(client, page, url_of(page, world.a, stored["a"]), world.a)

    assert response.status_code == 403
    assert snapshot(world.a) == before


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_an_anonymous_visitor_is_sent_to_log_in(client, world, stored, page):
    url = url_of(page, world.a, stored["a"])

    response = request(client, page, url, world.a)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"
    assert snapshot(world.a)[3:5] == (2, 1)


def test_an_anonymous_visitor_of_the_project_list_is_sent_to_log_in(client, world):
    response = client.get(reverse("projects:list"))

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/projects/"


@pytest.mark.parametrize("role", ["owner", "consultant", "founder"])
def test_the_project_list_shows_only_the_projects_of_ones_own_agency(client, world, stored, role):
    client.force_login(getattr(world.a, role))

    response = client.get(reverse("projects:list"))

    assert response.status_code == 200
    assert [row["pk"] for row in response.context["rows"]] == [world.a.project.pk]
    assert [row["run_pk"] for row in response.context["rows"]] == [stored["a"].running.pk]
    html = response.content.decode()
    assert "Project A" in html
    assert "Project B" not in html
    assert "bravo.example.com" not in html


def test_the_outsiders_project_list_is_empty(client, world, stored):
    client.force_login(world.outsider)

    response = client.get(reverse("projects:list"))

    assert response.context["rows"] == []
    assert response.context["can_create"] is False
    assert "No project has been shared with you yet." in response.content.decode()


def test_only_staff_see_the_new_project_button(client, world):
    client.force_login(world.a.consultant)
    assert 'href="/projects/new/"' in client.get(reverse("projects:list")).content.decode()
    client.force_login(world.a.founder)
    assert 'href="/projects/new/"' not in client.get(reverse("projects:list")).content.decode()


@pytest.mark.parametrize("who", ["founder", "outsider"])
def test_only_staff_can_create_projects(client, world, who):
    client.force_login(world.a.founder if who == "founder" else world.outsider)

    assert client.get(reverse("projects:create")).status_code == 403
    assert client.post(reverse("projects:create"), edit_data(world.a)).status_code == 403
    assert Project.objects.count() == 2


def test_a_consultant_cannot_create_a_project_in_another_agency(client, world):
    client.force_login(world.a.consultant)
    data = {**edit_data(world.a), "agency": world.b.agency.pk, "name": "Smuggled"}

    response = client.post(reverse("projects:create"), data)

    assert response.status_code == 200
    assert response.context["form"].errors["agency"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not Project.objects.filter(name="Smuggled").exists()


def test_a_consultant_cannot_move_a_project_to_another_agency(client, world):
    client.force_login(world.a.consultant)
    data = {**edit_data(world.a), "agency": world.b.agency.pk, "apex_domain": "alpha.example.com"}

    response = client.post(reverse("projects:edit", args=[world.a.project.pk]), data)

    assert response.status_code == 302
    assert Project.objects.get(pk=world.a.project.pk).agency == world.a.agency


def test_the_founder_sees_no_write_buttons_and_the_consultant_does(client, world, stored):
    url = reverse("projects:detail", args=[world.a.project.pk])
    client.force_login(world.a.founder)
    founder_html = client.get(url).content.decode()
    client.force_login(world.a.consultant)
    consultant_html = client.get(url).content.decode()

    edit = f'href="/projects/{world.a.project.pk}/edit/"'
    for button in ('id="run-audit"', 'id="generate-handover"', edit):
        assert button not in founder_html
        assert button in consultant_html
    download = f'href="/handover/{stored["a"].document.pk}.pdf"'
    assert download in founder_html
    assert download in consultant_html


def test_a_founder_downloads_exactly_their_projects_pdf(client, world, stored):
    client.force_login(world.a.founder)

    response = client.get(reverse("handover:download", args=[stored["a"].document.pk]))

    assert response["Content-Type"] == "application/pdf"
    assert response.content == b"%PDF-1.7 handover of agency A"


def test_the_progress_json_of_a_running_audit(client, world, stored):
    client.force_login(world.a.founder)

    response = client.get(reverse("checks:progress", args=[stored["a"].running.pk]))

    assert response.json() == {
        "state": "running", "done": 1, "planned": 4, "percent": 25, "error": "",
        "stages": [{"stage": "edge", "title": "Domain & edge", "done": 1, "planned": 4}],
    }


def test_a_consultant_starting_an_audit_queues_one_run_and_returns_to_the_project(client, world, stored):
    client.force_login(world.a.consultant)

    response = client.post(reverse("checks:start", args=[world.a.project.pk]))

    assert response.status_code == 302
    assert response["Location"] == f"/projects/{world.a.project.pk}/"
    latest = AuditRun.objects.filter(project=world.a.project).first()
    assert (latest.state, latest.created_by) == ("queued", world.a.consultant)
    assert AuditRun.objects.filter(project=world.b.project).count() == 2


@pytest.mark.parametrize("page", [p for p in PAGES if p.method == "get"], ids=lambda p: p.name)
def test_reading_pages_refuse_nothing_to_the_agency_staff(client, world, stored, page):
    client.force_login(world.a.owner)

    response = request(client, page, url_of(page, world.a, stored["a"]), world.a)

    assert response.status_code == 200


def test_the_project_list_shows_each_projects_latest_audit(client, world, stored):
    newest = AuditRun.objects.create(project=world.a.project, state=AuditRun.State.QUEUED)
    client.force_login(world.a.consultant)

    response = client.get(reverse("projects:list"))

    assert [row["run_pk"] for row in response.context["rows"]] == [newest.pk]
    assert '<span class="badge state-queued">Queued</span>' in response.content.decode()


def test_a_project_never_audited_has_an_empty_risk_page(client, world):
    client.force_login(world.a.founder)

    response = client.get(reverse("checks:risks", args=[world.a.project.pk]))

    assert response.status_code == 200
    assert response.context["run"] is None
    assert "No finished audit yet, so there is no risk list." in response.content.decode()


def test_the_admin_link_is_shown_to_django_staff_only(client, world):
    client.force_login(world.a.consultant)
    assert 'href="/admin/"' not in client.get(reverse("projects:list")).content.decode()
    world.a.owner.is_staff = True
    world.a.owner.save()
    client.force_login(world.a.owner)
    assert 'href="/admin/"' in client.get(reverse("projects:list")).content.decode()


def test_the_founder_may_sign_their_own_projects_handover_and_nothing_else_changes(client, world, stored):
    from handover.models import HandoverRecord

    client.force_login(world.a.consultant)
    assert client.post(reverse("handover:sign", args=[world.a.project.pk])).status_code == 302
    client.force_login(world.a.founder)
    before = snapshot(world.a)

    response = client.post(reverse("handover:sign", args=[world.a.project.pk]))

    assert response.status_code == 302
    record = HandoverRecord.objects.get(project=world.a.project)
    assert (record.consultant_signed_by, record.founder_signed_by) == (world.a.consultant, world.a.founder)
    assert snapshot(world.a) == before


def test_the_monitoring_overview_lists_only_the_projects_one_may_see(client, world):
    overview = reverse("checks:monitoring_overview")
    assert client.get(overview)["Location"] == f"/accounts/login/?next={overview}"
    for user, shown in ((world.a.consultant, ["Project A"]), (world.a.founder, ["Project A"]),
                        (world.b.founder, ["Project B"]), (world.outsider, [])):
        client.force_login(user)
        response = client.get(overview)
        assert [row.project.name for row in response.context["rows"]] == shown
        hidden = {"Project A", "Project B"} - set(shown)
        assert not any(name in response.content.decode() for name in hidden)
