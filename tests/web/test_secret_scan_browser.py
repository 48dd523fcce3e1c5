"""The secret scan page in a real browser (Debian's Chromium through Playwright): a consultant
sees the Stripe key of the sandbox repository's old commit, redacted, accepts it with a
reason, and the page lists it as accepted; desktop and phone screenshots for a person to see."""

from __future__ import annotations

import pytest

from checks import services
from checks.sandbox import load_scenario
from projects.models import Agency, Membership, SecretAcceptance
from projects.services import project_sync_from_scenario
from tests.conftest import REPO, SCENARIOS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = REPO / "test-artifacts" / "web"
PASSWORD = "pw-123456789"


def test_a_consultant_accepts_a_leaked_key_from_the_secret_scan_page(browser, live_server, django_user_model):
    agency = Agency.objects.create(name="Northwind Digital", slug="northwind")
    consultant = django_user_model.objects.create_user(username="nadia", password=PASSWORD)
    Membership.objects.create(user=consultant, agency=agency, role=Membership.Role.CONSULTANT)
    scenario = load_scenario(SCENARIOS / "faults" / "secrets-repo.yaml")
    project = project_sync_from_scenario(scenario, agency=agency)
    run = services.audit_start(project=project, user=consultant, dispatch=False,
                               check_ids=["hardening.secrets_repo"])
    services.audit_execute(run.pk)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/accounts/login/")
    page.fill("#id_username", "nadia")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/projects/")
    page.goto(f"/projects/{project.pk}/")
    page.click("#open-secrets")
    assert page.locator("h1").inner_text() == "Secret scan"
    row = page.locator("#found li").first
    assert "Stripe Access Key" in row.inner_text() and "sk_l...sha256:" in row.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "secrets-desktop.png"), full_page=True)

    row.locator("input[name=reason]").fill("revoked in the Stripe dashboard")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("#accepted li")
    assert "revoked in the Stripe dashboard" in page.locator("#accepted").inner_text()
    assert SecretAcceptance.objects.filter(project=project).count() == 1

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "secrets-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert errors == []
    context.close()
