"""In headless Chromium: the panel's pages render under its Content-Security-Policy with no
violation (console and ``securitypolicyviolation`` events), and a consultant of an agency that
requires two-factor signs in, is sent to set it up, scans nothing but types the key's code, and
lands where they were going. Screenshots go to test-artifacts/web/signin-*.png."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.oath import totp

from projects.models import Agency, EncryptedTOTPDevice
from tests.web import csp_browser
from tests.web.csp_browser import clean, watched_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456789"


@pytest.fixture
def page(browser, live_server, settings):
    with watched_page(browser, live_server, settings) as page:
        yield page


def shoot(page, name: str) -> None:
    csp_browser.shoot(page, f"signin-{name}")


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")


def test_the_pages_render_with_no_csp_violation(page, world, stored):
    from projects.findings import findings_sync
    findings_sync(stored["a"].done)

    page.goto("/accounts/login/")
    assert clean(page) == []
    shoot(page, "login")
    log_in(page, "owner-a")
    page.wait_for_url("**/projects/")
    project = world.a.project.pk
    for name, url in [
        ("projects", "/projects/"), ("project", f"/projects/{project}/"),
        ("risks", f"/projects/{project}/risks/"),
        ("run", f"/runs/{stored['a'].done.pk}/"), ("monitoring", f"/projects/{project}/monitoring/"),
        ("monitor-form", f"/projects/{project}/monitoring/monitors/new/"),
        ("channel-form", f"/projects/{project}/monitoring/channels/new/"),
        ("deploys", f"/projects/{project}/deploys/"),
        ("test-accounts", f"/projects/{project}/test-accounts/"),
        ("handover-record", f"/projects/{project}/handover-record/"), ("overview", "/monitoring/"),
        ("security", "/accounts/security/"), ("enroll", "/accounts/security/two-factor/setup/"),
        ("api-docs", "/api/docs/"),
    ]:
        response = page.goto(url)
        assert response.status == 200, url
        page.wait_for_load_state("networkidle")
        assert clean(page) == [], url
        if name in ("project", "security", "enroll"):
            shoot(page, name)
    # The styles really apply (a blocked <style> would leave the header unstyled).
    page.goto(f"/projects/{project}/")
    header_colour = page.eval_on_selector("header.top", "e => getComputedStyle(e).backgroundColor")
    assert header_colour == "rgb(22, 28, 43)"


def test_a_delete_asks_first_through_data_confirm(page, world):
    from checks.models import Monitor
    monitor = Monitor.objects.create(project=world.a.project, name="Home", url="https://www.alpha.example.com/")
    log_in(page, "owner-a")
    page.wait_for_url("**/projects/")
    page.goto(f"/projects/{world.a.project.pk}/monitoring/monitors/{monitor.pk}/")

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("form[data-confirm] button[type=submit]")

    assert asked == ["Delete the monitor Home and its history?"]
    assert Monitor.objects.filter(pk=monitor.pk).exists()
    assert clean(page) == []


def test_a_consultant_of_an_agency_that_requires_it_sets_it_up_on_the_way_in(page, world):
    Agency.objects.filter(pk=world.a.agency.pk).update(require_two_factor=True)
    target = f"/projects/{world.a.project.pk}/"

    page.goto(target)
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_username", "consultant-a")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/security/two-factor/setup/**")
    assert page.locator("#required-note").inner_text() == (
        "Agency A requires two-factor sign-in for its staff. Set it up to continue.")
    assert page.locator("#enroll svg").count() == 1
    shoot(page, "enroll-required")

    device = EncryptedTOTPDevice.objects.get(user=world.a.consultant)
    assert page.locator("#secret").inner_text().replace(" ", "") in device.config_url
    page.fill("#id_code", f"{totp(device.bin_key):06d}")
    page.click("main button[type=submit]")

    assert page.locator(".msg.success").inner_text() == (
        "Two-factor sign-in is on: each sign-in now asks for a code from the app.")
    assert page.locator("#codes code").count() == 10  # the recovery codes, shown this once
    page.click("#codes-saved")
    page.wait_for_url(f"**{target}")
    assert clean(page) == []

    # The next sign-in asks for a code after the password.
    page.click("header button:text('Log out')")
    log_in(page, "consultant-a")
    page.wait_for_url("**/accounts/security/two-factor/verify/**")
    shoot(page, "verify")
    page.fill("#id_code", f"{totp(device.bin_key, drift=1):06d}")  # the last one was used
    page.click("main button[type=submit]")
    page.wait_for_url("**/projects/")
    assert clean(page) == []


def test_the_lock_out_page_after_repeated_failures(page, world, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        page.goto("/accounts/login/")
        page.fill("#id_username", "consultant-a")
        page.fill("#id_password", f"wrong-{n}")
        page.click("main button[type=submit]")
        page.wait_for_load_state()

    assert page.locator("h1").inner_text() == "Too many failed sign-ins"
    assert reverse("password_reset") in page.locator("#locked-out a").get_attribute("href")
    shoot(page, "locked-out")
    assert [e for e in clean(page) if "429" not in e] == []
