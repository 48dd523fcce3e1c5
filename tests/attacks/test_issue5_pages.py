"""Attacks on the panel side of issue 5: CSRF on every staff action, tenancy of rows named in
URLs, founders' writes, secrets (hook secret, test account secrets) never in a page, a log or
a PDF after their one-time display, and where the smoke test sends a test account's secret."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from handover.services import handover_render
from projects import deploys
from projects.models import (
    DeployEvent,
    DeployHook,
    Endpoint,
    Environment,
    Project,
    SecretAcceptance,
    TestAccount,
)

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Sup3rSecret-alice-77"
TOKEN = "tok-Sup3rSecret-bob-88"


@pytest.fixture
def rows(world):
    made = {}
    for key, side in (("a", world.a), ("b", world.b)):
        creds = deploys.hook_rotate(side.project)
        account = deploys.account_create(side.project, label="alice", login="form", username="alice",
                                         secret=f"{PASSWORD}-{key}")
        bearer = deploys.account_create(side.project, label="bob", login="bearer", secret=f"{TOKEN}-{key}")
        acceptance = SecretAcceptance.objects.create(project=side.project, fingerprint=f"fp-{key}",
                                                     rule="Stripe Access Key", reason="test key")
        made[key] = {"creds": creds, "account": account, "bearer": bearer, "acceptance": acceptance}
    return made


def _writes(project_id: int, account_id: int, acceptance_id: int) -> list[tuple[str, dict]]:
    return [
        (reverse("deploys:hook_rotate", args=[project_id]), {}),
        (reverse("deploys:rollback_drill", args=[project_id]), {}),
        (reverse("deploys:accounts", args=[project_id]),
         {"label": "mallory", "login": "bearer", "secret": "x", "username_field": "username",
          "password_field": "password"}),
        (reverse("deploys:account_delete", args=[project_id, account_id]), {}),
        (reverse("secrets:repository", args=[project_id]), {"url": "https://git.example.com/a.git"}),
        (reverse("secrets:archive_remove", args=[project_id]), {}),
        (reverse("secrets:accept", args=[project_id]), {"fingerprint": "fp-a", "reason": "x"}),
        (reverse("secrets:acceptance_remove", args=[project_id, acceptance_id]), {}),
    ]


def _state(project) -> tuple:
    project.refresh_from_db()
    return (project.deploy_hook.token_sha256, project.rollback_last_tried_at, project.repository_url,
            sorted(project.test_accounts.values_list("label", flat=True)),
            sorted(project.secret_acceptances.values_list("fingerprint", flat=True)))


def test_every_staff_action_refuses_a_post_without_a_csrf_token(world, rows):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.a.consultant)
    before = _state(world.a.project)
    for url, data in _writes(world.a.project.pk, rows["a"]["account"].pk, rows["a"]["acceptance"].pk):
        assert client.post(url, data).status_code == 403, url
    assert _state(world.a.project) == before


def test_another_agencys_staff_get_404_on_every_page_and_action(world, rows):
    client = Client()
    client.force_login(world.b.owner)
    before = _state(world.a.project)
    for url, data in _writes(world.a.project.pk, rows["a"]["account"].pk, rows["a"]["acceptance"].pk):
        assert client.post(url, data).status_code == 404, url
    for name in ("deploys:list", "deploys:accounts", "secrets:page"):
        assert client.get(reverse(name, args=[world.a.project.pk])).status_code == 404
    assert _state(world.a.project) == before


def test_rows_of_another_project_named_in_my_projects_urls_answer_404(world, rows):
    client = Client()
    client.force_login(world.a.owner)
    other_account, other_acceptance = rows["b"]["account"], rows["b"]["acceptance"]
    assert client.post(reverse("deploys:account_delete",
                               args=[world.a.project.pk, other_account.pk])).status_code == 404
    assert client.post(reverse("secrets:acceptance_remove",
                               args=[world.a.project.pk, other_acceptance.pk])).status_code == 404
    assert TestAccount.objects.filter(pk=other_account.pk).exists()
    assert SecretAcceptance.objects.filter(pk=other_acceptance.pk).exists()


def test_a_founder_reads_deploys_and_secrets_but_every_write_is_403(world, rows):
    client = Client()
    client.force_login(world.a.founder)
    before = _state(world.a.project)
    for url, data in _writes(world.a.project.pk, rows["a"]["account"].pk, rows["a"]["acceptance"].pk):
        assert client.post(url, data).status_code == 403, url
    assert client.get(reverse("deploys:accounts", args=[world.a.project.pk])).status_code == 403
    page = client.get(reverse("deploys:list", args=[world.a.project.pk]))
    assert page.status_code == 200
    assert "lrd_" not in page.content.decode() and "Rotate" not in page.content.decode()
    assert client.get(reverse("secrets:page", args=[world.a.project.pk])).status_code == 200
    assert _state(world.a.project) == before


def _secrets(rows) -> list[str]:
    return [rows[k]["creds"].secret for k in rows] + [rows[k]["creds"].token for k in rows] + [
        f"{PASSWORD}-{k}" for k in rows] + [f"{TOKEN}-{k}" for k in rows]


def test_secrets_appear_only_in_the_one_time_display(world, rows, caplog):
    caplog.set_level(logging.DEBUG)
    client = Client()
    client.force_login(world.a.owner)
    pid = world.a.project.pk
    current = DeployHook.objects.filter(project_id=pid).first()
    shown = client.post(reverse("deploys:hook_rotate", args=[pid]),
                        {"replaces": current.token_sha256[:12] if current else "none"})
    creds_text = shown.content.decode()
    assert shown.status_code == 200 and "no-store" in shown.get("Cache-Control", "")
    token = next(w for w in creds_text.replace("<", " ").replace(">", " ").split() if w.startswith("lrd_"))
    new_hook = world.a.project.deploy_hook
    new_hook.refresh_from_db()
    assert new_hook.token_sha256 == deploys.token_digest(token)

    pages = [client.get(reverse(n, args=[pid])).content.decode()
             for n in ("deploys:list", "deploys:accounts", "secrets:page")]
    pages.append(client.get(reverse("projects:detail", args=[pid])).content.decode())
    # a refused form (no user name for a form login) must not render the secret back
    refused = client.post(reverse("deploys:accounts", args=[pid]),
                          {"label": "eve", "login": "form", "secret": "pw-refused-form-99",
                           "username_field": "username", "password_field": "password"})
    assert refused.status_code == 200
    pages.append(refused.content.decode())
    for text in pages:
        assert token not in text
        for value in [*_secrets(rows), "pw-refused-form-99"]:
            assert value not in text
    logged = caplog.text
    for value in [token, *_secrets(rows), "pw-refused-form-99"]:
        assert value not in logged


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs pdftotext")
def test_the_handover_pdf_carries_no_secret(world, rows, tmp_path):
    pdf = handover_render(world.a.project, None)
    path = tmp_path / "h.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Project A" in text
    for value in _secrets(rows):
        assert value not in text and value not in pdf.decode("latin-1")


# --- where the smoke test sends the test account's password ----------------------------------

SCENARIO = """
name: smoke exfil
project: {name: Alpha, apex: alpha.example.com}
hosts:
  www.alpha.example.com:
    https:
      - {path: /, body: Welcome, headers: [[Content-Type, text/html]]}
      - {path: /login, method: POST, status: 302,
         headers: [[Location, /], [Set-Cookie, "sessionid=s1; Secure"]]}
      - {path: /login, body: "<form method=post></form>", headers: [[Content-Type, text/html]]}
      - {path: /api/me, body: '{"id": 1}', headers: [[Content-Type, application/json]]}
  collector.test:
    http:
      - {path: /, body: Welcome, headers: [[Content-Type, text/html]]}
      - {path: /login, method: POST, status: 302, headers: [[Location, /], [Set-Cookie, "sessionid=stolen"]]}
      - {path: /login, body: "<form method=post></form>", headers: [[Content-Type, text/html]]}
      - {path: /api/me, body: '{"id": 1}', headers: [[Content-Type, application/json]]}
