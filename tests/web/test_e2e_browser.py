"""End to end in a real headless Chromium: a consultant creates the demo project, audits its
sandbox, watches the progress bar finish, reads the ranked risk list, generates and downloads
the handover PDF; the founder reads it; the password reset flow works; a consultant turns on
two-factor sign-in and comes back in with a recovery code.

Every page is kept as a screenshot, 1280 px and 390 px wide, under ``test-artifacts/web/``.
Debian's /usr/bin/chromium is driven by Playwright; no browser is ever downloaded.
"""

from __future__ import annotations

import re
from base64 import b32decode
from pathlib import Path

import pytest
from django.core import mail
from django_otp.oath import totp

from projects.models import Agency, Membership, Project
from tests.conftest import DEMO_EXPECT, REPO, SCENARIOS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = REPO / "test-artifacts" / "web"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "pw-123456789"
DEMO_RISKS = [
    ("tls.certificate", "api.clubhouse.test", "blocker"),
    ("dns.resolves", "admin.clubhouse.test", "blocker"),
    ("http.hsts", "app.clubhouse.test", "high"),
    ("http.canonical_redirect", "clubhouse.test", "medium"),
    ("http.redirect_hops", "clubhouse.test", "low"),
]
# The project typed in the form has no handover record yet, so each part of it fails too
# (stage 7, on the apex), ranked among the demo's faults: by impact, fail before warn.
# A project typed in the form has no monitor and no alert channel yet: stage 5 fails on the apex.
# A project typed in the form has no handover record, monitoring or stage 3 record: each of
# those checks adds its finding between the demo's own faults.
FORM_RISKS = DEMO_RISKS[:2] + [("hardening.rollback", "clubhouse.test", "high")] + [
    (f"monitoring.{check}", "clubhouse.test", "high") for check in ("alert_test", "monitors")
] + [("hardening.environments", "clubhouse.test", "high"), DEMO_RISKS[2],
     ("monitoring.health_endpoint", "clubhouse.test", "medium")] + [
    (f"handover.{part}", "clubhouse.test", "medium")
    for part in ("access_map", "deploy_steps", "rollback", "secret_locations")
] + [DEMO_RISKS[3], ("hardening.deploys", "clubhouse.test", "medium")] + [
    (f"handover.{part}", "clubhouse.test", "low") for part in ("monitoring", "owners", "runbook", "sign_off")
] + [DEMO_RISKS[4]]


@pytest.fixture
def page(browser, live_server, settings):
    # No broker: audits run on the in-process thread pool, outside the request.
    settings.REDIS_URL = ""
    settings.SANDBOX_ENABLED = True
    settings.SCENARIOS_DIR = SCENARIOS
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture
def people(django_user_model):
    """A consultant of Northwind Digital and a founder (client) of the same agency."""
    agency = Agency.objects.create(name="Northwind Digital", slug="northwind")
    consultant = django_user_model.objects.create_user(
        username="nadia", email="nadia@northwind.test", password=PASSWORD
    )
    founder = django_user_model.objects.create_user(
        username="cleo", email="cleo@clubhouse.test", password=PASSWORD
    )
    Membership.objects.create(user=consultant, agency=agency, role=Membership.Role.CONSULTANT)
    Membership.objects.create(user=founder, agency=agency, role=Membership.Role.CLIENT)
    return consultant, founder


