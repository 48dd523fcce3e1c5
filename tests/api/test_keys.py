"""API keys: stored as SHA-256 only, refused when revoked or when their creator left the
agency (401), last use noted at most once a minute; and the owners' page that makes (shown
once), lists and revokes them."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from launchready.api.keys import key_create
from projects.models import ApiKey, Membership
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

BAD_KEY = {"detail": "Invalid, revoked or orphaned API key."}


def _projects(client, key):
    return client.get(reverse("api:project-list"), headers=bearer(key))


def test_only_the_keys_hash_and_prefix_are_stored(world):
    row, key = key_create(agency=world.a.agency, name="CI", scope="read", created_by=world.a.owner)

    assert key.startswith("lr_") and len(key) == 46
    assert row.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert row.prefix == key[:10]
    assert key not in str(ApiKey.objects.filter(pk=row.pk).values().get())


def test_a_revoked_key_gets_401(client, world, keys):
    ApiKey.objects.filter(key_sha256=hashlib.sha256(keys.a_read.encode()).hexdigest()).update(
        revoked_at=timezone.now())

    response = _projects(client, keys.a_read)

    assert (response.status_code, response.json()) == (401, BAD_KEY)


@pytest.mark.parametrize("change", ["removed", "demoted to founder", "deactivated"])
def test_a_key_stops_when_its_creator_leaves_the_agency(client, world, keys, change):
    assert _projects(client, keys.a_read).status_code == 200
    membership = Membership.objects.get(user=world.a.owner, agency=world.a.agency)
    if change == "removed":
        membership.delete()
    elif change == "demoted to founder":
        Membership.objects.filter(pk=membership.pk).update(role=Membership.Role.CLIENT)
    else:
        type(world.a.owner).objects.filter(pk=world.a.owner.pk).update(is_active=False)

    response = _projects(client, keys.a_read)

    assert (response.status_code, response.json()) == (401, BAD_KEY)


@pytest.mark.parametrize("header", ["Bearer lr_unknown", "Bearer nope", "Bearer", "Bearer a b",
                                    "bearer lr_ä"])
def test_a_malformed_or_unknown_key_gets_401(client, world, header):
    response = client.get(reverse("api:project-list"), headers={"Authorization": header})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_last_use_is_written_at_most_once_a_minute(client, world, keys):
    row = ApiKey.objects.get(key_sha256=hashlib.sha256(keys.a_read.encode()).hexdigest())
    _projects(client, keys.a_read)
    first = ApiKey.objects.get(pk=row.pk).last_used_at

    _projects(client, keys.a_read)
    assert ApiKey.objects.get(pk=row.pk).last_used_at == first

    ApiKey.objects.filter(pk=row.pk).update(last_used_at=first - timedelta(seconds=61))
    _projects(client, keys.a_read)
    assert ApiKey.objects.get(pk=row.pk).last_used_at > first


# --- the owners' page -------------------------------------------------------------------

def test_an_owner_makes_a_key_and_sees_it_once(client, world):
    client.force_login(world.a.owner)
    url = reverse("agency:api_keys", args=[world.a.agency.pk])

    made = client.post(url, {"name": "GitHub Actions", "scope": "write"})
    key = made.context["new_key"]
    later = client.get(url)

    assert made.status_code == 200
    assert "no-store" in made["Cache-Control"]
    assert key in made.content.decode()
    assert key not in later.content.decode()
    assert key[:10] in later.content.decode()
    row = ApiKey.objects.get(agency=world.a.agency)
    assert (row.name, row.scope, row.created_by) == ("GitHub Actions", "write", world.a.owner)
    assert _projects(client, key).status_code == 200


def test_an_owner_revokes_a_key_and_it_stops_at_once(client, world, keys):
    row = ApiKey.objects.get(key_sha256=hashlib.sha256(keys.a_write.encode()).hexdigest())
    client.force_login(world.a.owner)

    response = client.post(reverse("agency:api_key_revoke", args=[world.a.agency.pk, row.pk]))
    client.logout()

    assert response.status_code == 302
    assert ApiKey.objects.get(pk=row.pk).revoked_at is not None
    assert _projects(client, keys.a_write).status_code == 401


def test_another_agencys_owner_cannot_revoke_a_key(client, world, keys):
    row = ApiKey.objects.get(key_sha256=hashlib.sha256(keys.a_write.encode()).hexdigest())
    client.force_login(world.b.owner)

    assert client.post(reverse("agency:api_key_revoke", args=[world.b.agency.pk, row.pk])).status_code == 404
    assert client.post(reverse("agency:api_key_revoke", args=[world.a.agency.pk, row.pk])).status_code == 404
    assert ApiKey.objects.get(pk=row.pk).revoked_at is None


@pytest.mark.parametrize("who, status", [("consultant", 403), ("founder", 404), ("other owner", 404),
                                         ("outsider", 404)])
def test_only_the_agencys_owners_manage_keys(client, world, keys, who, status):
    user = {"consultant": world.a.consultant, "founder": world.a.founder, "other owner": world.b.owner,
            "outsider": world.outsider}[who]
    client.force_login(user)
    row = ApiKey.objects.filter(agency=world.a.agency).first()

    url = reverse("agency:api_keys", args=[world.a.agency.pk])
    page = client.get(url)
    make = client.post(url, {"name": "Mine", "scope": "read"})
    revoke = client.post(reverse("agency:api_key_revoke", args=[world.a.agency.pk, row.pk]))

    assert (page.status_code, make.status_code, revoke.status_code) == (status, status, status)
    assert ApiKey.objects.filter(agency=world.a.agency).count() == 2
    assert ApiKey.objects.filter(agency=world.a.agency, revoked_at__isnull=False).count() == 0