"""


@pytest.fixture
def sandboxed(world, tmp_path):
    scenario = tmp_path / "smoke.yaml"
    scenario.write_text(SCENARIO)
    project = world.a.project
    Project.objects.filter(pk=project.pk).update(sandbox_scenario=str(scenario))
    project.refresh_from_db()
    site = "https://www.alpha.example.com"
    Endpoint.objects.create(project=project, kind="login", method="POST", url=f"{site}/login")
    Endpoint.objects.create(project=project, kind="api", url=f"{site}/api/me")
    deploys.account_create(project, label="alice", login="form", username="alice", secret=PASSWORD)
    return project


def _staging_deploy(project) -> DeployEvent:
    return DeployEvent.objects.create(project=project, environment="staging", version="v1",
                                      deployed_at=timezone.now(), signature_sha256="s" * 64)


def test_the_smoke_steps_and_logs_never_hold_the_password(sandboxed, caplog):
    caplog.set_level(logging.DEBUG)
    Environment.objects.create(project=sandboxed, name="staging", url="https://www.alpha.example.com")
    event = _staging_deploy(sandboxed)
    assert deploys.smoke_execute(event.pk) == "pass"
    event.refresh_from_db()
    assert PASSWORD not in json.dumps(event.smoke_steps)
    assert PASSWORD not in caplog.text


def test_the_smoke_test_sends_no_credential_to_a_foreign_or_plain_http_staging_url(sandboxed):
    Environment.objects.create(project=sandboxed, name="staging", url="http://collector.test")
    event = _staging_deploy(sandboxed)

    deploys.smoke_execute(event.pk)

    event.refresh_from_db()
    login = next(s for s in event.smoke_steps if s["name"] == "login")
    assert login["status"] != "pass", login  # "signed in as alice": the password reached collector.test


# --- the archive upload is read before anyone is asked who they are ---------------------------

RECEIVED: list[int] = []


class _CountingHandler:
    """An upload handler that counts the file bytes Django reads off the request."""

    chunk_size = 64 * 1024

    def __init__(self, request=None):
        self.request = request

    def handle_raw_input(self, *args, **kwargs):
        return None

    def new_file(self, *args, **kwargs):
        return None

    def receive_data_chunk(self, raw_data, start):
        RECEIVED.append(len(raw_data))
        return None  # keep nothing

    def file_complete(self, file_size):
        return None

    def upload_complete(self):
        return None

    def upload_interrupted(self):
        return None


def test_an_anonymous_oversized_upload_is_not_read(world, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.FILE_UPLOAD_HANDLERS = [f"{__name__}._CountingHandler"]
    RECEIVED.clear()
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "a" * 32
    big = SimpleUploadedFile("big.zip", b"PK\x03\x04" + b"\0" * 30_000_000)

    response = client.post(reverse("secrets:archive", args=[world.a.project.pk]), {"file": big})

    assert response.status_code in (302, 403, 413)
    assert sum(RECEIVED) < 1_000_000, f"{sum(RECEIVED):,} bytes of an anonymous upload were read"


def test_a_body_over_the_general_cap_is_refused_from_its_headers(world):
    client = Client()
    sign_in = client.generic("POST", reverse("login"), b"username=a",
                             content_type="application/x-www-form-urlencoded", CONTENT_LENGTH=str(2_621_441))
    hook = client.generic("POST", "/hooks/deploy", b"{}", content_type="application/json",
                          CONTENT_LENGTH=str(2_621_441))

    assert (sign_in.status_code, sign_in.content) == (413, b"request body over 2,621,440 bytes\n")
    assert (hook.status_code, hook.json()) == (413, {"error": "request body over 2,621,440 bytes"})


def test_a_chunked_body_without_a_length_and_a_bad_length_are_refused(world):
    client = Client()
    chunked = client.generic("POST", reverse("login"), b"", HTTP_TRANSFER_ENCODING="chunked")
    garbage = client.generic("POST", reverse("login"), b"x", CONTENT_LENGTH="12abc")

    assert (chunked.status_code, chunked.content) == (
        411, b"send the body with a Content-Length header (a chunked body is not accepted)\n")
    assert (garbage.status_code, garbage.content) == (400, b"Content-Length is not a number\n")


def test_staff_still_reach_the_archive_forms_cap_under_the_upload_limit(world, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = Client()
    client.force_login(world.a.consultant)
    url = reverse("secrets:archive", args=[world.a.project.pk])
    over_form_cap = SimpleUploadedFile("big.zip", b"PK\x03\x04" + b"\0" * 25_500_000)
    over_request_cap = SimpleUploadedFile("big.zip", b"PK\x03\x04" + b"\0" * 26_000_000)

    refused_by_form = client.post(url, {"file": over_form_cap})
    refused_unread = client.post(url, {"file": over_request_cap})

    assert refused_by_form.status_code != 413
    assert "larger than 25 MB" in refused_by_form.content.decode()
    assert (refused_unread.status_code, refused_unread.content) == (
        413, b"request body over 26,000,000 bytes\n")
