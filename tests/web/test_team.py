"""The team page (projects/team_views.py, projects/team.py): owners invite staff by email with
single-use expiring links (projects/invites.py), change roles, remove members — never the last
owner —, and a removed member's sessions and API keys stop at once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from launchready.api.keys import key_create
from projects.models import AuditLogEntry, Invite, Membership

pytestmark = pytest.mark.django_db

SITE = "https://panel.northwind.test"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE


def team_url(side) -> str:
    return reverse("agency:team", args=[side.agency.pk])


def membership(user, side) -> Membership:
    return Membership.objects.get(user=user, agency=side.agency)


def role_url(side, membership_id: int) -> str:
    return reverse("agency:member_role", args=[side.agency.pk, membership_id])


def remove_url(side, membership_id: int) -> str:
    return reverse("agency:member_remove", args=[side.agency.pk, membership_id])


def invite_path(message) -> str:
    return re.search(rf"{SITE}(/invites/\S+/)", message.body).group(1)


def last_entry(side) -> tuple[str, str]:
    entry = AuditLogEntry.objects.filter(agency=side.agency).latest("pk")
    return entry.actor.get_username(), entry.summary


def test_the_owner_sees_the_team_and_a_consultant_gets_403(client, world):
    client.force_login(world.a.owner)
    page = client.get(team_url(world.a))

    assert page.status_code == 200
    rows = [(row.membership.user.get_username(), row.membership.role, row.granted_projects)
            for row in page.context["members"]]
    assert rows == [("owner-a", "owner", 0), ("consultant-a", "consultant", 0), ("founder-a", "client", 1)]

    client.force_login(world.a.consultant)
    refused = client.get(team_url(world.a))
    assert refused.status_code == 403
    assert "<h1>Owners only</h1>" in refused.content.decode()  # not the founders' "Read-only" text


def test_an_invited_consultant_sets_a_password_and_joins_once(client, world):
    client.force_login(world.a.owner)

    response = client.post(team_url(world.a), {"email": "Grace@Northwind.test", "role": "consultant"})

    assert response.status_code == 302
    invite = Invite.objects.get(email="grace@northwind.test")
    assert (invite.role, invite.agency_id, invite.created_by_id) == (
        "consultant", world.a.agency.pk, world.a.owner.pk)
    assert last_entry(world.a) == ("owner-a", "Invited grace@northwind.test (consultant)")
    [message] = mail.outbox
    assert message.subject == "Agency A invites you to its team on Launch Ready"
    path = invite_path(message)

    client.logout()
    joined = client.post(path, {"password1": "Grace-strong-pass-1", "password2": "Grace-strong-pass-1"})

    assert joined.status_code == 302
    grace = Membership.objects.get(agency=world.a.agency, user__username="grace@northwind.test")
    assert grace.role == "consultant"
    assert client.get(reverse("projects:detail", args=[world.a.project.pk])).status_code == 200
    client.logout()
    assert client.get(path).status_code == 410  # single use


def test_an_existing_user_joins_another_agency_without_a_new_password(client, world):
    # Consultant B is invited to agency A as an owner; signed in, they accept with one click.
    client.force_login(world.a.owner)
    client.post(team_url(world.a), {"email": "consultant-b@example.com", "role": "owner"})
    path = invite_path(mail.outbox[0])
    password_hash = world.b.consultant.password

    client.force_login(world.b.consultant)
    page = client.get(path)
    assert page.context["mode"] == "signed_in"
    response = client.post(path)

    assert response.status_code == 302
    assert membership(world.b.consultant, world.a).role == "owner"
    assert membership(world.b.consultant, world.b).role == "consultant"
    world.b.consultant.refresh_from_db()
    assert world.b.consultant.password == password_hash
    # They land in the agency that invited them.
    assert client.get(reverse("projects:list")).context["agency"] == world.a.agency


def test_an_expired_staff_invite_is_refused(client, world):
    client.force_login(world.a.owner)
    client.post(team_url(world.a), {"email": "late@northwind.test", "role": "consultant"})
    late = Invite.objects.filter(email="late@northwind.test")
    late.update(expires_at=timezone.now() - timedelta(seconds=1))
    client.logout()

    response = client.post(invite_path(mail.outbox[0]), {"password1": "Late-strong-pass-1",
                                                          "password2": "Late-strong-pass-1"})

    assert response.status_code == 410
    assert not Membership.objects.filter(user__username="late@northwind.test").exists()


def test_inviting_someone_already_on_the_team_is_refused(client, world):
    client.force_login(world.a.owner)

    response = client.post(team_url(world.a), {"email": "CONSULTANT-A@example.com", "role": "owner"})

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "consultant-a@example.com is already on the team: change their role below."]
    assert mail.outbox == []


def test_the_owner_changes_a_role_and_the_log_says_so(client, world):
    client.force_login(world.a.owner)
    target = membership(world.a.consultant, world.a)

    response = client.post(role_url(world.a, target.pk), {"role": "owner"})

    assert response.status_code == 302
    target.refresh_from_db()
    assert target.role == "owner"
    assert last_entry(world.a) == ("owner-a", "Changed consultant-a@example.com from consultant to owner")
    # The new owner reaches the owners' pages at once.
    client.force_login(world.a.consultant)
    assert client.get(team_url(world.a)).status_code == 200


def test_the_last_owner_can_be_neither_demoted_nor_removed(client, world):
    client.force_login(world.a.owner)
    own = membership(world.a.owner, world.a)
    entries = AuditLogEntry.objects.count()

    demote = client.post(role_url(world.a, own.pk), {"role": "consultant"})
    remove = client.post(remove_url(world.a, own.pk))

    message = "Agency A needs at least one owner: make someone else owner first."
    assert demote.status_code == remove.status_code == 409
    assert [str(m) for m in demote.context["messages"]] == [message]
    assert [str(m) for m in remove.context["messages"]] == [message]
    own.refresh_from_db()
    assert own.role == "owner"
    assert AuditLogEntry.objects.count() == entries


def test_a_second_owner_lets_the_first_step_down(client, world):
    Membership.objects.filter(user=world.a.consultant, agency=world.a.agency).update(role="owner")
    client.force_login(world.a.owner)
    own = membership(world.a.owner, world.a)

    response = client.post(role_url(world.a, own.pk), {"role": "consultant"})

    assert response["Location"] == reverse("projects:list")
    own.refresh_from_db()
    assert own.role == "consultant"
    assert client.get(team_url(world.a)).status_code == 403


def test_a_founder_membership_cannot_be_turned_into_staff_by_a_role_change(client, world):
    client.force_login(world.a.owner)
    founder = membership(world.a.founder, world.a)

    response = client.post(role_url(world.a, founder.pk), {"role": "owner"})

    assert response.status_code == 400
    founder.refresh_from_db()
    assert founder.role == "client"


def test_removal_ends_the_members_sessions_and_api_keys_at_once(client, world):
    from django.test import Client

    # A second owner, signed in on their own browser, with an API key they made.
    second = world.a.consultant
    Membership.objects.filter(user=second, agency=world.a.agency).update(role="owner")
    _row, key = key_create(agency=world.a.agency, name="CI", scope="read", created_by=second)
    theirs = Client()
    theirs.force_login(second)
    projects_api = reverse("api:project-list")
    assert theirs.get(reverse("projects:detail", args=[world.a.project.pk])).status_code == 200
    assert client.get(projects_api, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200

    client.force_login(world.a.owner)
    target = membership(second, world.a)
    response = client.post(remove_url(world.a, target.pk))

    assert response.status_code == 302
    assert not Membership.objects.filter(user=second).exists()
    assert last_entry(world.a) == ("owner-a", "Removed consultant-a@example.com (owner)")
    # Their session is gone from the store, and their next request goes to the sign-in page.
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(second.pk)]
    detail = reverse("projects:detail", args=[world.a.project.pk])
    after = theirs.get(detail)
    assert after.status_code == 302
    assert after["Location"].startswith(reverse("login"))
    # Their key answers 401.
    assert Client().get(projects_api, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


def test_a_session_kept_after_removal_is_signed_out_on_its_next_request(client, world):
    # The session survives in the store (saved again after the removal): the middleware ends it.
    client.force_login(world.a.consultant)
    assert client.get(reverse("projects:list")).status_code == 200  # opened as a member
    Membership.objects.filter(user=world.a.consultant).delete()

    response = client.get(reverse("projects:detail", args=[world.a.project.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("login") + f"?next=%2Fprojects%2F{world.a.project.pk}%2F"
    assert "_auth_user_id" not in client.session


def test_a_member_removed_from_one_of_two_agencies_loses_only_that_one(client, world):
    from django.test import Client

    Membership.objects.create(user=world.a.consultant, agency=world.b.agency, role="consultant")
    theirs = Client()
    theirs.force_login(world.a.consultant)
    _row, key = key_create(agency=world.a.agency, name="CI", scope="read", created_by=world.a.owner)
    mine = key_create(agency=world.a.agency, name="Mine", scope="read", created_by=world.a.consultant)[1]

    client.force_login(world.a.owner)
    client.post(remove_url(world.a, membership(world.a.consultant, world.a).pk))

    assert theirs.get(reverse("projects:detail", args=[world.a.project.pk])).status_code == 404
    assert theirs.get(reverse("projects:detail", args=[world.b.project.pk])).status_code == 200
    assert Client().get(reverse("api:project-list"), HTTP_AUTHORIZATION=f"Bearer {mine}").status_code == 401
    assert Client().get(reverse("api:project-list"), HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200


def test_removing_a_founder_takes_their_project_grants(client, world):
    client.force_login(world.a.owner)

    client.post(remove_url(world.a, membership(world.a.founder, world.a).pk))

    assert list(world.a.founder.granted_projects.all()) == []
    assert last_entry(world.a) == ("owner-a", "Removed founder-a@example.com (client)")


def test_a_member_of_another_agency_cannot_be_changed_through_this_one(client, world):
    client.force_login(world.a.owner)
    other = membership(world.b.consultant, world.b)

    role = client.post(role_url(world.a, other.pk), {"role": "owner"})
    remove = client.post(remove_url(world.a, other.pk))

    assert role.status_code == remove.status_code == 404
    other.refresh_from_db()
    assert other.role == "consultant"
