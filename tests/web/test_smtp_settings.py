"""A project's SMTP sending: the form's section (validated by building ``SmtpSettings``, the
password write-only and stored encrypted), the scenario's ``project.smtp`` copied in, the
"Send test mails" run of email.transactional alone, and the password never in a page, a log
line, a result or the handover PDF."""

from __future__ import annotations

import base64
import logging
import re

import pytest
import yaml
from django.urls import reverse
from django.views.debug import ExceptionReporter

from checks import services
from checks.engine.runner import plan
from checks.engine.spec import SmtpSettings
from checks.models import AuditRun, CheckResult, StageRun
from checks.network import network_for
from checks.sandbox import load_scenario
from handover.services import handover_create
from launchready import crypto
from projects import views
from projects.forms import ProjectForm
from projects.models import Agency, Project
from projects.services import project_sync_from_scenario
from tests.conftest import SCENARIOS
from tests.handover.pdf import pdf_text

pytestmark = pytest.mark.django_db

# Distinctive, and free of characters HTML would escape, so a leak cannot hide behind &amp;.
PASSWORD = "Zq7-SMTP-secret-0xC0FFEE-9k"
SMTP_POST = {
    "smtp_host": "SMTP.Postmark.Example.", "smtp_port": "2525", "smtp_security": "starttls",
    "smtp_username": "app-user", "smtp_password": PASSWORD, "mail_from": "Hello@Alpha.Example.com",
}


def form_data(side, **overrides) -> dict:
    data = {
        "name": side.project.name, "client_name": side.project.client_name,
        "apex_domain": side.project.apex_domain, "preferred_host": side.project.preferred_host,
        "subdomains_text": "www, app", "endpoints_text": "", "rollback_notes": "",
        "sandbox_scenario": "", **SMTP_POST,
    }
    return {**data, **overrides}


def bound(side, **overrides) -> ProjectForm:
    return ProjectForm(form_data(side, **overrides), instance=side.project,
                       agencies=Agency.objects.filter(pk=side.agency.pk))


def with_smtp(project: Project, password: str = PASSWORD) -> Project:
    project.smtp_host, project.smtp_username = "smtp.postmark.example", "app-user"
    project.mail_from = "hello@alpha.example.com"
    project.set_smtp_password(password)
    project.save()
    return project


# --- the form ------------------------------------------------------------------------------


def test_a_valid_smtp_section_is_stored_normalised_with_the_password_encrypted(world):
    form = bound(world.a)

    assert form.is_valid(), form.errors
    project = form.save()

    project.refresh_from_db()
    assert (project.smtp_host, project.smtp_port, project.smtp_security, project.smtp_username,
            project.mail_from) == ("smtp.postmark.example", 2525, "starttls", "app-user",
                                   "Hello@alpha.example.com")
    assert PASSWORD not in project.smtp_password_encrypted
    assert crypto.decrypt(project.smtp_password_encrypted) == PASSWORD
    assert project.spec(secrets=True).smtp == SmtpSettings(
        host="smtp.postmark.example", from_address="Hello@alpha.example.com", port=2525,
        security="starttls", username="app-user", password=PASSWORD,
    )
    # Without secrets (every page) the password is not even decrypted.
    assert project.spec().smtp.password == ""
    assert PASSWORD not in repr(project.spec(secrets=True))


def test_a_blank_port_means_the_security_modes_usual_port(world):
    form = bound(world.a, smtp_port="", smtp_security="tls")
    assert form.is_valid(), form.errors
    project = form.save()
    assert (project.smtp_port, project.spec().smtp.port) == (None, 465)


def test_a_blank_password_keeps_the_stored_one_and_a_new_one_replaces_it(world):
    project = with_smtp(world.a.project)
    token = project.smtp_password_encrypted

    form = bound(world.a, smtp_password="")
    assert form.is_valid(), form.errors
    assert form.save().smtp_password_encrypted == token

    form = bound(world.a, smtp_password="a-new-password")
    assert form.is_valid(), form.errors
    assert Project.objects.get(pk=form.save().pk).smtp_password == "a-new-password"


