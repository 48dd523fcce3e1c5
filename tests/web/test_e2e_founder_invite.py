"""End to end in a real headless Chromium: a consultant invites the founder of the audited demo
project from its page; the founder follows the mailed link, sets a password, reads the risk
list and downloads the handover PDF; the used link then answers the "expired or already used"
page, as an expired one does.

Screenshots (1280 px and 390 px wide) are kept under ``test-artifacts/web/invite-*.png``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from checks import selectors, services
from checks.sandbox import load_scenario
from handover.services import handover_create
from projects import invites
from projects.models import Agency, Invite, Membership
from projects.services import project_sync_from_scenario
from tests.conftest import REPO, SCENARIOS
from tests.handover.pdf import flat, pdf_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = REPO / "test-artifacts" / "web"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
CONSULTANT_PASSWORD = "pw-123456789"
FOUNDER = "cleo@clubhouse.test"
FOUNDER_PASSWORD = "clubhouse-launch-2026"


@pytest.fixture
def audited(django_user_model):
    """``(consultant, project, run)``: Northwind's consultant and the demo project, audited
    once against its sandbox, with a handover PDF."""
    agency = Agency.objects.create(name="Northwind Digital", slug="northwind")
    consultant = django_user_model.objects.create_user(
        username="nadia", email="nadia@northwind.test", password=CONSULTANT_PASSWORD
    )
    Membership.objects.create(user=consultant, agency=agency, role=Membership.Role.CONSULTANT)
    project = project_sync_from_scenario(load_scenario(SCENARIOS / "demo.yaml"), agency=agency)
    run = services.audit_start(project=project, user=consultant, dispatch=False)
    services.audit_execute(run.pk)
    run.refresh_from_db()
    assert run.state == "done", run.error
    handover_create(project=project, user=consultant, run=run)
    return consultant, project, run


@pytest.fixture
def page(browser, live_server, settings):
    settings.SITE_URL = live_server.url  # the mailed link must reach this server
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    yield page
    context.close()


def shoot(page, name: str, element: str = "") -> None:
    """Keep the page (or only ``element``, a selector) as it looks on a desktop and on a phone."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for size, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        path = str(ARTIFACTS / f"invite-{name}-{label}.png")
        if element:
            page.locator(element).screenshot(path=path)
        else:
            page.screenshot(path=path, full_page=True)
    page.set_viewport_size(DESKTOP)


def test_a_founder_follows_the_invite_sees_the_risks_and_downloads_the_pdf(page, audited, live_server):
    consultant, project, run = audited

    # The consultant invites the founder from the project page.
    page.goto("/accounts/login/")
    page.fill("#id_username", "nadia")
    page.fill("#id_password", CONSULTANT_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/projects/")
    page.goto(f"/projects/{project.pk}/")
    shoot(page, "01-card", "#invites")
    page.fill("#invite-email", "cleo@clubhouse")  # the browser takes it; the server wants a domain
    page.click("#send-invite")
    page.wait_for_url(f"**/projects/{project.pk}/invites/")
    assert page.locator(".field.has-error .errorlist").inner_text() == "Enter a valid email address."
    shoot(page, "02-form-error")
    page.fill("#id_email", FOUNDER)
    page.click("#send-invite")
    page.wait_for_url(f"**/projects/{project.pk}/#invites")
    invite = Invite.objects.get()
    until = f"{invite.expires_at:%-d %b %Y, %H:%M} UTC"
    sent = page.locator(".msg.success").inner_text()
    assert sent == f"Invite sent to {FOUNDER}. The link works until {until}."
    row = page.locator(f'#invites li[data-invite="{invite.pk}"]')
    assert row.get_attribute("data-state") == "pending"
    shoot(page, "03-sent", "#invites")
    shoot(page, "03-sent-message", ".messages")

    # The mail, as the founder receives it.
    assert [m.to for m in mail.outbox] == [[FOUNDER]]
    assert mail.outbox[0].subject == "Northwind Digital invites you to follow Clubhouse on Launch Ready"
    link = re.search(r"http://\S+/invites/[A-Za-z0-9_-]{43}/", mail.outbox[0].body).group(0)
    assert link.startswith(live_server.url + "/invites/")
    page.click("header button:text('Log out')")
    page.wait_for_url("**/accounts/login/")

    # The founder follows it and sets a password (first too short).
    page.goto(link)
    assert page.locator("#invite-agency").inner_text() == "Northwind Digital"
    assert page.locator("h1").inner_text() == "Follow the launch of Clubhouse"
    assert page.locator("#id_email").input_value() == FOUNDER
    assert page.locator("#id_email").get_attribute("readonly") == ""
    shoot(page, "04-accept")
    page.fill("#id_password1", "short")
    page.fill("#id_password2", "short")
    page.click("#accept-invite")
    assert page.locator(".field.has-error .errorlist").first.inner_text() == (
        "This password is too short. It must contain at least 8 characters."
    )
    shoot(page, "05-accept-error")
    page.fill("#id_password1", FOUNDER_PASSWORD)
    page.fill("#id_password2", FOUNDER_PASSWORD)
    page.click("#accept-invite")
    page.wait_for_url(f"**/projects/{project.pk}/")
    assert page.locator(".msg.success").inner_text() == "Welcome to Northwind Digital's Launch Ready."
    assert page.locator("header .who").inner_text() == FOUNDER
    assert page.locator(f'#summary[data-run="{run.pk}"] .blockers .n').inner_text() == str(
        selectors.risk_summary(run)["blockers"]
    )
    assert page.locator("#run-audit").count() == 0
    assert page.locator("#invites").count() == 0
    shoot(page, "06-founder-project")

    # The risk list of the audited demo, in fix order: the expired certificate first.
    page.click("#open-risks")
    page.wait_for_url(f"**/projects/{project.pk}/risks/")
    items = page.locator("ol#risks > li")
    seen = [(items.nth(i).get_attribute("data-check"), items.nth(i).get_attribute("data-target"))
            for i in range(items.count())]
    assert seen == [(r.check_id, r.target) for r in selectors.risk_list(run)]
    assert seen[:2] == [("tls.certificate", "api.clubhouse.test"), ("dns.resolves", "admin.clubhouse.test")]
    shoot(page, "07-founder-risks")

    # The handover PDF.
    page.goto(f"/projects/{project.pk}/")
    with page.expect_download() as download:
        page.click("#handover a.download")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert pdf == bytes(project.handovers.get().pdf)
    text = flat(pdf_text(pdf))
    assert "Clubhouse" in text
    assert "clubhouse.test" in text

    # The used link, and an expired one, answer the same page.
    page.click("header button:text('Log out')")
    page.wait_for_url("**/accounts/login/")
    used = page.goto(link)
    assert used.status == 410
    assert page.locator("h1").inner_text() == "This invite link has expired or has already been used"
    _, expired_token = invites.invite_create(
        agency=project.agency, email="late@clubhouse.test", projects=[project], created_by=consultant,
        now=timezone.now() - timedelta(hours=73),
    )
    expired = page.goto(f"/invites/{expired_token}/")
    assert expired.status == 410
    assert page.locator("h1").inner_text() == "This invite link has expired or has already been used"
    shoot(page, "08-expired")
    assert page.js_errors == []
