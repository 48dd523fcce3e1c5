"""Deploys in the panel: the smoke test after a recorded deploy (through the project's sandbox,
claimed once, dispatched on commit), the Deploys page (staff manage the hook and drills, a
founder reads), the test accounts (staff only, secrets write-only), the dashboard's last deploy
and the stage 3 checks over stored deploys."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from checks import dashboard
from checks.engine.net.session import Net
from checks.engine.registry import Context, all_checks
from checks.network import network_for
from launchready import crypto
from projects import deploys
from projects.models import DeployEvent, DeployHook, Endpoint, Environment, Project, TestAccount
from tests.audits.test_worker import wait_for, worker  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db
SCENARIO = """
name: deploy smoke
project: {name: Alpha, apex: alpha.example.com}
hosts:
  www.alpha.example.com:
    https:
      - {path: /, body: Welcome, headers: [[Content-Type, text/html]]}
      - {path: /login, method: POST, status: 302,
         headers: [[Location, /], [Set-Cookie, "sessionid=s1; Secure"]]}
      - {path: /login, body: "<form method=post></form>", headers: [[Content-Type, text/html]]}
      - {path: /api/me, body: '{"id": 1}', headers: [[Content-Type, application/json]]}
"""


@pytest.fixture
def sandboxed(world, tmp_path):
    """Project A played by a sandbox: homepage, a login form, an API route; one test account."""
    scenario = tmp_path / "smoke.yaml"
    scenario.write_text(SCENARIO)
    project = world.a.project
    project.sandbox_scenario = str(scenario)
    project.save()
    site = "https://www.alpha.example.com"
    Endpoint.objects.create(project=project, kind="login", method="POST", url=f"{site}/login")
    Endpoint.objects.create(project=project, kind="api", url=f"{site}/api/me")
    deploys.account_create(project, label="alice", login="form", username="alice@alpha.test",
                           secret="pw-alice")
    return project


def _event(project, *, environment="production", version="v42", smoke="pending", ago=timedelta(0)):
    return DeployEvent.objects.create(
        project=project, environment=environment, version=version, deployed_at=timezone.now() - ago,
        signature_sha256=f"{version}{environment}".ljust(64, "0")[:64], smoke_status=smoke)


def test_the_smoke_test_of_a_deploy_runs_through_the_projects_sandbox(sandboxed):
    event = _event(sandboxed)

    assert deploys.smoke_execute(event.pk) == "pass"

    event.refresh_from_db()
    assert event.smoke_status == "pass"
    assert event.smoke_at is not None
    assert [(s["name"], s["status"], s["detail"]) for s in event.smoke_steps] == [
        ("homepage", "pass", "https://www.alpha.example.com/ answered 200"),
        ("login", "pass", "signed in as alice (alice@alpha.test): session cookies sessionid"),
        ("api", "pass", "https://www.alpha.example.com/api/me answered 200 to the test account; "
                        "200 without a login too: the route may not need one"),
    ]
    assert "pw-alice" not in json.dumps(event.smoke_steps)


def test_a_smoke_test_is_claimed_once(sandboxed):
    event = _event(sandboxed)
    assert deploys.smoke_execute(event.pk) == "pass"

    assert deploys.smoke_execute(event.pk) is None


def test_a_staging_deploy_without_a_recorded_url_cannot_be_smoke_tested(sandboxed):
    event = _event(sandboxed, environment="staging")

    assert deploys.smoke_execute(event.pk) == "error"
    event.refresh_from_db()
    assert event.smoke_steps == [{
        "name": "setup", "status": "error", "elapsed_ms": 0.0,
        "detail": "no URL recorded for the staging environment: post it with /hooks/environment (\"url\") "
                  "to smoke-test its deploys"}]


def test_a_staging_deploy_is_tried_on_the_staging_url(sandboxed):
    Environment.objects.create(project=sandboxed, name="staging", url="https://www.alpha.example.com")
    event = _event(sandboxed, environment="staging")

    assert deploys.smoke_execute(event.pk) == "pass"


def test_a_missing_sandbox_is_an_error_on_the_deploy(sandboxed, tmp_path):
    Project.objects.filter(pk=sandboxed.pk).update(sandbox_scenario=str(tmp_path / "gone.yaml"))
    event = _event(sandboxed)

    assert deploys.smoke_execute(event.pk) == "error"
    event.refresh_from_db()
    assert event.smoke_steps[0]["name"] == "setup"


@pytest.mark.django_db(transaction=True)
def test_a_posted_deploy_is_smoke_tested_after_commit_on_the_inprocess_pool(client, sandboxed, settings):
    settings.REDIS_URL = ""  # the house default without a broker: the audits' thread pool
    creds = deploys.hook_rotate(sandboxed)
    body = json.dumps({"environment": "production", "version": "v50"}).encode()
    ts = str(int(time.time()))

    response = client.generic(
        "POST", "/hooks/deploy", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {creds.token}", HTTP_X_LAUNCHREADY_TIMESTAMP=ts,
        HTTP_X_LAUNCHREADY_SIGNATURE=deploys.signature_of(creds.secret, ts, body))

    assert response.status_code == 201
    event = DeployEvent.objects.get(pk=response.json()["deploy"])
    deadline = time.monotonic() + 20
    while event.smoke_status == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
        event.refresh_from_db()
    assert event.smoke_status == "pass"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (make test sets it)")
@pytest.mark.usefixtures("worker")
def test_a_real_celery_worker_runs_the_smoke_test_of_a_posted_deploy(client, sandboxed):
    creds = deploys.hook_rotate(sandboxed)
    body = json.dumps({"environment": "production", "version": "v51"}).encode()
    ts = str(int(time.time()))

    response = client.generic(
        "POST", "/hooks/deploy", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {creds.token}", HTTP_X_LAUNCHREADY_TIMESTAMP=ts,
        HTTP_X_LAUNCHREADY_SIGNATURE=deploys.signature_of(creds.secret, ts, body))

    assert response.status_code == 201
    pk = response.json()["deploy"]
    event = wait_for(lambda: DeployEvent.objects.exclude(smoke_status="pending").filter(pk=pk).first())
    assert [(s["name"], s["status"]) for s in event.smoke_steps] == [
        ("homepage", "pass"), ("login", "pass"), ("api", "pass")]


# --- pages ------------------------------------------------------------------------------------


def test_the_deploys_page_lists_deploys_with_their_smoke_steps(client, world):
    event = _event(world.a.project, version="v42", smoke="fail")
    DeployEvent.objects.filter(pk=event.pk).update(smoke_steps=[
        {"name": "homepage", "status": "fail", "detail": "https://www.alpha.example.com/ answered 503",
         "elapsed_ms": 12.0}])
    client.force_login(world.a.founder)

    html = client.get(reverse("deploys:list", args=[world.a.project.pk])).content.decode()

    assert f'data-deploy="{event.pk}"' in html
    assert "Smoke failed" in html and "answered 503" in html
    assert "Roll back with <code>paas rollback</code>." in html
    assert 'id="rotate-hook"' not in html and 'id="record-drill"' not in html
    assert 'id="open-test-accounts"' not in html


def test_staff_create_the_hook_and_see_its_token_and_secret_once(client, world):
    client.force_login(world.a.consultant)
    url = reverse("deploys:list", args=[world.a.project.pk])
    assert "not set up" in client.get(url).content.decode()

    response = client.post(reverse("deploys:hook_rotate", args=[world.a.project.pk]), {"replaces": "none"})

    credentials = response.context["credentials"]
    html = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert credentials.token in html and credentials.secret in html
    later = client.get(url).content.decode()
    assert credentials.token not in later and credentials.secret not in later
    assert 'id="hook-state"' in later and "Rotate token and secret" in later


def test_reloading_the_one_time_display_does_not_replace_the_token_just_shown(client, world):
    client.force_login(world.a.consultant)
    url = reverse("deploys:hook_rotate", args=[world.a.project.pk])
    shown = client.post(url, {"replaces": "none"}).context["credentials"]

    reload = client.post(url, {"replaces": "none"}, follow=True)

    assert reload.redirect_chain == [(reverse("deploys:list", args=[world.a.project.pk]), 302)]
    assert "already created or rotated" in reload.content.decode()
    hook = DeployHook.objects.get(project=world.a.project)
    assert hook.token_sha256 == deploys.token_digest(shown.token)
    rotated = client.post(url, {"replaces": hook.token_sha256[:12]}).context["credentials"]
    assert rotated.token != shown.token


def test_a_founder_cannot_create_the_hook_or_record_a_drill(client, world):
    client.force_login(world.a.founder)

    assert client.post(reverse("deploys:hook_rotate", args=[world.a.project.pk])).status_code == 403
    assert client.post(reverse("deploys:rollback_drill", args=[world.a.project.pk])).status_code == 403
    project = Project.objects.get(pk=world.a.project.pk)
    assert (project.rollback_last_tried_at, hasattr(project, "deploy_hook")) == (None, False)


def test_a_rollback_drill_is_recorded(client, world):
    client.force_login(world.a.consultant)
    before = timezone.now()

    response = client.post(reverse("deploys:rollback_drill", args=[world.a.project.pk]))

    assert response.status_code == 302
    assert Project.objects.get(pk=world.a.project.pk).rollback_last_tried_at >= before
    assert "never tried" not in client.get(response["Location"]).content.decode()


ACCOUNT = {"label": "alice", "login": "form", "username": "alice@alpha.test", "secret": "pw-Secret-1",
           "username_field": "email", "password_field": "password", "cookie_name": ""}


def test_staff_add_a_test_account_whose_secret_is_stored_encrypted_and_shown_masked(client, world):
    client.force_login(world.a.consultant)
    url = reverse("deploys:accounts", args=[world.a.project.pk])

    response = client.post(url, ACCOUNT)

    assert response.status_code == 302
    account = TestAccount.objects.get(project=world.a.project)
    assert (account.label, account.username, account.username_field, account.secret) == (
        "alice", "alice@alpha.test", "email", "pw-Secret-1")
    assert "pw-Secret-1" not in account.secret_encrypted
    html = client.get(url).content.decode()
    assert "pw-Secret-1" not in html
    assert crypto.MASK in html


def test_a_form_account_without_a_user_name_is_refused(client, world):
    client.force_login(world.a.consultant)

    url = reverse("deploys:accounts", args=[world.a.project.pk])
    response = client.post(url, {**ACCOUNT, "username": ""})

    assert response.status_code == 200
    assert response.context["form"].errors["username"] == ["A login form needs the user name."]
    assert "pw-Secret-1" not in response.content.decode()  # never rendered back
    assert not TestAccount.objects.exists()


def test_a_cookie_account_needs_the_cookie_name(client, world):
    client.force_login(world.a.consultant)

    response = client.post(reverse("deploys:accounts", args=[world.a.project.pk]),
                           {**ACCOUNT, "login": "cookie", "username": ""})

    assert response.context["form"].errors["cookie_name"] == ["Name the session cookie (sessionid)."]


def test_a_duplicate_label_is_refused(client, world):
    deploys.account_create(world.a.project, label="alice", login="bearer", secret="tok")
    client.force_login(world.a.consultant)

    response = client.post(reverse("deploys:accounts", args=[world.a.project.pk]), ACCOUNT)

    assert response.context["form"].errors["label"] == ["The project already has an account with this label."]


def test_staff_remove_a_test_account(client, world):
    account = deploys.account_create(world.a.project, label="bob", login="bearer", secret="tok")
    client.force_login(world.a.consultant)

    response = client.post(reverse("deploys:account_delete", args=[world.a.project.pk, account.pk]))

    assert response.status_code == 302
    assert not TestAccount.objects.exists()


def test_a_founder_sees_no_test_account(client, world):
    deploys.account_create(world.a.project, label="bob", login="bearer", secret="tok")
    client.force_login(world.a.founder)

    assert client.get(reverse("deploys:accounts", args=[world.a.project.pk])).status_code == 403


def test_an_account_of_another_project_answers_404(client, world):
    other = deploys.account_create(world.b.project, label="bob", login="bearer", secret="tok")
    client.force_login(world.a.consultant)

    response = client.post(reverse("deploys:account_delete", args=[world.a.project.pk, other.pk]))

    assert response.status_code == 404
    assert TestAccount.objects.filter(pk=other.pk).exists()


def test_the_project_page_links_to_the_deploys(client, world):
    client.force_login(world.a.founder)

    html = client.get(reverse("projects:detail", args=[world.a.project.pk])).content.decode()

    assert f'href="/projects/{world.a.project.pk}/deploys/"' in html


# --- the dashboard and the checks over stored deploys -----------------------------------------


def test_the_monitoring_dashboard_shows_the_latest_deploy(client, world):
    _event(world.a.project, version="v41", ago=timedelta(days=2))
    latest = _event(world.a.project, version="v42", ago=timedelta(hours=1))

    assert dashboard.project_dashboard(world.a.project).last_deploy_at == latest.deployed_at
    client.force_login(world.a.founder)
    html = client.get(reverse("checks:monitoring", args=[world.a.project.pk])).content.decode()
    assert "No deploys recorded" not in html


def test_the_checks_judge_the_stored_deploys_and_drills(world):
    project = world.a.project
    _event(project, version="v42", smoke="fail", ago=timedelta(days=1))
    Project.objects.filter(pk=project.pk).update(rollback_last_tried_at=datetime.now(UTC) - timedelta(days=3))
    project.refresh_from_db()
    spec = project.spec()
    checks = {c.id: c for c in all_checks()}

    with network_for(project) as profile, Net(profile) as net:
        deploys_result = checks["hardening.deploys"].run(spec.apex, Context(net, spec))
        rollback_result = checks["hardening.rollback"].run(spec.apex, Context(net, spec))

    assert (deploys_result.status, deploys_result.summary) == (
        "fail", "the latest production deploy v42 (1 day ago) failed its smoke test")
    assert (rollback_result.status, rollback_result.summary) == (
        "pass", "rollback steps recorded and last tried 3 days ago")
