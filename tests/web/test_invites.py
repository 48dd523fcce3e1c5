"""Invites: a consultant invites a founder by email; the founder follows the link once, sets a
password and sees exactly the projects granted. Links expire, are revoked, superseded, used
once; only the token's SHA-256 is stored and the token is never logged."""

from __future__ import annotations

import hashlib
import logging
import re
import socket
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from launchready.redaction import RedactUrlSecrets, redact
from projects import invites
from projects.models import Invite, Membership
from tests.concurrency import at_once

pytestmark = pytest.mark.django_db

SITE = "https://panel.northwind.test"
EMAIL = "cleo@clubhouse.test"
PASSWORD = "a-launch-password-7"
UNUSABLE_TEXT = "This invite link has expired or has already been used"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE
    settings.INVITE_TTL_HOURS = 72


def minute_now():
    return timezone.now().replace(second=0, microsecond=0)


def invite(side, email=EMAIL, *, now=None, role=Membership.Role.CLIENT, projects=None):
    """Invite ``email`` to ``side``'s project (as its consultant); ``(invite, token)``."""
    return invites.invite_create(
        agency=side.agency, email=email, role=role,
        projects=[side.project] if projects is None else projects,
        created_by=side.consultant, now=now,
    )


def accept_url(token: str) -> str:
    return f"/invites/{token}/"


# --- creating -------------------------------------------------------------------------------


def test_an_invite_stores_only_the_tokens_sha256_and_expires_after_the_ttl(world):
    now = minute_now()

    created, token = invite(world.a, now=now)

    stored = Invite.objects.get()
    assert len(token) == 43  # token_urlsafe(32): 256 random bits
    assert stored.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(list(Invite.objects.values()))
    assert (stored.email, stored.role, stored.agency, stored.created_by) == (
        EMAIL, "client", world.a.agency, world.a.consultant
    )
    assert list(stored.projects.all()) == [world.a.project]
    assert stored.expires_at == now + timedelta(hours=72)
    assert (stored.accepted_at, stored.accepted_by) == (None, None)
    assert invites.invite_state(stored) == "pending"


def test_the_address_is_kept_lower_cased_as_the_future_user_name(world):
    created, token = invite(world.a, "  Cleo@Clubhouse.TEST ")

    assert created.email == EMAIL
    assert mail.outbox[0].to == [EMAIL]
    assert invites.invite_accept(token, password=PASSWORD).username == EMAIL


def test_the_invite_mail_holds_the_link_the_agency_the_project_and_the_expiry(world):
    world.a.consultant.first_name, world.a.consultant.last_name = "Nadia", "Noor"
    world.a.consultant.save()
    now = minute_now()

    _, token = invite(world.a, now=now)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    link = f"{SITE}/invites/{token}/"
    until = f"{(now + timedelta(hours=72)):%-d %B %Y, %H:%M} UTC"
    assert message.to == [EMAIL]
    assert message.subject == "Agency A invites you to follow Project A on Launch Ready"
    assert message.from_email == "Launch Ready <noreply@localhost>"
    text = message.body
    assert ("Agency A invites you to follow the launch of Project A on Launch Ready "
            "(Nadia Noor sent this invite).") in text
    assert f"\n{link}\n" in text
    assert f"The link works once, until {until} (72 hours after it was sent)." in text
    assert f"The invite is for {EMAIL}." in text
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert f'<a href="{link}"' in html
    assert "Agency A invites you to follow Project A</h1>" in html
    assert f"until {until} (72 hours" in html


def test_the_link_is_built_on_site_url_never_on_the_requests_host(client, world, settings):
    settings.ALLOWED_HOSTS = ["evil.example", "testserver"]
    client.force_login(world.a.consultant)

    client.post(reverse("projects:invite_create", args=[world.a.project.pk]), {"email": EMAIL},
                HTTP_HOST="evil.example")

    assert f"{SITE}/invites/" in mail.outbox[0].body
    assert "evil.example" not in mail.outbox[0].body
    assert "evil.example" not in mail.outbox[0].alternatives[0][0]


