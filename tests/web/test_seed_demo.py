"""``manage.py seed_demo``: the demo agency, logins and project, the same after any number of runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from projects.management.commands.seed_demo import CONSULTANT, FOUNDER, OWNER
from projects.models import Agency, Membership, Project
from tests.conftest import REPO

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
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


def test_the_printed_address_names_the_port_given():
    assert seed("--port", "8123").splitlines()[0] == "Demo ready: http://127.0.0.1:8123/"


def test_a_port_out_of_range_is_refused_before_anything_is_seeded():
    with pytest.raises(CommandError, match=r"^--port 70000 is not a TCP port \(1 … 65535\)$"):
        seed("--port", "70000")
    assert not Agency.objects.filter(slug="northwind").exists()


def test_make_serve_gives_seed_demo_the_port_runserver_serves_on():
    """`make serve PORT=8123` printed :8000 while serving :8123; the Makefile passes one PORT to both."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    dry_run = subprocess.run([make, "-n", "serve", "PORT=8123"], cwd=REPO, capture_output=True, text=True,
                             check=True, timeout=30).stdout
    assert re.findall(r"manage\.py (seed_demo\b.*|runserver [\d.:]+)", dry_run) == [
        "seed_demo --port 8123", "runserver 127.0.0.1:8123",
    ]
