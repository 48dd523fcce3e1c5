"""Sign-in lock-out (django-axes): failures in a row for one username from one address pause
that pair, with a clear page (429, Retry-After); another address still signs in; the pause ends
after the cool-off; a success resets the count; the typed password is never stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "pw-123456789"  # the world's users' password (tests/conftest.py)
ATTACKER = "203.0.113.66"
HOME = "198.51.100.7"


@pytest.fixture(autouse=True)
def lockout(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def sign_in(client, username: str, password: str, ip: str = ATTACKER):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in_as(client) -> str | None:
    user = client.get(reverse("projects:list")).wsgi_request.user
    return user.get_username() if user.is_authenticated else None


def test_the_third_failure_in_a_row_locks_the_username_at_that_address(client, world):
    first = sign_in(client, "consultant-a", "wrong-1")
    second = sign_in(client, "consultant-a", "wrong-2")
    third = sign_in(client, "consultant-a", "wrong-3")

    assert (first.status_code, second.status_code) == (200, 200)
    assert "Please enter a correct username and password" in first.content.decode()
    assert third.status_code == 429
    assert third["Retry-After"] == "900"
    html = third.content.decode()
    assert "Too many failed sign-ins" in html
    assert "Signing in as <strong>consultant-a</strong> from this address failed 3 times in a row, " \
           "so it is paused for 15 minutes." in html


def test_a_locked_out_pair_is_refused_even_with_the_right_password(client, world):
    for n in range(3):
        sign_in(client, "consultant-a", f"wrong-{n}")

    response = sign_in(client, "consultant-a", PASSWORD)

    assert response.status_code == 429
    assert signed_in_as(client) is None


def test_the_lock_out_is_keyed_on_username_and_address_together(client, world):
    for n in range(3):
        sign_in(client, "consultant-a", f"wrong-{n}")

    # The same account from the owner's own address: not locked (no denial of service by
    # failing on purpose from elsewhere).
    assert sign_in(client, "consultant-a", PASSWORD, ip=HOME).status_code == 302
    assert signed_in_as(client) == "consultant-a"
    client.logout()
    # Another account from the attacker's address: not locked either.
    assert sign_in(client, "owner-a", PASSWORD).status_code == 302
    assert signed_in_as(client) == "owner-a"


def test_the_pause_ends_after_the_cool_off(client, world):
    for n in range(3):
        sign_in(client, "consultant-a", f"wrong-{n}")
    assert sign_in(client, "consultant-a", PASSWORD).status_code == 429

    # Fifteen minutes and a second pass (axes keeps each failure's time; age them as a wait would).
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=15, seconds=1))

    assert sign_in(client, "consultant-a", PASSWORD).status_code == 302
    assert signed_in_as(client) == "consultant-a"


def test_a_success_resets_the_count(client, world):
    sign_in(client, "consultant-a", "wrong-1")
    sign_in(client, "consultant-a", "wrong-2")
    assert sign_in(client, "consultant-a", PASSWORD).status_code == 302
    client.logout()

    # Two more failures after the success: still below the limit of three in a row.
    assert sign_in(client, "consultant-a", "wrong-3").status_code == 200
    assert sign_in(client, "consultant-a", "wrong-4").status_code == 200
    assert sign_in(client, "consultant-a", PASSWORD).status_code == 302


def test_the_attempts_axes_keeps_never_hold_the_typed_password(client, world):
    sign_in(client, "consultant-a", "hunter2-typed-by-mistake")

    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "consultant-a", ATTACKER, 1)
    assert "hunter2-typed-by-mistake" not in attempt.post_data
    assert "password=********************" in attempt.post_data


def test_the_address_behind_a_trusted_proxy_is_the_forwarded_one(client, world, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    for n in range(3):
        client.post(reverse("login"), {"username": "consultant-a", "password": f"wrong-{n}"},
                    REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"{ATTACKER}")

    assert AccessAttempt.objects.get().ip_address == ATTACKER
    # Another client behind the same proxy is not locked out.
    response = client.post(reverse("login"), {"username": "consultant-a", "password": PASSWORD},
                           REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=HOME)
    assert response.status_code == 302


def test_a_sign_in_without_a_request_is_not_blocked_by_the_lock_out(client, world):
    # Client.login() (and authenticate() in a shell) pass no request: no address to key on.
    for n in range(3):
        sign_in(client, "consultant-a", f"wrong-{n}")

    assert client.login(username="consultant-a", password=PASSWORD)
