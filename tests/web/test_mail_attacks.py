"""Attacks on the transactional mail test (issue 4), web side: tenancy of a "Send test mails"
run, the SMTP password on every page, repeated sends, stored secrets no key opens, and form
input. Each test pins one way it was attacked (the weak ones were fixed)."""

from __future__ import annotations

import base64
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from checks import services
from checks.models import AuditRun, CheckResult, StageRun
from handover.services import handover_create
from launchready import crypto
from projects.forms import ProjectForm
from projects.models import Agency, Project
from tests.handover.pdf import pdf_text

pytestmark = pytest.mark.django_db

PASSWORD = "Zq7-attack-secret-0xFEEDFACE"
FORMS = (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
         base64.b64encode(b"\0app-user\0" + PASSWORD.encode()).decode())


def with_smtp(project: Project, password: str = PASSWORD) -> Project:
    project.smtp_host, project.smtp_username = "smtp.postmark.example", "app-user"
    project.mail_from = "hello@alpha.example.com"
    project.set_smtp_password(password)
    project.save()
    return project


def mail_run(project: Project) -> AuditRun:
    """A finished "Send test mails" run with the evidence the check records."""
    run = AuditRun.objects.create(project=project, state=AuditRun.State.DONE, planned_count=1,
                                  check_ids=["email.transactional"])
    StageRun.objects.create(run=run, stage="email", planned_count=1)
    CheckResult.objects.create(
        run=run, check_id="email.transactional", stage="email", impact="high", target="alpha.example.com",
        status="error", summary="could not test: smtp.postmark.example:587: the server refused the login: "
                                "535 5.7.8 Authentication credentials invalid",
        evidence={"smtp": {"host": "smtp.postmark.example", "port": 587, "security": "starttls",
                           "username": "app-user", "from": "hello@alpha.example.com"},
                  "failure": {"kind": "auth", "phase": "AUTH",
                              "reply": "535 5.7.8 Authentication credentials invalid"}},
    )
    return run


def form_data(project: Project, **overrides) -> dict:
    return {
        "name": project.name, "client_name": project.client_name, "apex_domain": project.apex_domain,
        "preferred_host": project.preferred_host, "subdomains_text": "www", "endpoints_text": "",
        "rollback_notes": "", "sandbox_scenario": "", "smtp_host": "smtp.postmark.example", "smtp_port": "",
        "smtp_security": "starttls", "smtp_username": "app-user", "smtp_password": PASSWORD,
        "mail_from": "hello@alpha.example.com", **overrides,
    }


def bound(side, **overrides) -> ProjectForm:
    return ProjectForm(form_data(side.project, **overrides), instance=side.project,
                       agencies=Agency.objects.filter(pk=side.agency.pk))


def assert_no_secret(text: str, project: Project) -> None:
    for form in FORMS:
        assert form not in text
    assert project.smtp_password_encrypted not in text


# --- 1. tenancy ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["b.consultant", "b.owner", "b.founder", "outsider"])
def test_another_tenant_sees_nothing_of_a_test_mails_run(client, world, who):
    project = with_smtp(world.a.project)
    run = mail_run(project)
    document = handover_create(project=project, run=None)
    user = world.outsider if who == "outsider" else getattr(world.b, who.split(".")[1])
    client.force_login(user)

    for url in (reverse("checks:run", args=[run.pk]), reverse("checks:progress", args=[run.pk]),
                reverse("projects:detail", args=[project.pk]),
                reverse("handover:download", args=[document.pk])):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("checks:test_mails", args=[project.pk])).status_code == 404
    assert AuditRun.objects.filter(project=project).count() == 1


def test_a_founder_reads_the_mail_card_and_run_but_may_not_send_and_sees_no_password(client, world):
    project = with_smtp(world.a.project)
    run = mail_run(project)
    client.force_login(world.a.founder)

    detail = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    assert "smtp.postmark.example:587" in detail and "app-user" in detail and crypto.MASK in detail
    assert 'id="mail-test-result"' in detail and 'id="send-test-mails"' not in detail
    pages = [detail, client.get(reverse("checks:run", args=[run.pk])).content.decode(),
             client.get(reverse("checks:progress", args=[run.pk])).content.decode()]
    for page in pages:
        assert_no_secret(page, project)
    assert client.post(reverse("checks:test_mails", args=[project.pk])).status_code == 403
    assert client.post(reverse("projects:edit", args=[project.pk]), form_data(project)).status_code == 403
    text = pdf_text(bytes(handover_create(project=project, run=None).pdf))
    assert "smtp.postmark.example:587" in text
    assert_no_secret(text, project)


# --- repeated sends ------------------------------------------------------------------------


def test_send_test_mails_twice_while_the_first_is_queued_starts_one_run(client, world, monkeypatch):
    """Guards against: nothing refuses a second "Send test mails" (or a full audit) while one
    is queued or running — the button is only disabled in the page. Every POST sends four real
    mails through the client's provider, from the client's domain: a double click, a script or
    an impatient consultant sends 4 × N mails and burns the client's sending quota/reputation."""
    monkeypatch.setattr(services, "_dispatch", lambda run_id: None)  # keep the first run queued
    project = with_smtp(world.a.project)
    client.force_login(world.a.consultant)

    for _ in range(5):
        client.post(reverse("checks:test_mails", args=[project.pk]))

    assert AuditRun.objects.filter(project=project).count() == 1


# --- 6. a stored password no key opens -----------------------------------------------------


