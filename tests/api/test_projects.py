"""Projects through the API: list (paged, queries that do not grow with rows), create and
change validated by the project form's own rules, in the key's agency only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from projects.models import Endpoint, Project
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

NEW = {
    "name": "Shop", "client_name": "Shop Ltd", "apex_domain": "Shop.Example.com",
    "preferred_host": "www.shop.example.com", "subdomains": ["www", "api"],
    "endpoints": [{"kind": "login", "method": "POST", "url": "https://shop.example.com/login"}],
}


def test_the_list_shows_the_keys_agency_paged(client, world, keys):
    response = client.get(reverse("api:project-list"), headers=bearer(keys.a_read))

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (1, None, None)
    assert body["results"][0] == {
        "id": world.a.project.pk, "agency": "agency-a", "name": "Project A", "client_name": "Client A",
        "apex_domain": "alpha.example.com", "preferred_host": "www.alpha.example.com",
        "subdomains": ["www", "app", "api", "admin"],
        "endpoints": [{"kind": "homepage", "method": "GET", "url": "https://www.alpha.example.com/",
                       "target_p95_ms": 300}],
        "dkim_selectors": [], "mail_provider": "", "mail_sending_ips": [],
        "rollback_notes": "Roll back with `paas rollback`.", "sandbox_scenario": "", "has_smtp": False,
        "created_at": body["results"][0]["created_at"], "updated_at": body["results"][0]["updated_at"],
    }


def _list_queries(client, key) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("api:project-list"), headers=bearer(key)).status_code == 200
    return len(queries)


def test_the_lists_queries_do_not_grow_with_projects(client, world, keys):
    _list_queries(client, keys.a_read)  # the key's first use writes last_used_at (once a minute)
    few = _list_queries(client, keys.a_read)
    for n in range(20):
        project = Project.objects.create(agency=world.a.agency, name=f"P{n}", apex_domain=f"p{n}.example.com")
        Endpoint.objects.create(project=project, kind="homepage", url=f"https://p{n}.example.com/")

    assert _list_queries(client, keys.a_read) == few
    assert few == 4  # the key (with its creator's membership), the count, the page, the endpoints


def test_a_write_key_creates_a_project_in_its_agency_validated_like_the_form(client, world, keys):
    response = client.post(reverse("api:project-list"), NEW, content_type="application/json",
                           headers=bearer(keys.a_write))

    assert response.status_code == 201
    project = Project.objects.get(pk=response.json()["id"])
    assert (project.agency, project.created_by, project.apex_domain) == (world.a.agency, world.a.owner,
                                                                          "shop.example.com")
    assert project.subdomains == ["www", "api"]
    assert list(project.endpoints.values_list("kind", "method", "url")) == [
        ("login", "POST", "https://shop.example.com/login")]


def test_a_key_cannot_create_in_another_agency(client, world, keys):
    response = client.post(reverse("api:project-list"), {**NEW, "agency": "agency-b"},
                           content_type="application/json", headers=bearer(keys.a_write))

    assert response.status_code == 400
    assert response.json() == {"agency": ["You cannot create projects in that agency."]}
    assert not Project.objects.filter(name="Shop").exists()


def test_the_forms_validators_refuse_bad_hosts_and_endpoints(client, world, keys):
    bad = {**NEW, "apex_domain": "not a domain!", "endpoints": [{"kind": "login", "url": "ftp://x"}]}

    response = client.post(reverse("api:project-list"), bad, content_type="application/json",
                           headers=bearer(keys.a_write))

    assert response.status_code == 400
    assert response.json() == {
        "apex_domain": ["'not a domain!' contains a space"],
        "endpoints": ["Line 1: 'ftp://x' must start with http:// or https://"],
    }
    assert not Project.objects.filter(name="Shop").exists()


def test_a_value_with_a_separator_cannot_smuggle_a_second_endpoint(client, world, keys):
    smuggled = {**NEW, "endpoints": [{"kind": "login", "url": "https://a.example.com/\nfeed GET https://b"}]}

    response = client.post(reverse("api:project-list"), smuggled, content_type="application/json",
                           headers=bearer(keys.a_write))

    assert response.status_code == 400
    assert response.json() == {"endpoints": {"0": {"url": ["One value without spaces or commas."]}}}


def test_a_patch_changes_only_the_fields_given_and_keeps_the_endpoints_rows(client, world, keys):
    endpoint = world.a.project.endpoints.get()
    Endpoint.objects.filter(pk=endpoint.pk).update(target_p95_ms=120)

    response = client.patch(reverse("api:project-detail", args=[world.a.project.pk]),
                            {"name": "  Project   Alpha ", "subdomains": ["www"]},
                            content_type="application/json", headers=bearer(keys.a_write))

    assert response.status_code == 200
    project = Project.objects.get(pk=world.a.project.pk)
    assert (project.name, project.subdomains, project.client_name) == ("Project Alpha", ["www"], "Client A")
    assert list(project.endpoints.values_list("pk", "target_p95_ms")) == [(endpoint.pk, 120)]


def test_a_patch_with_a_canonical_host_outside_the_apex_is_refused(client, world, keys):
    response = client.patch(reverse("api:project-detail", args=[world.a.project.pk]),
                            {"preferred_host": "www.elsewhere.org"}, content_type="application/json",
                            headers=bearer(keys.a_write))

    assert response.status_code == 400
    assert response.json() == {
        "preferred_host": ["The canonical host must be alpha.example.com or a name under it"]}


def test_a_staff_session_uses_the_api_with_the_csrf_token(world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.a.consultant)
    url = reverse("api:project-detail", args=[world.a.project.pk])

    refused = client.patch(url, {"name": "No token"}, content_type="application/json")
    client.get(reverse("projects:list"))  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.patch(url, {"name": "With token"}, content_type="application/json",
                            headers={"X-CSRFToken": token})

    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("CSRF Failed")
    assert accepted.status_code == 200
    assert Project.objects.get(pk=world.a.project.pk).name == "With token"