def test_a_founder_invite_for_several_projects_names_them_all(world):
    from projects.models import Project

    second = Project.objects.create(agency=world.a.agency, name="Beta Club", apex_domain="beta.example.com")

    invite(world.a, projects=[world.a.project, second])

    message = mail.outbox[0]
    assert message.subject == "Agency A invites you to follow Beta Club and Project A on Launch Ready"
    assert "  - Beta Club\n  - Project A\n" in message.body


def test_the_invite_is_refused_without_a_project_with_a_foreign_project_or_a_bad_address(world):
    with pytest.raises(ValueError, match="^a founder invite names at least one project$"):
        invite(world.a, projects=[])
    with pytest.raises(ValueError, match="^every project of an invite must belong to its agency$"):
        invite(world.a, projects=[world.b.project])
    with pytest.raises(ValidationError):
        invite(world.a, "cleo@")
    with pytest.raises(ValueError, match="^unknown role 'admin'$"):
        invite(world.a, role="admin")
    assert Invite.objects.count() == 0
    assert mail.outbox == []


def test_a_mail_server_that_refuses_leaves_nothing_stored_and_the_older_invite_working(world, settings):
    _, old_token = invite(world.a)
    with socket.socket() as probe:  # a loopback port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2.0

    with pytest.raises(invites.InviteNotSent, match="^the invite mail could not be sent: "):
        invite(world.a)

    assert Invite.objects.count() == 1
    assert invites.invite_usable(old_token).email == EMAIL


# --- the consultant's page ----------------------------------------------------------------------


def test_a_consultant_invites_the_founder_from_the_project_page(client, world):
    client.force_login(world.a.consultant)
    page = client.get(reverse("projects:detail", args=[world.a.project.pk])).content.decode()
    assert f'<form method="post" action="/projects/{world.a.project.pk}/invites/"' in page

    response = client.post(reverse("projects:invite_create", args=[world.a.project.pk]), {"email": EMAIL})

    assert response.status_code == 302
    assert response["Location"] == f"/projects/{world.a.project.pk}/#invites"
    created = Invite.objects.get()
    assert (created.email, created.created_by, list(created.projects.all())) == (
        EMAIL, world.a.consultant, [world.a.project]
    )
    assert [m.to for m in mail.outbox] == [[EMAIL]]
    page = client.get(response["Location"])
    until = f"{timezone.localtime(created.expires_at):%-d %b %Y, %H:%M} UTC"
    assert [str(m) for m in page.context["messages"]] == [
        f"Invite sent to {EMAIL}. The link works until {until}."
    ]
    rows = page.context["invite_card"]["rows"]
    assert [(r.invite, r.state) for r in rows] == [(created, "pending")]
    html = page.content.decode()
    assert f'<li data-invite="{created.pk}" data-state="pending">' in html
    assert f'action="/projects/invites/{created.pk}/revoke/"' in html


@pytest.mark.parametrize(("email", "error"), [
    ("cleo@", "Enter a valid email address."),
    ("", "This field is required."),
    ("founder-a@example.com", "founder-a@example.com can already see this project. Forgot the password? "
                              "The sign-in page sends a reset link."),
])
def test_an_invalid_or_needless_invite_shows_the_form_with_the_reason(client, world, email, error):
    client.force_login(world.a.consultant)

    response = client.post(reverse("projects:invite_create", args=[world.a.project.pk]), {"email": email})

    assert response.status_code == 200
    assert response.context["form"].errors == {"email": [error]}
    assert Invite.objects.count() == 0
    assert mail.outbox == []


def test_the_invite_card_is_for_staff_only(client, world):
    invite(world.a)
    url = reverse("projects:detail", args=[world.a.project.pk])
    client.force_login(world.a.founder)
    founder = client.get(url)
    client.force_login(world.a.owner)
    owner = client.get(url)

    assert founder.context["invite_card"] is None
    assert 'id="invites"' not in founder.content.decode()
    assert EMAIL not in founder.content.decode()
    assert 'id="invites"' in owner.content.decode()
    assert EMAIL in owner.content.decode()


