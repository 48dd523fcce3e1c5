"""Every API route, walked from the URL patterns (a new route cannot be forgotten), tried by
the wrong caller: another agency's key and a founder's session get 404 and change nothing; a
read-only key gets 403 on every write; no credentials get 401 with the Bearer challenge."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, reverse

from checks.models import AuditRun, Monitor
from launchready.api import urls as api_urls
from projects.models import Finding, FindingEvent, Membership, Project
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
NOT_TENANT_DATA = ("api:schema", "api:docs")


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    args: tuple[str, ...]  # the URL's argument names, in order

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.name}"


def _walk(patterns, namespace: str):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, namespace)
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "view_class", None)
            if view is None:  # the JSON 404 for every other path
                continue
            args = tuple(entry.pattern.converters)
            for method in METHODS:
                if hasattr(view, method):
                    yield Route(f"{namespace}:{entry.name}", method, args)


ROUTES = [r for r in _walk(api_urls.urlpatterns, api_urls.app_name) if r.name not in NOT_TENANT_DATA]
WRITES = [r for r in ROUTES if r.method != "get"]
# Routes naming an object; the others (the project list, create) are scoped to the caller's
# agency: test_a_key_sees_only_its_agency… and test_projects.py's create tests.
OBJECT_ROUTES = [r for r in ROUTES if r.args]


def test_the_walk_finds_every_route():
    assert {str(r) for r in ROUTES} == {
        "GET api:project-list", "POST api:project-list", "GET api:project-detail", "PATCH api:project-detail",
        "GET api:project-audits", "POST api:project-audits", "GET api:finding-list", "GET api:finding-detail",
        "PATCH api:finding-detail", "GET api:monitor-list", "POST api:monitor-list", "GET api:monitor-detail",
        "PATCH api:monitor-detail", "DELETE api:monitor-detail", "GET api:deploy-list",
        "GET api:handover-pdf", "GET api:audit-detail",
    }


def url_of(route: Route, side, stored) -> str:
    ids = {
        "project_id": side.project.pk,
        "finding_id": Finding.objects.filter(project=side.project).values_list("pk", flat=True).first(),
        "monitor_id": Monitor.objects.filter(project=side.project).values_list("pk", flat=True).first(),
        "run_id": stored.done.pk,
    }
    return reverse(route.name, args=[ids[name] for name in route.args])


def call(client, route: Route, url: str, **headers):
    body = {"project-list": {"name": "Smuggled", "apex_domain": "smuggled.example.com"},
            "project-detail": {"name": "Renamed"}, "finding-detail": {"status": "fixed"},
            "monitor-list": {"url": "https://smuggled.example.com/"}, "monitor-detail": {"enabled": False}}
    data = body.get(route.name.split(":")[1], {}) if route.method != "get" else None
    return getattr(client, route.method)(url, data=data, content_type="application/json", headers=headers)


def snapshot() -> tuple:
    return (
        tuple(Project.objects.order_by("pk").values_list("pk", "name", "apex_domain", "updated_at")),
        AuditRun.objects.count(),
        tuple(Finding.objects.order_by("pk").values_list("pk", "status", "owner_id")),
        FindingEvent.objects.count(),
        tuple(Monitor.objects.order_by("pk").values_list("pk", "name", "url", "enabled")),
    )


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_another_agencys_key_gets_404_on_every_route_and_changes_nothing(client, world, records, keys, route):
    before = snapshot()

    response = call(client, route, url_of(route, world.a, records["a"]), **bearer(keys.b_write))

    assert response.status_code == 404
    assert response.json() == {"detail": "No such audit" if route.args == ("run_id",) else "No such project"}
    assert snapshot() == before


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_founders_session_gets_404_on_every_route(client, world, records, route):
    client.force_login(world.a.founder)
    before = snapshot()

    response = call(client, route, url_of(route, world.a, records["a"]))

    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_a_missing_object_answers_404_like_another_agencys(client, world, records, keys, route):
    url = reverse(route.name, args=[999_999] * len(route.args))

    assert call(client, route, url, **bearer(keys.a_write)).status_code == 404


@pytest.mark.parametrize("route", WRITES, ids=str)
def test_a_read_only_key_is_refused_every_write(client, world, records, keys, route):
    before = snapshot()

    response = call(client, route, url_of(route, world.a, records["a"]), **bearer(keys.a_read))

    assert response.status_code == 403
    assert response.json() == {"detail": "This API key is read-only."}
    assert snapshot() == before


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_no_credentials_get_401_with_the_bearer_challenge(client, world, records, route):
    response = call(client, route, url_of(route, world.a, records["a"]))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method == "get"], ids=str)
def test_the_agencys_own_key_reads_every_route(client, world, records, keys, route):
    response = call(client, route, url_of(route, world.a, records["a"]), **bearer(keys.a_read))

    assert response.status_code == 200


def test_a_key_sees_only_its_agency_even_when_its_creator_is_staff_of_both(client, world, records, keys):
    Membership.objects.create(user=world.a.owner, agency=world.b.agency, role=Membership.Role.CONSULTANT)

    listed = client.get(reverse("api:project-list"), headers=bearer(keys.a_read)).json()
    other = client.get(reverse("api:project-detail", args=[world.b.project.pk]), headers=bearer(keys.a_read))

    assert [p["name"] for p in listed["results"]] == ["Project A"]
    assert other.status_code == 404


def test_another_agencys_key_lists_and_creates_only_in_its_own(client, world, records, keys):
    listed = client.get(reverse("api:project-list"), headers=bearer(keys.b_write)).json()
    made = client.post(reverse("api:project-list"), {"name": "New", "apex_domain": "new.example.com"},
                       content_type="application/json", headers=bearer(keys.b_write))

    assert [p["name"] for p in listed["results"]] == ["Project B"]
    assert Project.objects.get(pk=made.json()["id"]).agency == world.b.agency


def test_an_unknown_api_path_answers_json_404(client, keys):
    response = client.patch("/api/v1/projects/-1/", headers=bearer(keys.a_write))

    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
