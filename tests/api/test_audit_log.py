"""The audit log: one entry per change made by a person (a page) or an API key, with who,
what, when and from where; none for a refused or invalid request; no secret in it; shown to
the agency's owners only."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from projects import audit_log
from projects.models import ApiKey, AuditLogEntry
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

EDIT = {"name": "Renamed", "client_name": "", "apex_domain": "alpha.example.com", "preferred_host": "",
        "subdomains_text": "www", "endpoints_text": "", "rollback_notes": "", "sandbox_scenario": ""}


def _entries() -> list[tuple]:
    return list(AuditLogEntry.objects.order_by("id").values_list(
        "agency__slug", "actor__username", "api_key__name", "action", "object_type", "object_id", "summary",
        "ip_address"))


def test_a_page_change_leaves_exactly_one_entry(client, world):
    client.force_login(world.a.consultant)

    response = client.post(reverse("projects:edit", args=[world.a.project.pk]), EDIT)

    assert response.status_code == 302
    pk = world.a.project.pk
    assert _entries() == [("agency-a", "consultant-a", None, "projects:edit", "project", str(pk),
                           f"POST /projects/{pk}/edit/", "127.0.0.1")]


def test_an_api_change_leaves_exactly_one_entry_with_the_key(client, world, keys):
    response = client.patch(reverse("api:project-detail", args=[world.a.project.pk]), {"name": "Renamed"},
                            content_type="application/json", headers=bearer(keys.a_write),
                            REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 200
    assert _entries() == [("agency-a", "owner-a", "CI write", "api:project-detail PATCH", "project",
                           str(world.a.project.pk), "Changed project “Renamed”: name", "203.0.113.7")]


def test_a_new_project_made_on_the_page_is_the_entrys_object(client, world):
    client.force_login(world.a.consultant)

    response = client.post(reverse("projects:create"), {**EDIT, "agency": world.a.agency.pk,
                                                         "apex_domain": "new.example.com"})

    new_id = response["Location"].strip("/").split("/")[-1]
    assert _entries() == [("agency-a", "consultant-a", None, "projects:create", "project", new_id,
                           "POST /projects/new/", "127.0.0.1")]


def test_an_invalid_or_refused_change_leaves_none(client, world, keys):
    client.force_login(world.a.consultant)
    client.post(reverse("projects:edit", args=[world.a.project.pk]), {**EDIT, "apex_domain": "not a domain"})
    client.logout()
    client.patch(reverse("api:project-detail", args=[world.a.project.pk]), {"apex_domain": "x y"},
                 content_type="application/json", headers=bearer(keys.a_write))
    client.patch(reverse("api:project-detail", args=[world.a.project.pk]), {"name": "Nope"},
                 content_type="application/json", headers=bearer(keys.a_read))
    client.get(reverse("api:project-list"), headers=bearer(keys.a_write))

    assert _entries() == []


def test_a_new_api_key_is_logged_without_the_key(client, world):
    client.force_login(world.a.owner)

    url = reverse("agency:api_keys", args=[world.a.agency.pk])
    response = client.post(url, {"name": "CI", "scope": "read"})

    key = response.context["new_key"]
    row = ApiKey.objects.get(key_sha256=hashlib.sha256(key.encode()).hexdigest())
    assert _entries() == [("agency-a", "owner-a", None, "agency:api_keys", "apikey", str(row.pk),
                           f"Made API key “CI” ({key[:10]}…, read)", "127.0.0.1")]
    assert key[10:] not in str(_entries())


@pytest.mark.parametrize("proxies, forwarded, seen", [
    ([], "198.51.100.1", "10.0.0.5"),                              # no trusted proxy: the header is ignored
    (["10.0.0.0/8"], "198.51.100.1", "198.51.100.1"),                # the proxy's word is taken
    (["10.0.0.0/8"], "192.0.2.66, 198.51.100.1", "198.51.100.1"),    # the client's own part is not
    (["10.0.0.0/8"], "garbage", None),
])
def test_the_address_is_remote_addr_unless_a_trusted_proxy_sent_it(rf, settings, proxies, forwarded, seen):
    settings.TRUSTED_PROXIES = proxies
    request = rf.post("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=forwarded)

    assert audit_log.client_ip(request) == seen


def test_a_path_with_a_string_argument_is_shown_as_its_route(rf):
    from django.urls import resolve

    request = rf.post("/invites/s3cret-token/")

    assert audit_log._shown_path(request, resolve(request.path)) == "/invites/<str:token>/"


# --- the page ---------------------------------------------------------------------------

def test_owners_read_the_log_filtered_by_actor_and_action(client, world, keys):
    client.force_login(world.a.consultant)
    client.post(reverse("projects:edit", args=[world.a.project.pk]), EDIT)
    client.patch(reverse("api:project-detail", args=[world.a.project.pk]), {"name": "Again"},
                 content_type="application/json", headers=bearer(keys.a_write))
    client.force_login(world.a.owner)
    url = reverse("agency:audit_log", args=[world.a.agency.pk])

    everything = client.get(url)
    by_person = client.get(url, {"actor": world.a.consultant.pk})
    key = ApiKey.objects.get(name="CI write", agency=world.a.agency)
    by_key = client.get(url, {"actor": f"key-{key.pk}"})
    by_action = client.get(url, {"action": "projects:edit"})

    assert [e.action for e in everything.context["page"]] == ["api:project-detail PATCH", "projects:edit"]
    assert [e.action for e in by_person.context["page"]] == ["projects:edit"]
    assert [e.action for e in by_key.context["page"]] == ["api:project-detail PATCH"]
    assert [e.action for e in by_action.context["page"]] == ["projects:edit"]
    assert "Changed project “Again”: name" in everything.content.decode()


def test_the_log_pages_queries_do_not_grow_with_entries(client, world):
    client.force_login(world.a.owner)
    url = reverse("agency:audit_log", args=[world.a.agency.pk])
    audit_log.record(agency=world.a.agency, action="projects:edit", actor=world.a.owner, obj=world.a.project)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(60):
        audit_log.record(agency=world.a.agency, action=f"a{n % 7}", actor=world.a.consultant, summary=str(n))
    with CaptureQueriesContext(connection) as many:
        page = client.get(url)

    assert len(many) == len(few)
    assert len(page.context["page"].object_list) == 50


@pytest.mark.parametrize("who, status", [("consultant", 403), ("founder", 404), ("other owner", 404)])
def test_only_the_agencys_owners_see_the_log(client, world, who, status):
    audit_log.record(agency=world.a.agency, action="projects:edit", actor=world.a.owner, summary="secret-ish")
    client.force_login({"consultant": world.a.consultant, "founder": world.a.founder,
                        "other owner": world.b.owner}[who])

    response = client.get(reverse("agency:audit_log", args=[world.a.agency.pk]))

    assert response.status_code == status
    assert "secret-ish" not in response.content.decode()