def test_revoking_a_pending_invite_ends_its_link(client, world):
    created, token = invite(world.a)
    client.force_login(world.a.consultant)
    back = f"/projects/{world.a.project.pk}/#invites"

    response = client.post(reverse("projects:invite_revoke", args=[created.pk]), {"next": back}, follow=True)

    assert response.redirect_chain == [(back, 302)]
    assert [str(m) for m in response.context["messages"]] == [
        f"The invite to {EMAIL} is revoked: its link no longer works."
    ]
    assert [r.state for r in response.context["invite_card"]["rows"]] == ["expired"]
    created.refresh_from_db()
    assert invites.invite_state(created) == "expired"
    assert client.get(accept_url(token)).status_code == 410
    again = client.post(reverse("projects:invite_revoke", args=[created.pk]), {"next": back}, follow=True)
    assert [str(m) for m in again.context["messages"]] == [
        f"The invite to {EMAIL} was already accepted or expired."
    ]


def test_revoke_goes_back_only_to_a_page_of_this_site(client, world):
    created, _ = invite(world.a)
    client.force_login(world.a.consultant)

    response = client.post(reverse("projects:invite_revoke", args=[created.pk]),
                           {"next": "https://evil.example/phish"})

    assert response["Location"] == "/projects/"


# --- accepting ----------------------------------------------------------------------------------


def test_the_accept_page_shows_the_agency_the_project_and_the_address_read_only(client, world):
    _, token = invite(world.a)

    response = client.get(accept_url(token))

    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"
    assert response["Referrer-Policy"] == "same-origin"  # the token never leaves for another site
    assert response.context["mode"] == "new"
    html = response.content.decode()
    assert '<strong id="invite-agency">Agency A</strong>' in html
    assert "<h1>Follow the launch of Project A</h1>" in html
    assert f'<input type="email" id="id_email" value="{EMAIL}" readonly autocomplete="username"' in html
    assert 'name="email"' not in html  # shown, not submitted: the address is the invite's
    assert token not in html  # the form posts back to its own URL