def unreadable(project: Project) -> Project:
    project = with_smtp(project)
    # encrypted with a key since removed from FIELD_ENCRYPTION_KEYS
    project.smtp_password_encrypted = Fernet(Fernet.generate_key()).encrypt(b"old").decode()
    project.save()
    return project


def test_an_unreadable_stored_password_is_said_on_the_project_page(client, world):
    """Guards against: the page never decrypts, so it shows "•••••••• stored encrypted" as if
    all were well; the consultant learns of it only when a run is refused."""
    project = unreadable(world.a.project)
    client.force_login(world.a.consultant)

    html = client.get(reverse("projects:detail", args=[project.pk])).content.decode()

    assert "cannot be decrypted" in html


def test_send_test_mails_with_an_unreadable_password_says_why_and_starts_nothing(client, world):
    project = unreadable(world.a.project)
    client.force_login(world.a.consultant)

    response = client.post(reverse("checks:test_mails", args=[project.pk]), follow=True)

    assert response.status_code == 200
    assert ("The test mails cannot be sent: the stored SMTP password cannot be decrypted with "
            "FIELD_ENCRYPTION_KEYS: enter it again on the project form") in response.content.decode()
    assert not AuditRun.objects.exists()
    edit = client.get(reverse("projects:edit", args=[project.pk]))
    assert edit.status_code == 200  # the form to type it again still opens


def test_an_unreadable_smtp_password_does_not_block_the_whole_audit(client, world, monkeypatch):
    """Guards against: ``audit_start`` builds ``project.spec(secrets=True)`` for every
    run, so one SMTP password no key opens refuses the full audit — DNS, TLS, HTTP and the mail
    records, none of which needs it. Only email.transactional should be ``error`` then."""
    monkeypatch.setattr(services, "_dispatch", lambda run_id: None)
    project = unreadable(world.a.project)
    client.force_login(world.a.consultant)

    client.post(reverse("checks:start", args=[project.pk]))

    assert AuditRun.objects.filter(project=project, check_ids=[]).count() == 1


def test_rotate_secrets_is_idempotent_and_names_only_the_unreadable_row(world, settings):
    readable = with_smtp(world.a.project)
    broken = unreadable(world.b.project)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # a new first key

    for _ in range(2):
        out = StringIO()
        with pytest.raises(CommandError) as caught:
            call_command("rotate_secrets", stdout=out)
        assert out.getvalue() == "Re-encrypted 1 secret with the first key.\n"
        assert str(caught.value).startswith(
            f"1 stored secret(s) could not be decrypted with any key and were left as they were "
            f"(projects.Project {broken.pk})")
    readable.refresh_from_db()
    assert readable.smtp_password == PASSWORD
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert Project.objects.get(pk=readable.pk).smtp_password == PASSWORD


# --- 5. form input -------------------------------------------------------------------------


@pytest.mark.parametrize(("port", "message"), [
    ("0", "SMTP port 0 is not between 1 and 65535"),
    ("-1", "Ensure this value is greater than or equal to 0."),
    ("99999", "SMTP port 99999 is not between 1 and 65535"),
    ("abc", "Enter a whole number."),
])
def test_a_port_outside_1_to_65535_is_refused(world, port, message):
    """Guards against, for "0": ``cleaned.get("smtp_port") or 0`` reads 0 as "blank", so port 0
    is silently stored as the mode's default port instead of being refused."""
    form = bound(world.a, smtp_port=port)
    assert not form.is_valid()
    assert form.errors == {"smtp_port": [message]}


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "smtp://smtp.example.com", "smtp.example.com:25",
                                  "[::1]"])
def test_a_host_that_is_no_public_dns_name_is_refused(world, host):
    form = bound(world.a, smtp_host=host)
    assert not form.is_valid()
    assert list(form.errors) == ["smtp_host"]


@pytest.mark.parametrize("mail_from", ["hello@alpha.example.com\r\nBcc: victim@evil.test",
                                       "hello@alpha.example.com\nX: y", "hel\x01lo@alpha.example.com",
                                       "hel\x7flo@alpha.example.com"])
def test_a_from_address_with_control_characters_is_refused(world, mail_from):
    """Line breaks are refused (``\\s`` in spec._ADDRESS). Guarded here: other control
    characters (\\x01, \\x7f) pass and go into MAIL FROM and the From header as typed
    (RFC 5321 §4.1.2: atext has no control characters)."""
    form = bound(world.a, mail_from=mail_from)
    assert not form.is_valid()
    assert list(form.errors) == ["mail_from"]


def test_a_project_name_with_a_line_break_is_refused_or_flattened(world):
    """Guards against: the name keeps an inner CRLF (Django strips only the ends); the test
    mails then crash on it (tests/engine/test_mail_attacks.py, the project-name test)."""
    form = bound(world.a, name="Shop\r\nBcc: victim@evil.test")
    if form.is_valid():
        assert "\n" not in form.save().name
    else:
        assert list(form.errors) == ["name"]


def test_the_form_rerendered_after_an_error_holds_no_password(client, world):
    client.force_login(world.a.consultant)
    with_smtp(world.a.project)
    response = client.post(reverse("projects:edit", args=[world.a.project.pk]),
                           form_data(world.a.project, smtp_port="99999"))
    assert response.status_code == 200
    assert "SMTP port 99999 is not between 1 and 65535" in response.content.decode()
    assert_no_secret(response.content.decode(), Project.objects.get(pk=world.a.project.pk))
