"""The handover PDF prints every part of the handover record, and no secret: not the SMTP
password the project stores, and not a secret-looking value that reached the record some way
other than the page's forms (the admin, an older release) — that is withheld."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from handover.models import AccessEntry, AreaOwner, HandoverRecord, RunbookEntry, SecretLocation
from handover.record_context import WITHHELD
from handover.services import handover_create, handover_html
from tests.handover.pdf import flat, keep_pages, pdf_text

pytestmark = pytest.mark.django_db

SMTP_PASSWORD = "smtp-Pa55word-never-printed"
# Secret values stored by going around the forms, one in each kind of field.
SECRETS = {
    "deploy": "AKIAIOSFODNN7EXAMPLE",
    "rollback": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "path": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "url": "https://admin:hunter2hunter2@hosting.example/",
    "steps": "-----BEGIN RSA PRIVATE KEY-----",
    "link": "https://status.example/feed?token=9f8e7d6c5b4a3210",
    "contact": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
}


@pytest.fixture
def project(world):
    project = world.a.project
    project.smtp_host, project.mail_from, project.smtp_username = (
        "smtp.mailhost.test",
        "hi@alpha.example.com",
        "alpha",
    )
    project.set_smtp_password(SMTP_PASSWORD)
    project.rollback_notes = f"`paas rollback v<N>`; the token is {SECRETS['rollback']}"
    project.save()
    now = timezone.now()
    HandoverRecord.objects.create(
        project=project,
        deploy_steps=f"1. `make deploy`\n2. export AWS_ACCESS_KEY_ID={SECRETS['deploy']}",
        monitoring_links=f"Uptime https://status.alpha.example.com/\nFeed {SECRETS['link']}",
        consultant_signed_by=world.a.consultant,
        consultant_signed_at=now,
    )
    SecretLocation.objects.create(
        project=project,
        name="Stripe live secret key",
        store="1Password",
        path="Alpha / Stripe",
        who_can_access="Sam, Dana",
    )
    SecretLocation.objects.create(project=project, name="Old Stripe key", store="Notes", path=SECRETS["path"])
    AccessEntry.objects.create(
        project=project,
        system="Stripe",
        url="https://dashboard.stripe.com/",
        owner="Sam",
        people_with_access="Sam, Dana",
        mfa="on",
    )
    AccessEntry.objects.create(
        project=project,
        system="Hosting",
        url=SECRETS["url"],
        owner="Priya",
        people_with_access="Priya",
        mfa="off",
    )
    AreaOwner.objects.create(
        project=project, area="Payments", owner="Sam Lee", contact="sam@alpha.example.com"
    )
    AreaOwner.objects.create(project=project, area="Email", owner="Priya", contact=SECRETS["contact"])
    RunbookEntry.objects.create(
        project=project,
        key="site_down",
        title="Site down",
        steps="1. Check the status page.\n2. Call Priya.",
        position=1,
    )
    RunbookEntry.objects.create(
        project=project, key="", title="Keys leaked", steps=SECRETS["steps"], position=2
    )
    return project


def test_every_handover_section_is_in_the_pdf_and_no_secret_is(world, project):
    pdf = bytes(handover_create(project=project, user=world.a.consultant).pdf)
    keep_pages(pdf, "record")
    text = flat(pdf_text(pdf))
    body = re.sub(r" Project A · launch handover Page \d+ of \d+", "", text)
    consultant = world.a.consultant.get_username()
    signed_on = f"{timezone.now():%-d %B %Y}"
    before, access = body.rsplit(" 11. Access map ", 1)
    access, after = access.split(" 12. Owners ")
    assert before.endswith(
        f"7. Deploy steps {WITHHELD} "
        f"8. Rollback {WITHHELD} "
        "9. Monitoring Where the app is watched: look here first when something seems wrong. WHAT LINK "
        f"Uptime https://status.alpha.example.com/ Feed {WITHHELD} "
        "10. Secret locations Where each secret lives and who can reach it. The values themselves are never "
        "written in this document. SECRET STORE PATH WHO CAN REACH IT "
        f"Old Stripe key Notes {WITHHELD} — Stripe live secret key 1Password Alpha / Stripe Sam, Dana"
    )
    assert access.startswith(
        "Each production system, who owns it, who can log in, and whether multi-factor "
        "authentication (MFA) is on. SYSTEM OWNER WHO CAN LOG IN MFA "
    )
    # The table's rows as laid out: system, owner, who can log in, MFA; the URL under the system.
    layout = pdf_text(pdf, layout=True)
    assert re.findall(r"^ (\S.*?) {2,}(\S.*?) {2,}(\S.*?) {2,}(On|Off|Unknown)\n +(\S.*)$", layout, re.M) == [
        ("Hosting", "Priya", "Priya", "Off", "[withheld: this looked like a secret"),  # wrapped
        ("Stripe", "Sam", "Sam, Dana", "On", "https://dashboard.stripe.com/"),
    ]
    assert after == (
        f"AREA OWNER CONTACT Email Priya {WITHHELD} Payments Sam Lee sam@alpha.example.com "
        "13. What to do if something breaks Site down 1. Check the status page. 2. Call Priya. "
        f"Keys leaked {WITHHELD} "
        f"14. Sign-off CONSULTANT FOUNDER Signed by {consultant} on {signed_on} Not signed yet"
    )
    assert WITHHELD in access
    html = handover_html(project, None)
    for secret in (SMTP_PASSWORD, *SECRETS.values()):
        assert secret not in text
        assert secret not in html
        assert secret.encode() not in pdf
    assert text.count(WITHHELD) == len(SECRETS)