def test_a_new_founder_sets_a_password_is_signed_in_and_lands_on_the_project(client, world):
    created, token = invite(world.a)

    response = client.post(accept_url(token), {"password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == f"/projects/{world.a.project.pk}/"
    user = get_user_model().objects.get(username=EMAIL)
    assert (user.email, user.check_password(PASSWORD), user.is_staff) == (EMAIL, True, False)
    memberships = Membership.objects.filter(user=user).values_list("agency__slug", "role")
    assert list(memberships) == [("agency-a", "client")]
    assert list(user.granted_projects.all()) == [world.a.project]
    created.refresh_from_db()
    assert created.accepted_by == user
    assert created.accepted_at is not None
    assert invites.invite_state(created) == "accepted"
    page = client.get(response["Location"])  # signed in by the acceptance
    assert page.status_code == 200
    assert page.context["user"] == user
    assert [str(m) for m in page.context["messages"]] == ["Welcome to Agency A's Launch Ready."]


@pytest.mark.parametrize(("password1", "password2", "errors"), [
    ("short7", "short7", {"password1": [
        "This password is too short. It must contain at least 8 characters."
    ]}),
    ("12345678901", "12345678901", {"password1": [
        "This password is too common.", "This password is entirely numeric."
    ]}),
    ("cleoclubhouse", "cleoclubhouse", {"password1": ["The password is too similar to the email address."]}),
    (PASSWORD, PASSWORD + "x", {"password2": ["The two passwords differ."]}),
    ("", "", {"password1": ["This field is required."], "password2": ["This field is required."]}),
])
def test_a_weak_or_mistyped_password_is_refused_and_the_invite_stays_pending(client, world, password1,
                                                                           password2, errors):
    created, token = invite(world.a)

    response = client.post(accept_url(token), {"password1": password1, "password2": password2})

    assert response.status_code == 200
    assert response.context["form"].errors == errors
    assert not get_user_model().objects.filter(username=EMAIL).exists()
    created.refresh_from_db()
    assert invites.invite_state(created) == "pending"


def test_a_link_works_once(client, world):
    _, token = invite(world.a)
    client.post(accept_url(token), {"password1": PASSWORD, "password2": PASSWORD})
    client.logout()

    again = client.post(accept_url(token), {"password1": "another-pass-77", "password2": "another-pass-77"})

    assert again.status_code == 410
    assert UNUSABLE_TEXT in again.content.decode()
    assert get_user_model().objects.get(username=EMAIL).check_password(PASSWORD)
    with pytest.raises(invites.InviteUsed):
        invites.invite_accept(token, password="another-pass-77")


def _unusable_tokens(world) -> dict[str, str]:
    """One token per way a link stops working."""
    now = timezone.now()
    _, expired = invite(world.a, "expired@example.com", now=now - timedelta(hours=73))
    revoked_invite, revoked = invite(world.a, "revoked@example.com")
    invites.invite_revoke(revoked_invite)
    _, superseded = invite(world.a, "twice@example.com")
    invite(world.a, "twice@example.com")
    _, used = invite(world.a, "used@example.com")
    invites.invite_accept(used, password=PASSWORD)
    return {"expired": expired, "revoked": revoked, "superseded": superseded, "used": used,
            "unknown": "x" * 43}


def test_every_unusable_link_answers_the_same_410_page(client, world):
    tokens = _unusable_tokens(world)
    pages = {}
    for why, token in tokens.items():
        response = client.get(accept_url(token))
        assert response.status_code == 410, why
        # The CSP nonce is new on every answer; everything else must be the same.
        pages[why] = re.sub(r'nonce="[^"]*"', 'nonce=""', response.content.decode())

    assert len(set(pages.values())) == 1  # nothing tells which
    assert f"<h1>{UNUSABLE_TEXT}</h1>" in pages["used"]
    assert client.post(accept_url(tokens["expired"]), {"password1": PASSWORD, "password2": PASSWORD}
                       ).status_code == 410
    assert not get_user_model().objects.filter(username="expired@example.com").exists()


def test_the_service_says_why_a_link_is_unusable(world):
    tokens = _unusable_tokens(world)
    expected = {"expired": invites.InviteExpired, "revoked": invites.InviteExpired,
                "superseded": invites.InviteExpired, "used": invites.InviteUsed,
                "unknown": invites.InviteUnknown}
    for why, token in tokens.items():
        with pytest.raises(expected[why]) as raised:
            invites.invite_accept(token, password=PASSWORD)
        assert str(raised.value) == "This invite link has expired or has already been used.", why


def test_re_inviting_supersedes_the_pending_invite_and_keeps_its_projects(world):
    from projects.models import Project

    second = Project.objects.create(agency=world.a.agency, name="Beta Club", apex_domain="beta.example.com")
    first, first_token = invite(world.a)
    accepted_elsewhere, _ = invite(world.b)  # another agency's invite of the same address stays

    latest, latest_token = invite(world.a, projects=[second])

    first.refresh_from_db()
    assert invites.invite_state(first) == "expired"
    assert invites.invite_state(Invite.objects.get(pk=accepted_elsewhere.pk)) == "pending"
    assert sorted(p.name for p in latest.projects.all()) == ["Beta Club", "Project A"]
    assert mail.outbox[-1].subject == "Agency A invites you to follow Beta Club and Project A on Launch Ready"
    with pytest.raises(invites.InviteExpired):
        invites.invite_usable(first_token)
    user = invites.invite_accept(latest_token, password=PASSWORD)
    assert sorted(p.name for p in user.granted_projects.all()) == ["Beta Club", "Project A"]


def test_an_existing_user_accepts_with_their_own_password(client, world, django_user_model):
    cleo = django_user_model.objects.create_user(
        username="cleo", email="Cleo@Clubhouse.test", password=PASSWORD
    )
    _, token = invite(world.a)

    page = client.get(accept_url(token))
    assert page.context["mode"] == "existing"
    assert "This address already has a Launch Ready account" in page.content.decode()
    wrong = client.post(accept_url(token), {"password": "not-her-password"})
    assert wrong.status_code == 200
    assert wrong.context["form"].errors == {"password": [f"That is not the password of the account {EMAIL}."]}

    response = client.post(accept_url(token), {"password": PASSWORD})

    assert response.status_code == 302
    assert get_user_model().objects.count() == 1 + 3 * 2 + 1  # no new account: cleo, the world's seven
    assert list(cleo.granted_projects.all()) == [world.a.project]
    assert Membership.objects.get(user=cleo).role == "client"
    assert int(client.session["_auth_user_id"]) == cleo.pk


def test_the_signed_in_invited_user_accepts_without_a_password(client, world, django_user_model):
    cleo = django_user_model.objects.create_user(username=EMAIL, email=EMAIL, password=PASSWORD)
    _, token = invite(world.a)
    client.force_login(cleo)

    assert client.get(accept_url(token)).context["mode"] == "signed_in"
    response = client.post(accept_url(token))

    assert response["Location"] == f"/projects/{world.a.project.pk}/"
    assert list(cleo.granted_projects.all()) == [world.a.project]


def test_someone_else_signed_in_cannot_take_the_invite(client, world):
    created, token = invite(world.a)
    client.force_login(world.b.consultant)

    page = client.get(accept_url(token))
    client.post(accept_url(token), {"password1": PASSWORD, "password2": PASSWORD})

    assert page.context["mode"] == "wrong_account"
    assert (f"This invite is for <strong>{EMAIL}</strong>, and you are signed in as "
            "<strong>consultant-b</strong>.") in page.content.decode()
    created.refresh_from_db()
    assert invites.invite_state(created) == "pending"
    with pytest.raises(invites.WrongAccount):
        invites.invite_accept(token, user=world.b.consultant)


def test_a_consultant_invite_gives_a_staff_membership_and_no_project_grants(client, world):
    _, token = invite(world.a, "sam@northwind.test", role=Membership.Role.CONSULTANT, projects=[])
    assert mail.outbox[0].subject == "Agency A invites you to its team on Launch Ready"

    response = client.post(accept_url(token), {"password1": PASSWORD, "password2": PASSWORD})

    assert response["Location"] == "/projects/"
    sam = get_user_model().objects.get(username="sam@northwind.test")
    assert Membership.objects.get(user=sam).role == "consultant"
    assert list(sam.granted_projects.all()) == []
    project_page = client.get(reverse("projects:detail", args=[world.a.project.pk]))
    assert project_page.context["can_write"] is True
    assert client.get(reverse("projects:detail", args=[world.b.project.pk])).status_code == 404


def test_an_invite_raises_a_membership_but_never_lowers_it(world):
    consultant_email = world.a.consultant.email
    _, as_founder = invite(world.a, consultant_email)
    invites.invite_accept(as_founder, user=world.a.consultant)
    assert Membership.objects.get(user=world.a.consultant).role == "consultant"

    _, as_consultant = invite(world.a, world.a.founder.email, role=Membership.Role.CONSULTANT, projects=[])
    invites.invite_accept(as_consultant, user=world.a.founder)
    assert Membership.objects.get(user=world.a.founder, agency=world.a.agency).role == "consultant"


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_acceptances_of_one_link_make_one_account(world):
    _, token = invite(world.a)
    def accept() -> str:
        invites.invite_accept(token, password=PASSWORD)
        return "accepted"

    outcomes = at_once(accept, accept, timeout_s=30)

    assert sorted(type(o).__name__ if isinstance(o, BaseException) else o for o in outcomes) == [
        "InviteUsed", "accepted"]
    assert get_user_model().objects.filter(username=EMAIL).count() == 1


# --- what the founder then sees -------------------------------------------------------------------


def test_the_invited_founder_sees_exactly_their_project(client, world, stored):
    _, token = invite(world.a)
    client.post(accept_url(token), {"password1": PASSWORD, "password2": PASSWORD})

    listing = client.get(reverse("projects:list"))
    assert [row["pk"] for row in listing.context["rows"]] == [world.a.project.pk]
    own = {
        "project": reverse("projects:detail", args=[world.a.project.pk]),
        "risks": reverse("checks:risks", args=[world.a.project.pk]),
        "run": reverse("checks:run", args=[stored["a"].done.pk]),
        "progress": reverse("checks:progress", args=[stored["a"].running.pk]),
        "pdf": reverse("handover:download", args=[stored["a"].document.pk]),
    }
    other = {
        "project": reverse("projects:detail", args=[world.b.project.pk]),
        "risks": reverse("checks:risks", args=[world.b.project.pk]),
        "run": reverse("checks:run", args=[stored["b"].done.pk]),
        "progress": reverse("checks:progress", args=[stored["b"].running.pk]),
        "pdf": reverse("handover:download", args=[stored["b"].document.pk]),
    }
    assert {name: client.get(url).status_code for name, url in own.items()} == dict.fromkeys(own, 200)
    assert {name: client.get(url).status_code for name, url in other.items()} == dict.fromkeys(other, 404)
    assert client.get(own["pdf"]).content == b"%PDF-1.7 handover of agency A"
    # The cards come from the cache on this second visit (checks/risk_cards.py): read the HTML.
    page = client.get(own["risks"]).content.decode()
    cards = page.split('<ol class="risks" id="risks">')[1].split("</ol>")[0]
    assert re.findall(r'data-check="([^"]+)"', cards) == ["tls.certificate"]
    # Read-only: the founder cannot audit, generate a PDF or invite.
    assert client.post(reverse("checks:start", args=[world.a.project.pk])).status_code == 403
    assert client.post(reverse("handover:create", args=[world.a.project.pk])).status_code == 403
    assert client.post(reverse("projects:invite_create", args=[world.a.project.pk]),
                       {"email": "friend@example.com"}).status_code == 403


# --- the token stays out of logs ---------------------------------------------------------------


def test_no_log_line_holds_the_token(client, world, caplog):
    tokens = _unusable_tokens(world)
    _, fresh = invite(world.a, "fresh@example.com")
    caplog.set_level(logging.DEBUG)

    for token in tokens.values():
        client.get(accept_url(token))
    client.get(accept_url(fresh))
    client.post(accept_url(fresh), {"password1": "short", "password2": "short"})
    client.post(accept_url(fresh), {"password1": PASSWORD, "password2": PASSWORD})
    client.get(accept_url(fresh))
    Client(enforce_csrf_checks=True).post(accept_url(tokens["unknown"]), {})  # a refused form

    lines = [record.getMessage() for record in caplog.records]
    assert "Gone: /invites/[redacted]/" in lines
    assert "Forbidden (CSRF cookie not set.): /invites/[redacted]/" in lines
    for token in [*tokens.values(), fresh]:
        assert not [line for line in lines if token in line]


def test_the_request_log_filter_masks_invite_and_reset_tokens_in_runserver_lines():
    token = "Zx9_-" + "a" * 38
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s',
                               (f"GET /invites/{token}/ HTTP/1.1", "410", "1234"), None)

    assert RedactUrlSecrets().filter(record) is True
    assert record.getMessage() == '"GET /invites/[redacted]/ HTTP/1.1" 410 1234'
    assert redact("GET /accounts/reset/MQ/cz1abc-0123456789abcdef/ HTTP/1.1") == (
        "GET /accounts/reset/MQ/[redacted]/ HTTP/1.1"
    )
    revoke = "POST /projects/invites/12/revoke/ HTTP/1.1"
    assert redact(revoke) == revoke