def test_the_clear_box_forgets_the_stored_password(world):
    with_smtp(world.a.project)

    form = bound(world.a, smtp_password="", smtp_username="", smtp_password_clear="on")
    assert form.is_valid(), form.errors
    form.save()

    project = Project.objects.get(pk=world.a.project.pk)
    assert (project.smtp_password_encrypted, project.smtp_username) == ("", "")
    assert project.smtp_host == "smtp.postmark.example"  # sending without a login stays


def test_the_clear_box_is_offered_only_when_a_password_is_stored(world):
    agencies = Agency.objects.filter(pk=world.a.agency.pk)
    assert "smtp_password_clear" not in ProjectForm(instance=world.a.project, agencies=agencies).fields
    with_smtp(world.a.project)
    form = ProjectForm(instance=world.a.project, agencies=agencies)
    assert "smtp_password_clear" in form.fields
    assert form.fields["smtp_password"].help_text == (
        "Stored: •••••••• (never shown). Leave blank to keep it; type a new one to replace it"
    )


def test_a_blank_smtp_host_turns_sending_off_and_keeps_no_login(world):
    with_smtp(world.a.project)

    form = bound(world.a, smtp_host="", smtp_port="", smtp_username="", smtp_password="", mail_from="")
    assert form.is_valid(), form.errors
    project = form.save()

    assert (project.smtp_host, project.smtp_username, project.smtp_password_encrypted) == ("", "", "")
    assert project.spec().smtp is None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"smtp_host": "smtp host.example"}, "smtp_host", "'smtp host.example' contains a space"),
        ({"smtp_host": "192.0.2.25"}, "smtp_host", "'192.0.2.25' is an IP address, not a hostname"),
        ({"smtp_port": "70000"}, "smtp_port", "SMTP port 70000 is not between 1 and 65535"),
        ({"mail_from": "hello"}, "mail_from", "From address 'hello' is not like name@example.com"),
        ({"mail_from": ""}, "mail_from", "Give the From address the app's mail carries"),
        ({"smtp_security": "ssl"}, "smtp_security",
         "Select a valid choice. ssl is not one of the available choices."),
        ({"smtp_security": "none"}, "smtp_security",
         "With no TLS the password would cross the network in clear: choose STARTTLS or implicit TLS, "
         "or clear the stored password"),
        ({"smtp_username": ""}, "smtp_username", "A password needs the user name it belongs to"),
        ({"smtp_password": ""}, "smtp_password", "Enter the password of this user"),
        ({"smtp_host": ""}, "smtp_host", "Give the SMTP host, or leave every SMTP field blank"),
    ],
)
def test_a_bad_smtp_setting_is_refused_on_its_field_with_the_reason(world, overrides, field, message):
    form = bound(world.a, **overrides)

    assert not form.is_valid()
    assert form.errors == {field: [message]}


def test_typing_a_new_password_and_clearing_the_stored_one_is_refused(world):
    with_smtp(world.a.project)
    form = bound(world.a, smtp_password_clear="on")
    assert not form.is_valid()
    assert form.errors == {"smtp_password": ["Type a new password or clear the stored one, not both"]}


def test_a_post_without_the_smtp_fields_keeps_sending_off(world):
    data = {k: v for k, v in form_data(world.a).items() if not k.startswith(("smtp_", "mail_from"))}
    form = ProjectForm(data, instance=world.a.project, agencies=Agency.objects.filter(pk=world.a.agency.pk))
    assert form.is_valid(), form.errors
    assert (form.save().smtp_host, world.a.project.smtp_security) == ("", "starttls")


# --- the password never leaves --------------------------------------------------------------


# How the password crosses an SMTP session: AUTH PLAIN's "\0user\0password" and AUTH LOGIN's
# answer, in base64 (RFC 4616, and the LOGIN mechanism), as a protocol log would show them.
PASSWORD_FORMS = (
    PASSWORD,
    base64.b64encode(PASSWORD.encode()).decode(),
    base64.b64encode(b"\0app-user\0" + PASSWORD.encode()).decode(),
    base64.b64encode(b"\0app\0" + PASSWORD.encode()).decode(),
)


