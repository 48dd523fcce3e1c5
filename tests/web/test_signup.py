"""Agency sign-up (projects/signup.py, signup_views.py): an inactive account until the mailed,
signed, expiring, single-use link is confirmed; the same answer for an address that already has
an account; a throttle per client and per address; then an empty panel with the first-project
guide."""

from __future__ import annotations

import re
import time
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from projects.models import Agency, AuditLogEntry, Membership

pytestmark = pytest.mark.django_db

SITE = "https://panel.northwind.test"
PASSWORD = "Correct-horse-battery-9"


@pytest.fixture(autouse=True)
def signup_settings(settings):
    settings.SITE_URL = SITE
    settings.SIGNUP_RATE = "3/h"
    settings.SIGNUP_CONFIRM_TTL_HOURS = 48


def sign_up(client, email="ada@northwind.test", agency="Northwind Studio", password=PASSWORD,
            ip="203.0.113.9", **headers):
    return client.post(reverse("signup"), {"agency_name": agency, "email": email, "password1": password,
                                           "password2": password}, REMOTE_ADDR=ip, **headers)


def link_path(message) -> str:
    return re.search(rf"{SITE}(/accounts/signup/confirm/\S+/)", message.body).group(1)


def same_page(content: bytes, email: str) -> str:
    """The page without what differs by design: the address typed and the CSP nonce."""
    return re.sub(r'nonce="[^"]+"', "", content.decode().replace(email, "X"))


def test_signing_up_makes_an_inactive_owner_and_mails_a_link_on_site_url(client, settings):
    settings.ALLOWED_HOSTS = ["*"]

    response = sign_up(client, email=" Ada@Northwind.test ", HTTP_HOST="evil.example")

    assert response.status_code == 200
    assert b"Check your inbox" in response.content
    user = get_user_model().objects.get(username="ada@northwind.test")
    assert (user.email, user.is_active) == ("ada@northwind.test", False)
    membership = Membership.objects.get(user=user)
    assert (membership.agency.name, membership.agency.slug, membership.role) == (
        "Northwind Studio", "northwind-studio", "owner")
    [message] = mail.outbox
    assert message.to == ["ada@northwind.test"]
    assert message.subject == "Confirm your Launch Ready account for Northwind Studio"
    assert "evil.example" not in message.body
    assert "The link works once, for 48 hours." in message.body
    assert link_path(message).startswith("/accounts/signup/confirm/")
    # Not yet confirmed: the password does not sign in.
    assert not client.login(username="ada@northwind.test", password=PASSWORD)


def test_the_link_confirms_once_signs_in_and_lands_on_the_first_project_guide(client):
    sign_up(client)
    path = link_path(mail.outbox[0])

    page = client.get(path)
    assert page.status_code == 200
    assert b"Confirm and open my panel" in page.content
    # GET changes nothing
    assert get_user_model().objects.get(username="ada@northwind.test").is_active is False

    response = client.post(path, follow=True)

    assert response.redirect_chain == [(reverse("projects:list"), 302)]
    assert response.context["user"].get_username() == "ada@northwind.test"
    assert get_user_model().objects.get(username="ada@northwind.test").is_active is True
    content = response.content.decode()
    assert 'id="first-project-guide"' in content
    for step in ("Create a project", "Run the first audit", "Invite the founder"):
        assert step in content
    agency = Agency.objects.get(slug="northwind-studio")
    assert f'href="{reverse("agency:team", args=[agency.pk])}"' in content  # "Invite your team"
    entry = AuditLogEntry.objects.get(agency=agency)
    assert (entry.action, entry.summary) == (
        "signup_confirm", "Confirmed the sign-up of ada@northwind.test (owner)")

    client.logout()
    again = client.post(path)
    assert again.status_code == 410
    assert b"expired or has already been used" in again.content
    assert client.get(path).status_code == 410


