"""Switching agency (projects/current_agency.py): a person in several agencies picks one in the
header; lists show that agency's projects; the choice is checked against the memberships on
every request, and an agency the person is not in answers 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from projects.current_agency import SESSION_KEY
from projects.models import AuditLogEntry, Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def both(world):
    """Consultant A is also an owner of agency B."""
    Membership.objects.create(user=world.a.consultant, agency=world.b.agency, role="owner")
    return world.a.consultant


def listed(client) -> list[str]:
    return [row["name"] for row in client.get(reverse("projects:list")).context["rows"]]


def switch(client, agency, **extra):
    return client.post(reverse("agency:switch", args=[agency.pk]), extra)


def test_the_list_shows_the_current_agency_and_the_switch_changes_it(client, world, both):
    client.force_login(both)
    assert listed(client) == ["Project A"]  # "Agency A" comes first by name

    response = switch(client, world.b.agency)

    assert response.status_code == 302
    assert response["Location"] == reverse("projects:list")
    assert client.session[SESSION_KEY] == world.b.agency.pk
    assert listed(client) == ["Project B"]
    entry = AuditLogEntry.objects.get(agency=world.b.agency)
    assert (entry.actor, entry.summary) == (both, "Switched to Agency B")
    # The other agency's pages still open: the switch filters lists, access stays per page.
    assert client.get(reverse("projects:detail", args=[world.a.project.pk])).status_code == 200


def test_the_header_offers_the_persons_agencies_and_the_owners_pages(client, world, both):
    client.force_login(both)
    switch(client, world.b.agency)

    content = client.get(reverse("projects:list")).content.decode()

    assert f'action="{reverse("agency:switch", args=[world.a.agency.pk])}"' in content
    assert f'data-agency="{world.b.agency.pk}" aria-current="true"' in content
    for name in ("agency:team", "agency:api_keys", "agency:audit_log"):  # owner of B
        assert f'href="{reverse(name, args=[world.b.agency.pk])}"' in content
    switch(client, world.a.agency)  # a consultant there: no owner links
    content = client.get(reverse("projects:list")).content.decode()
    assert f'href="{reverse("agency:team", args=[world.a.agency.pk])}"' not in content


def test_a_person_in_one_agency_sees_no_switch(client, world):
    client.force_login(world.a.consultant)

    content = client.get(reverse("projects:list")).content.decode()

    assert "Switch agency" not in content
    assert 'id="agency-menu"' not in content  # a consultant of one agency: nothing to show


@pytest.mark.parametrize("who", ["consultant", "founder", "owner"])
def test_switching_to_an_agency_one_is_not_in_answers_404(client, world, who):
    client.force_login(getattr(world.a, who))

    response = switch(client, world.b.agency)

    assert response.status_code == 404
    assert SESSION_KEY not in client.session
    assert client.post(reverse("agency:switch", args=[999_999])).status_code == 404


def test_an_anonymous_switch_is_sent_to_log_in(client, world):
    url = reverse("agency:switch", args=[world.a.agency.pk])

    response = client.post(url)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


def test_a_stored_choice_of_an_agency_left_since_falls_back_to_a_current_membership(client, world, both):
    client.force_login(both)
    switch(client, world.b.agency)
    Membership.objects.filter(user=both, agency=world.b.agency).delete()

    assert listed(client) == ["Project A"]
    assert client.get(reverse("projects:detail", args=[world.b.project.pk])).status_code == 404


def test_next_must_be_a_page_of_this_site(client, world, both):
    client.force_login(both)

    inside = switch(client, world.b.agency, next=reverse("checks:monitoring_overview"))
    outside = switch(client, world.a.agency, next="https://evil.example/")

    assert inside["Location"] == reverse("checks:monitoring_overview")
    assert outside["Location"] == reverse("projects:list")


def test_a_new_project_defaults_to_the_current_agency(client, world, both):
    client.force_login(both)
    switch(client, world.b.agency)

    form = client.get(reverse("projects:create")).context["form"]

    assert form["agency"].value() == world.b.agency.pk