def shoot(page, name: str) -> None:
    """Keep the page as it looks on a desktop and on a phone."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for size, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def submit(page) -> None:
    """Press the page's own submit button (not the header's Log out)."""
    page.click("main button[type=submit]")


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    submit(page)
    page.wait_for_url("**/projects/")


def test_a_consultant_audits_the_demo_and_hands_over_the_pdf(page, people):
    consultant, founder = people

    page.goto("/")
    page.wait_for_url("**/accounts/login/?next=/projects/")
    shoot(page, "01-login")
    log_in(page, "nadia")
    assert page.locator(".empty").inner_text().startswith(
        "Welcome, Northwind Digital! Three steps to your first launch audit")
    shoot(page, "02-projects-empty")

    # Create the project, first with a malformed apex.
    page.click("text=+ New project")
    page.wait_for_url("**/projects/new/")
    shoot(page, "03-project-new")
    page.fill("#id_name", "Clubhouse")
    page.fill("#id_client_name", "Clubhouse Ltd")
    page.fill("#id_apex_domain", "https://clubhouse.test/")
    page.fill("#id_preferred_host", "www.clubhouse.test")
    page.fill("#id_subdomains_text", "www, app, api, admin")
    page.fill("#id_dkim_selectors_text", "mailhost._domainkey.clubhouse.test")  # pasted record name
    page.select_option("#id_sandbox_scenario", "demo.yaml")
    submit(page)
    assert page.locator(".field.has-error .errorlist").inner_text() == (
        "'https://clubhouse.test/' is a URL: give the host name only, like example.com"
    )
    shoot(page, "04-project-new-errors")
    page.fill("#id_apex_domain", "clubhouse.test")
    submit(page)
    page.wait_for_url(re.compile(r"/projects/\d+/$"))
    project = Project.objects.get(name="Clubhouse")
    assert (project.sandbox_scenario, project.subdomains) == ("demo.yaml", ["www", "app", "api", "admin"])
    assert page.locator(".msg.success").inner_text() == "Project Clubhouse created. Run its first audit."
    shoot(page, "05-project-new-created")

    # Run the audit and watch the progress bar reach done.
    page.click("#run-audit")
    page.wait_for_selector("#progress")
    shoot(page, "06-project-audit-started")
    page.wait_for_selector('#progress[data-state="done"]')
    assert page.locator('#progress [role="progressbar"]').get_attribute("aria-valuenow") == "100"
    run = project.runs.get()
    assert run.state == "done"
    page.wait_for_selector(f'#summary[data-run="{run.pk}"]')  # the page reloaded with the summary
    assert page.locator("#summary .blockers .n").inner_text() == "2"
    assert page.locator('#progress [data-role="done"]').inner_text() == str(run.planned_count)
    shoot(page, "07-project-audited")

    # The risk list, in fix order.
    page.click("#open-risks")
    page.wait_for_url(f"**/projects/{project.pk}/risks/")
    items = page.locator("ol#risks > li")
    seen = [
        (items.nth(i).get_attribute("data-check"), items.nth(i).get_attribute("data-target"),
         items.nth(i).locator(".meta .badge").first.inner_text().lower())
        for i in range(items.count())
    ]
    assert seen == FORM_RISKS
    assert page.locator("#blockers-left .n").inner_text() == "2"
    # The project typed in the form has no endpoints: only the host checks' errors appear.
    host_errors = sum(1 for (_, target), s in DEMO_EXPECT.items() if s == "error" and "://" not in target)
    # …and monitoring.log_hygiene: no log sample has been scanned for it.
    assert page.locator("#untested > li").count() == host_errors + 1
    page.locator("ol#risks > li").first.locator("details.evidence summary").click()
    assert '"verify_error": "certificate has expired"' in page.locator("ol#risks > li pre").first.inner_text()
    shoot(page, "08-risks")

    # Generate the handover PDF and download it.
    page.click(f'a.crumb[href="/projects/{project.pk}/"]')
    page.click("#generate-handover")
    page.wait_for_selector("#handover a.download")
    assert page.locator(".msg.success").inner_text().startswith("Handover PDF generated (")
    shoot(page, "09-project-handover")
    with page.expect_download() as download:
        page.click("#handover a.download")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert pdf == bytes(project.handovers.get().pdf)

    # Log out (back to the sign-in page); the founder reads the same project, read-only.
    page.click("header button:text('Log out')")
    page.wait_for_url("**/accounts/login/")
    assert page.locator("header nav").count() == 0
    project.founders.add(founder)
    log_in(page, "cleo")
    shoot(page, "11-founder-projects")
    page.click(f'a[href="/projects/{project.pk}/"]')
    page.wait_for_selector(f'#summary[data-run="{run.pk}"]')
    assert page.locator("#run-audit").count() == 0
    assert page.locator("#generate-handover").count() == 0
    assert page.locator("#handover a.download").count() == 1
    shoot(page, "12-founder-project")
    page.click("#open-risks")
    assert page.locator("ol#risks > li").count() == len(FORM_RISKS)
    shoot(page, "13-founder-risks")
    assert page.js_errors == []


def test_a_founder_resets_a_forgotten_password(page, people, settings, live_server):
    settings.SITE_URL = live_server.url  # the mailed link is built on SITE_URL, never on Host
    page.goto("/accounts/login/")
    page.click("text=Forgot your password?")
    page.wait_for_url("**/accounts/password_reset/")
    shoot(page, "20-password-reset")
    page.fill("#id_email", "cleo@clubhouse.test")
    submit(page)
    page.wait_for_url("**/accounts/password_reset/done/")
    shoot(page, "21-password-reset-done")

    assert [m.to for m in mail.outbox] == [["cleo@clubhouse.test"]]
    link = re.search(r"https?://\S+/accounts/reset/\S+/", mail.outbox[0].body).group(0)
    page.goto(link)
    page.wait_for_url("**/set-password/")
    shoot(page, "22-password-reset-confirm")
    page.fill("#id_new_password1", "a-new-launch-password-7")
    page.fill("#id_new_password2", "a-new-launch-password-7")
    submit(page)
    page.wait_for_url("**/accounts/reset/done/")
    shoot(page, "23-password-reset-complete")

    page.goto(link)  # a reset link works once
    assert page.locator("h1").inner_text() == "This link has expired"
    shoot(page, "24-password-reset-expired")
    page.goto("/accounts/login/")
    page.fill("#id_username", "cleo")
    page.fill("#id_password", "a-new-launch-password-7")
    submit(page)
    page.wait_for_url("**/projects/")
    assert page.locator(".empty").inner_text().startswith("No project has been shared with you yet.")
    shoot(page, "25-founder-no-projects")

    settings.LOGOUT_REDIRECT_URL = None  # the signed-out page, shown when no redirect is set
    page.click("header button:text('Log out')")
    page.wait_for_url("**/accounts/logout/")
    assert page.locator("h1").inner_text() == "You are signed out"
    shoot(page, "26-logged-out")
    assert page.js_errors == []


def test_a_consultant_turns_on_two_factor_and_signs_in_with_a_recovery_code(page, people):
    log_in(page, "nadia")
    page.goto("/accounts/security/")
    shoot(page, "security-off")
    page.click("text=Set up two-factor sign-in")
    key = page.inner_text("#secret").replace(" ", "")
    shoot(page, "two-factor-setup")
    page.fill("#id_code", f"{totp(b32decode(key + '=' * (-len(key) % 8))):06d}")
    submit(page)

    codes = page.locator("#codes code").all_inner_texts()
    assert len(codes) == 10
    shoot(page, "recovery-codes")
    page.click("#codes-saved")
    page.wait_for_url("**/accounts/security/")
    assert page.inner_text("#codes-left") == ("10 of 10 recovery codes left: each signs you in once if the "
                                              "phone is lost.")
    shoot(page, "security-on")

    page.click("header button:has-text('Log out')")
    page.goto("/accounts/login/")
    page.fill("#id_username", "nadia")
    page.fill("#id_password", PASSWORD)
    submit(page)
    page.wait_for_url("**/two-factor/verify/**")
    page.click("#recovery summary")
    page.fill("#id_recovery_code", codes[0])
    shoot(page, "two-factor-recovery")
    page.click("#recovery button[type=submit]")

    page.wait_for_url("**/projects/")
    assert "you have 9 recovery codes left" in page.inner_text("main")
    shoot(page, "signed-in-with-recovery-code")
    assert page.js_errors == []