def assert_no_secret(text: str, project: Project) -> None:
    for form in PASSWORD_FORMS:
        assert form not in text
    if project.smtp_password_encrypted:
        assert project.smtp_password_encrypted not in text  # not even the token


def test_the_password_is_in_no_page_and_no_log_line(client, world, stored, caplog):
    caplog.set_level(logging.DEBUG)
    client.force_login(world.a.consultant)
    edit = reverse("projects:edit", args=[world.a.project.pk])

    saved = client.post(edit, form_data(world.a))
    assert saved.status_code == 302
    project = Project.objects.get(pk=world.a.project.pk)
    assert project.smtp_password == PASSWORD
    # A refused post does not echo the password it was given.
    refused = client.post(edit, form_data(world.a, mail_from="not an address"))
    assert refused.status_code == 200
    assert "is not like name@example.com" in refused.content.decode()
    pages = [saved, refused]
    for user in (world.a.consultant, world.a.founder):
        client.force_login(user)
        pages += [
            client.get(reverse("projects:detail", args=[project.pk])),
            client.get(reverse("projects:list")),
            client.get(reverse("checks:risks", args=[project.pk])),
            client.get(reverse("checks:run", args=[stored["a"].done.pk])),
            client.get(reverse("checks:progress", args=[stored["a"].running.pk])),
        ]
    client.force_login(world.a.consultant)
    pages.append(client.get(edit))

    for page in pages:
        assert page.status_code in (200, 302)
        assert_no_secret(page.content.decode(), project)
    assert_no_secret(caplog.text, project)
    password_input = re.search(r'<input[^>]*name="smtp_password"[^>]*>', pages[-1].content.decode()).group(0)
    assert "value=" not in password_input
    assert 'type="password"' in password_input and 'autocomplete="new-password"' in password_input


def test_an_error_while_saving_reports_no_password(rf, world, monkeypatch, settings):
    """The report of an unhandled exception (the mail to ADMINS, a logging handler with the
    request) shows the POST and the locals of every frame: with DEBUG off (production; Django's
    DEBUG page deliberately shows everything) the password is cleansed from both."""
    settings.DEBUG = False

    def broken_keys():
        raise RuntimeError("the key store went away")

    monkeypatch.setattr(crypto, "_fernet", broken_keys)
    request = rf.post(reverse("projects:edit", args=[world.a.project.pk]), form_data(world.a))
    request.user = world.a.consultant
    request._dont_enforce_csrf_checks = True

    with pytest.raises(RuntimeError) as caught:
        views.project_edit(request, project_id=world.a.project.pk)

    reporter = ExceptionReporter(request, caught.type, caught.value, caught.tb)
    for report in (reporter.get_traceback_text(), reporter.get_traceback_html()):
        assert "the key store went away" in report
        assert_no_secret(report, world.a.project)
    assert "smtp_password" in reporter.get_traceback_text()  # the field is listed, its value starred


def test_the_project_page_shows_the_smtp_settings_and_only_that_a_password_is_stored(client, world):
    with_smtp(world.a.project)
    client.force_login(world.a.founder)

    html = client.get(reverse("projects:detail", args=[world.a.project.pk])).content.decode()

    section = re.search(r'<section class="card" id="smtp">(.*?)</section>', html, re.S).group(1)
    text = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    assert text == (
        "Transactional mail SMTP server smtp.postmark.example:587 Security STARTTLS "
        "User name app-user Password •••••••• stored encrypted, never shown From hello@alpha.example.com"
    )


def test_the_handover_pdf_holds_no_password(world, stored):
    project = with_smtp(world.a.project)

    document = handover_create(project=project, run=stored["a"].done)

    text = pdf_text(bytes(document.pdf))
    assert "Project A" in text
    assert_no_secret(text, project)
    assert PASSWORD.encode() not in bytes(document.pdf)


# --- scenario → project ---------------------------------------------------------------------


