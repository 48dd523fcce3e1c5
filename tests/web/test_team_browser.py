"""In headless Chromium, under the Content-Security-Policy with no violation: an agency signs
up, confirms from the mailed link and lands on the first-project guide; its owner invites a
consultant on the team page; a person in two agencies switches from the header menu.
Screenshots (desktop and phone) go to test-artifacts/web/team-*.png."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from projects.models import Membership
from tests.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = REPO / "test-artifacts" / "web"
PASSWORD = "pw-123456789"
NEW_PASSWORD = "Correct-horse-battery-9"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def page(browser, live_server, settings):
    settings.SITE_URL = live_server.url
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    context.close()


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"team-{name}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def clean(page) -> list[str]:
    return page.evaluate("window.__violations") + page.console_errors


def test_sign_up_confirm_and_land_on_the_first_project_guide(page, live_server):
    page.goto("/accounts/login/")
    page.click("text=Create your agency's account")
    page.fill("#id_agency_name", "Northwind Studio")
    page.fill("#id_email", "ada@northwind.test")
    page.fill("#id_password1", NEW_PASSWORD)
    page.fill("#id_password2", NEW_PASSWORD)
    assert clean(page) == []
    shoot(page, "signup")
    page.click("#signup")
    page.wait_for_selector("text=Check your inbox")
    shoot(page, "signup-sent")

    link = re.search(r"(http://\S+/accounts/signup/confirm/\S+/)", mail.outbox[0].body).group(1)
    page.goto(link)
    shoot(page, "signup-confirm")
    page.click("#confirm")
    page.wait_for_url("**/projects/")

    assert page.is_visible("#first-project-guide")
    assert clean(page) == []
    shoot(page, "first-project-guide")


def test_the_team_page_and_the_agency_switch(page, world):
    Membership.objects.create(user=world.a.owner, agency=world.b.agency, role="consultant")
    page.goto("/accounts/login/")
    page.fill("#id_username", "owner-a")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/projects/")

    page.click("#agency-menu summary")
    assert page.is_visible("text=Switch agency")
    shoot(page, "switcher")
    page.click("#agency-menu >> text=Team")
    page.wait_for_url(f"**/agencies/{world.a.agency.pk}/team/")
    page.fill("#id_email", "grace@northwind.test")
    page.click("#send-invite")
    page.wait_for_selector("text=Invite sent to grace@northwind.test")
    assert clean(page) == []
    shoot(page, "team")

    page.click("#agency-menu summary")
    page.click(f"#agency-menu button[data-agency='{world.b.agency.pk}']")
    page.wait_for_url("**/projects/")
    assert page.inner_text("#agency-menu summary").strip() == "Agency B"
    assert page.is_visible("text=Project B")
    assert not page.is_visible("text=Project A")
    assert clean(page) == []
