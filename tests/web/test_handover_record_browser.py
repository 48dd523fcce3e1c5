"""The handover record page in a real headless Chromium, at 1280 px and on a 390 px phone: the
consultant adopts a starter runbook entry, records a secret location (a pasted key is refused),
signs; the founder reads the record and signs it. Screenshots under ``test-artifacts/web/``."""

from __future__ import annotations

import pytest

from handover.models import HandoverRecord, RunbookEntry, SecretLocation
from projects.models import Agency, Membership, Project
from tests.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = REPO / "test-artifacts" / "web"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "pw-123456789"


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture
def project(django_user_model) -> Project:
    agency = Agency.objects.create(name="Northwind Digital", slug="northwind")
    for username, role in (("nadia", Membership.Role.CONSULTANT), ("cleo", Membership.Role.CLIENT)):
        user = django_user_model.objects.create_user(username=username, password=PASSWORD,
                                                     first_name=username.title())
        Membership.objects.create(user=user, agency=agency, role=role)
    project = Project.objects.create(agency=agency, name="Clubhouse", client_name="Clubhouse Ltd",
                                     apex_domain="clubhouse.test", rollback_notes="`paas rollback v<N>`")
    project.founders.add(django_user_model.objects.get(username="cleo"))
    return project


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for size, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        # Nothing wider than the phone: no sideways scrolling.
        if label == "phone":
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/projects/")


def test_the_consultant_fills_and_signs_the_record_and_the_founder_signs_it(page, project):
    log_in(page, "nadia")
    page.goto(f"/projects/{project.pk}/")
    page.click("#open-handover-record")
    page.wait_for_url(f"**/projects/{project.pk}/handover-record/")
    shoot(page, "30-handover-record-empty")

    page.click('button[data-key="site_down"]')
    page.wait_for_selector("#runbook .msg, .messages .msg")
    entry = RunbookEntry.objects.get(project=project)
    assert (entry.key, entry.title) == ("site_down", "Site down")

    # A pasted key is refused, and not shown back.
    page.fill("#id_secrets-0-name", "Stripe live secret key")
    page.fill("#id_secrets-0-store", "1Password")
    page.fill("#id_secrets-0-path", "sk_live_4eC39HqLyjWDarjtT1zdp7dc")
    page.click("#secrets button[type=submit]")
    error = page.locator("#secrets .errorlist").first.inner_text()
    assert error == "This looks like a Stripe secret key (sk_live_…): record where it lives, not the value."
    assert page.input_value("#id_secrets-0-path") == ""
    shoot(page, "31-handover-record-secret-refused")
    page.fill("#id_secrets-0-path", "Clubhouse / Production / Stripe")
    page.click("#secrets button[type=submit]")
    page.wait_for_url("**/handover-record/#secrets")
    assert list(SecretLocation.objects.values_list("path", flat=True)) == ["Clubhouse / Production / Stripe"]

    page.click("#sign-consultant")
    page.wait_for_url("**/handover-record/#sign-off")
    assert page.locator('.signature[data-side="consultant"] strong').inner_text() == "Signed by Nadia"
    shoot(page, "32-handover-record-signed-by-consultant")

    page.click("header button:text('Log out')")
    log_in(page, "cleo")
    page.goto(f"/projects/{project.pk}/handover-record/")
    assert page.locator('input[name="part"]').count() == 0
    shoot(page, "33-handover-record-founder")
    page.click("#sign-founder")
    page.wait_for_url("**/handover-record/#sign-off")
    assert page.locator('.signature[data-side="founder"] strong').inner_text() == "Signed by Cleo"
    record = HandoverRecord.objects.get(project=project)
    assert record.founder_signed_by.username == "cleo"
    shoot(page, "34-handover-record-signed")
    assert page.js_errors == []
