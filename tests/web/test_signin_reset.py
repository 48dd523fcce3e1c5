"""The password-reset request: throttled per client address and per typed address
(django-ratelimit), the same answer whether or not an account uses the address, and the mailed
link built on SITE_URL — never on the Host header a client sends."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db

SITE = "https://panel.northwind.test"
CLIENT_IP = "203.0.113.9"


@pytest.fixture(autouse=True)
def reset_settings(settings):
    settings.SITE_URL = SITE
    settings.PASSWORD_RESET_RATE = "3/h"


def ask(client, email: str, ip: str = CLIENT_IP, **headers):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip, **headers)


def test_the_mailed_link_is_on_site_url_whatever_host_the_request_named(client, world, settings):
    # A wildcard ALLOWED_HOSTS lets any Host through: the link must still be the panel's.
    settings.ALLOWED_HOSTS = ["*"]
    settings.USE_X_FORWARDED_HOST = True

    response = ask(client, "founder-a@example.com", HTTP_HOST="evil.example",
                   HTTP_X_FORWARDED_HOST="evil.example")

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    [message] = mail.outbox
    assert message.to == ["founder-a@example.com"]
    assert message.subject == "Choose a new password for Launch Ready"
    assert "evil.example" not in message.body
    links = re.findall(r"\S+/accounts/reset/\S+/", message.body)
    assert len(links) == 1
    assert links[0].startswith(f"{SITE}/accounts/reset/")


def test_the_link_keeps_site_urls_scheme_and_port(client, world, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"

    ask(client, "founder-a@example.com", HTTP_HOST="127.0.0.1")

    assert re.search(r"(\S+)/accounts/reset/", mail.outbox[0].body).group(1) == "http://127.0.0.1:8000"


def test_the_link_works_and_sets_the_new_password(client, world):
    ask(client, "founder-a@example.com")
    path = re.search(rf"{SITE}(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)

    form = client.get(path, follow=True)
    assert form.status_code == 200
    assert form.context["validlink"] is True
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "a-new-launch-password-7",
                                                    "new_password2": "a-new-launch-password-7"})
    assert done["Location"] == reverse("password_reset_complete")
    assert client.login(username="founder-a", password="a-new-launch-password-7")


def test_the_fourth_request_for_one_address_is_refused_with_429_and_sends_nothing(client, world):
    answers = [ask(client, "founder-a@example.com", ip=f"198.51.100.{n}").status_code for n in range(4)]

    # Four different client addresses: the per-address counter is what stops the fourth.
    assert answers == [302, 302, 302, 429]
    assert len(mail.outbox) == 3


def test_the_fourth_request_from_one_client_is_refused_whatever_the_address(client, world):
    emails = ["founder-a@example.com", "owner-a@example.com", "consultant-a@example.com",
              "founder-b@example.com"]

    answers = [ask(client, email).status_code for email in emails]

    assert answers == [302, 302, 302, 429]
    assert [m.to for m in mail.outbox] == [[e] for e in emails[:3]]


def test_the_refusal_page_says_what_happened_and_sends_nothing(client, world):
    for _ in range(3):
        ask(client, "founder-a@example.com")
    mail.outbox.clear()

    response = ask(client, "Founder-A@Example.com ")  # the same address, typed differently

    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many reset requests" in html
    assert "(at most 3 per hour)" in html
    assert mail.outbox == []


def test_an_unknown_address_counts_and_answers_like_a_known_one(client, world):
    answers = [ask(client, "nobody@example.com").status_code for _ in range(4)]

    assert answers == [302, 302, 302, 429]
    assert mail.outbox == []


def test_the_reset_page_itself_is_not_counted(client, world):
    for _ in range(5):
        assert client.get(reverse("password_reset"), REMOTE_ADDR=CLIENT_IP).status_code == 200

    assert ask(client, "founder-a@example.com").status_code == 302