def scenario_file(tmp_path, smtp: dict | None):
    data = {"name": "mail", "project": {"name": "Mail co", "apex": "mailco.test", "subdomains": []}}
    if smtp is not None:
        data["project"]["smtp"] = smtp
    path = tmp_path / "mail.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_scenario(path)


def test_a_scenarios_smtp_mapping_becomes_the_projects_smtp_sending(tmp_path):
    smtp = {"host": "smtp.mailhost.test", "port": 2587, "security": "starttls", "username": "app",
            "password": PASSWORD, "from": "hello@mailco.test"}

    project = project_sync_from_scenario(scenario_file(tmp_path, smtp))

    project.refresh_from_db()
    assert (project.smtp_host, project.smtp_port, project.smtp_security, project.smtp_username,
            project.mail_from) == ("smtp.mailhost.test", 2587, "starttls", "app", "hello@mailco.test")
    assert PASSWORD not in project.smtp_password_encrypted
    assert project.smtp_password == PASSWORD

    # The scenario drops its smtp: so does the project, password included.
    project = project_sync_from_scenario(scenario_file(tmp_path, None))
    assert (project.smtp_host, project.smtp_username, project.smtp_password_encrypted) == ("", "", "")


def test_a_scenario_port_equal_to_the_modes_default_is_stored_blank(tmp_path):
    smtp = {"host": "smtp.mailhost.test", "port": 465, "security": "tls", "from": "hello@mailco.test"}
    project = project_sync_from_scenario(scenario_file(tmp_path, smtp))
    assert (project.smtp_port, project.spec().smtp.port) == (None, 465)


# --- "Send test mails" ----------------------------------------------------------------------


def mails_url(project) -> str:
    return reverse("checks:test_mails", args=[project.pk])


def test_plan_with_check_ids_keeps_only_those_checks(world):
    spec = with_smtp(world.a.project).spec()

    units = plan(spec, check_ids=["email.transactional"])

    assert [(u.check.id, u.target) for u in units] == [("email.transactional", "alpha.example.com")]
    assert plan(spec, check_ids=[]) == []
    assert len(plan(spec)) > 1


def test_a_consultant_sends_test_mails_an_audit_of_that_one_check(client, world):
    project = with_smtp(world.a.project)
    client.force_login(world.a.consultant)

    response = client.post(mails_url(project))

    assert response.status_code == 302 and response.url == reverse("projects:detail", args=[project.pk])
    run = AuditRun.objects.get(project=project)
    assert (run.check_ids, run.planned_count, run.state, run.created_by) == (
        ["email.transactional"], 1, "queued", world.a.consultant
    )
    assert list(StageRun.objects.filter(run=run).values_list("stage", "planned_count")) == [("email", 1)]


def test_a_founder_may_not_send_test_mails(client, world):
    with_smtp(world.a.project)
    client.force_login(world.a.founder)
    assert client.post(mails_url(world.a.project)).status_code == 403
    assert not AuditRun.objects.exists()


@pytest.mark.parametrize("who", ["consultant", "owner", "founder", "outsider"])
def test_another_agency_gets_404_on_send_test_mails(client, world, who):
    with_smtp(world.a.project)
    client.force_login(world.outsider if who == "outsider" else getattr(world.b, who))
    assert client.post(mails_url(world.a.project)).status_code == 404
    assert client.post(reverse("checks:test_mails", args=[999_999])).status_code == 404
    assert not AuditRun.objects.exists()


def test_send_test_mails_takes_only_a_post(client, world):
    with_smtp(world.a.project)
    client.force_login(world.a.consultant)
    assert client.get(mails_url(world.a.project)).status_code == 405


def test_a_project_without_smtp_sending_has_no_button_and_starts_no_run(client, world):
    client.force_login(world.a.consultant)
    detail = reverse("projects:detail", args=[world.a.project.pk])
    assert 'id="send-test-mails"' not in client.get(detail).content.decode()

    response = client.post(mails_url(world.a.project), follow=True)

    assert not AuditRun.objects.exists()
    message = "Set the project&#x27;s SMTP sending first: the test mails go through it."
    assert message in response.content.decode()