def test_an_expired_link_is_refused(client):
    # Signed 49 hours ago: past SIGNUP_CONFIRM_TTL_HOURS (48).
    with mock.patch("time.time", return_value=time.time() - 49 * 3600):
        sign_up(client)
    path = link_path(mail.outbox[0])

    assert client.get(path).status_code == 410
    assert client.post(path).status_code == 410
    assert get_user_model().objects.get(username="ada@northwind.test").is_active is False


def test_a_tampered_link_is_refused(client):
    sign_up(client)
    path = link_path(mail.outbox[0])
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]

    assert client.post(tampered).status_code == 410
    assert client.post("/accounts/signup/confirm/nonsense/").status_code == 410


def test_an_existing_account_gets_the_same_answer_and_a_mail_but_nothing_changes(client, world):
    owner = world.a.owner
    password_hash = owner.password

    new = sign_up(client, email="fresh@northwind.test", ip="198.51.100.1")
    taken = sign_up(client, email="Owner-A@example.com", agency="Hijack Ltd", ip="198.51.100.2")

    assert taken.status_code == new.status_code == 200
    assert same_page(taken.content, "owner-a@example.com") == same_page(new.content, "fresh@northwind.test")
    owner.refresh_from_db()
    assert (owner.password, owner.is_active) == (password_hash, True)
    assert not Agency.objects.filter(name="Hijack Ltd").exists()
    assert Membership.objects.filter(user=owner).count() == 1
    exists_mail = mail.outbox[1]
    assert (exists_mail.to, exists_mail.subject) == (
        ["owner-a@example.com"], "You already have a Launch Ready account")
    assert "/accounts/signup/confirm/" not in exists_mail.body
    assert f"{SITE}/accounts/password_reset/" in exists_mail.body


def test_signing_up_again_before_confirming_supersedes_the_first_link(client):
    sign_up(client, agency="First Name")
    first = link_path(mail.outbox[0])
    sign_up(client, agency="Second Name", password="Another-strong-pass-7")
    second = link_path(mail.outbox[1])

    assert client.post(first).status_code == 410
    assert client.post(second).status_code == 302
    assert Agency.objects.filter(memberships__user__username="ada@northwind.test").get().name == "Second Name"
    client.logout()
    assert client.login(username="ada@northwind.test", password="Another-strong-pass-7")


def test_weak_or_mismatched_passwords_are_refused_and_nothing_is_stored(client):
    weak = sign_up(client, password="password")
    differ = client.post(reverse("signup"), {"agency_name": "N", "email": "ada@northwind.test",
                                             "password1": PASSWORD, "password2": PASSWORD + "x"})

    assert weak.status_code == differ.status_code == 200
    assert "This password is too common." in weak.context["form"].errors["password1"]
    assert differ.context["form"].errors["password2"] == ["The two passwords differ."]
    assert not get_user_model().objects.filter(username="ada@northwind.test").exists()
    assert mail.outbox == []


def test_signing_up_is_throttled_per_address_and_per_client(client):
    for n in range(3):
        assert sign_up(client, ip=f"198.51.100.{n}").status_code == 200
    by_address = sign_up(client, ip="198.51.100.99")
    for n in range(3):
        sign_up(client, email=f"x{n}@northwind.test", ip="192.0.2.1")
    by_client = sign_up(client, email="other@northwind.test", ip="192.0.2.1")

    assert by_address.status_code == by_client.status_code == 429
    assert b"at most 3 per hour" in by_address.content
    assert len(mail.outbox) == 6


def test_agency_slugs_stay_unique(client):
    sign_up(client, email="a@one.test", agency="Same Name", ip="198.51.100.1")
    sign_up(client, email="b@two.test", agency="Same Name", ip="198.51.100.2")

    assert sorted(Agency.objects.values_list("slug", flat=True)) == ["same-name", "same-name-2"]


def test_the_confirmation_token_is_masked_in_request_logs():
    from launchready.redaction import redact

    assert redact("Gone: /accounts/signup/confirm/eyJ1Ijo1fQ:1kXyZ:abc-DEF_12/") == (
        "Gone: /accounts/signup/confirm/[redacted]/")
