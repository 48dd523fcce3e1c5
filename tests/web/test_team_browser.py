"""In headless Chromium, under the Content-Security-Policy with no violation: an agency signs
up, confirms from the mailed link and lands on the first-project guide; its owner invites a
consultant on the team page; a person in two agencies switches from the header menu.
Screenshots (desktop and phone) go to test-artifacts/web/team-*.png."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from projects.models import Membership
from tests.web import csp_browser
from tests.web.csp_browser import clean, watched_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-123456789"
NEW_PASSWORD = "Correct-horse-battery-9"


@pytest.fixture
def page(browser, live_server, settings):
    with watched_page(browser, live_server, settings) as page:
        yield page


def shoot(page, name: str) -> None:
    csp_browser.shoot(page, f"team-{name}")


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