def test_the_button_shows_for_staff_only_once_smtp_sending_is_set(client, world):
    with_smtp(world.a.project)
    detail = reverse("projects:detail", args=[world.a.project.pk])
    client.force_login(world.a.consultant)
    assert 'id="send-test-mails"' in client.get(detail).content.decode()
    client.force_login(world.a.founder)
    assert 'id="send-test-mails"' not in client.get(detail).content.decode()


def test_an_unknown_check_id_is_refused(world):
    with pytest.raises(ValueError, match=r"^no such check: email\.nope$"):
        services.audit_start(project=world.a.project, check_ids=["email.nope"], dispatch=False)


@pytest.mark.django_db(transaction=True)  # the run's stages execute in threads
def test_a_run_with_check_ids_executes_only_those_checks(world):
    project = world.a.project
    project.sandbox_scenario = str(SCENARIOS / "demo.yaml")
    project.apex_domain, project.preferred_host, project.subdomains = "clubhouse.test", "", ["api"]
    project.save()
    project.endpoints.all().delete()

    run = services.audit_start(project=project, check_ids=["tls.certificate"], dispatch=False)
    services.audit_execute(run.pk)

    run.refresh_from_db()
    assert (run.state, run.planned_count) == ("done", 2)
    assert sorted(CheckResult.objects.filter(run=run).values_list("check_id", "target", "status")) == [
        ("tls.certificate", "api.clubhouse.test", "fail"),
        ("tls.certificate", "clubhouse.test", "pass"),
    ]


MAIL_SCENARIO = SCENARIOS / "faults" / "mail-test" / "delivered.yaml"


@pytest.mark.django_db(transaction=True)
def test_send_test_mails_end_to_end_on_the_sandbox_keeps_the_password_out_of_everything(
    client, world, tmp_path, caplog
):
    """The mail-test sandbox, with our distinctive password as the one its server accepts:
    the run passes, and neither the result nor its page nor the PDF holds the password."""
    data = yaml.safe_load(MAIL_SCENARIO.read_text())
    data["project"]["smtp"]["password"] = PASSWORD
    data["smtp"]["users"] = {data["project"]["smtp"]["username"]: PASSWORD}
    path = tmp_path / "delivered.yaml"
    path.write_text(yaml.safe_dump(data))
    caplog.set_level(logging.DEBUG)
    project = project_sync_from_scenario(load_scenario(path), agency=world.a.agency)

    run = services.audit_start(project=project, user=world.a.consultant,
                               check_ids=["email.transactional"], dispatch=False)
    with network_for(project):
        services.audit_execute(run.pk)

    run.refresh_from_db()
    result = CheckResult.objects.get(run=run)
    assert (run.state, run.planned_count, result.check_id, result.target, result.status) == (
        "done", 1, "email.transactional", "delivered.mail-test.test", "pass"
    )
    assert PASSWORD not in str(result.as_dict())
    client.force_login(world.a.consultant)
    for url in (reverse("checks:run", args=[run.pk]), reverse("projects:detail", args=[project.pk])):
        assert_no_secret(client.get(url).content.decode(), project)
    assert_no_secret(pdf_text(bytes(handover_create(project=project, run=run).pdf)), project)
    assert_no_secret(caplog.text, project)


def test_a_mail_test_run_is_named_so_and_claims_nothing_about_the_launch(client, world, monkeypatch):
    monkeypatch.setattr(services, "_dispatch", lambda run_id: None)
    project = world.a.project
    project.smtp_host, project.mail_from = "smtp.example.com", "hello@alpha.example.com"
    project.save()
    run = services.audit_start(project=project, user=world.a.consultant, check_ids=["email.transactional"])
    run.state = "done"
    run.save()
    client.force_login(world.a.consultant)
    html = client.get(reverse("checks:run", args=[run.pk])).content.decode()
    assert "<h1>Mail test #1</h1>" in html  # the project's first run
    assert "This run tested only email.transactional." in html
    assert "Nothing blocks the launch" not in html and 'id="blockers-left"' not in html
    detail = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    assert "<h2>Mail test #1</h2>" in detail
    assert "See the result of mail test #1 →" in detail
