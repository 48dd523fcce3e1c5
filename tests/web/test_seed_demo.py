"""``manage.py seed_demo``: the demo agency, logins and project, the same after any number of runs."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from projects.management.commands.seed_demo import CONSULTANT, FOUNDER, OWNER
from projects.models import Agency, Membership, Project

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seeding_twice_gives_one_agency_three_logins_and_one_project(django_user_model):
    seed()
    output = seed()

    agency = Agency.objects.get(slug="northwind")
    project = Project.objects.get(agency=agency)
    assert agency.name == "Northwind Digital"
    assert sorted(Membership.objects.values_list("user__username", "agency__slug", "role")) == [
        ("consultant", "northwind", "consultant"), ("founder", "northwind", "client"),
        ("owner", "northwind", "owner"),
    ]
    assert (project.agency, project.name, project.client_name, project.apex_domain) == (
        agency, "Clubhouse", "Clubhouse Ltd", "clubhouse.test"
    )
    assert project.sandbox_scenario == "demo.yaml"
    assert project.subdomains == ["www", "app", "api", "admin"]
    assert project.endpoints.count() == 7
    assert list(project.founders.values_list("username", flat=True)) == ["founder"]
    assert output.splitlines() == [
        "Demo ready: http://127.0.0.1:8000/",
        "  project:    Clubhouse (clubhouse.test), scenario demo.yaml",
        "  owner:      owner / northwind-demo-0   (Northwind Digital: team, API keys, audit log)",
        "  consultant: consultant / northwind-demo-1   (Northwind Digital, can run audits)",
        "  founder:    founder / clubhouse-demo-1   (Clubhouse Ltd, read-only)",
    ]


def test_the_printed_logins_work_and_see_the_demo_project(client):
    seed()
    project = Project.objects.get(agency__slug="northwind")

    for username, password, *_ in (OWNER, CONSULTANT, FOUNDER):
        assert client.login(username=username, password=password)
        response = client.get(reverse("projects:list"))
        assert [row["pk"] for row in response.context["rows"]] == [project.pk]
        client.logout()


def test_seeding_again_resets_a_changed_demo_password(client, django_user_model):
    seed()
    founder = django_user_model.objects.get(username="founder")
    founder.set_password("something-else-1")
    founder.save()

    seed()

    assert client.login(username="founder", password=FOUNDER[1])
