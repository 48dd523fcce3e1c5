"""Uptime monitors written through the API: created, changed (paused, resumed) and deleted by
the page's own rules — the monitor form, then the monitoring service — so the API refuses
exactly what the page refuses, with the same messages; in the key's agency only; logged."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.fields import DateTimeField

from checks.models import Incident, Monitor
from projects.models import AuditLogEntry, Membership
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

CREDENTIALS = ("Put no user name, password or token in the URL: it would be stored and shown in clear.")
METHOD = "Monitors probe with GET or HEAD only (a probe must not change anything)."


def _when(value) -> str | None:
    return DateTimeField().to_representation(value) if value else None


def _post(client, project, body, key):
    return client.post(reverse("api:monitor-list", args=[project.pk]), body, content_type="application/json",
                       headers=bearer(key))


def _detail(world, monitor) -> str:
    return reverse("api:monitor-detail", args=[world.a.project.pk, monitor.pk])


def _homepage(world) -> Monitor:
    return Monitor.objects.get(project=world.a.project, name="Homepage")


def _entries() -> list[tuple]:
    return list(AuditLogEntry.objects.order_by("id").values_list(
        "agency__slug", "actor__username", "api_key__name", "action", "object_type", "object_id", "summary"))


def test_a_write_key_creates_a_monitor_due_at_once(client, world, records, keys):
    body = {"name": "Health", "url": "https://api.alpha.example.com/health", "method": "HEAD",
            "interval_s": 300, "timeout_s": 5, "expected_status": 204, "down_after": 3}

    response = _post(client, world.a.project, body, keys.a_write)

    assert response.status_code == 201
    monitor = Monitor.objects.get(pk=response.json()["id"])
    assert response.json() == {
        "id": monitor.pk, "name": "Health", "url": "https://api.alpha.example.com/health", "method": "HEAD",
        "interval_s": 300, "timeout_s": 5.0, "expected_status": 204, "keyword": "", "down_after": 3,
        "enabled": True, "state": "unknown", "consecutive_failures": 0, "last_probe_at": None,
        "created_at": _when(monitor.created_at),
    }
    assert monitor.project == world.a.project
    assert monitor.next_due_at is not None


def test_fields_left_out_take_the_pages_defaults(client, world, records, keys):
    response = _post(client, world.a.project, {"url": "api.alpha.example.com/health?full=1"}, keys.a_write)

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("name", "url", "method", "interval_s", "timeout_s", "expected_status",
                                 "keyword", "down_after", "enabled")} == {
        "name": "api.alpha.example.com/health", "url": "https://api.alpha.example.com/health?full=1",
        "method": "GET", "interval_s": 60, "timeout_s": 10.0, "expected_status": 200, "keyword": "",
        "down_after": 2, "enabled": True,
    }


def test_a_paused_monitor_can_be_created(client, world, records, keys):
    response = _post(client, world.a.project, {"url": "https://alpha.example.com/", "enabled": False},
                     keys.a_write)

    monitor = Monitor.objects.get(pk=response.json()["id"])
    assert (response.status_code, monitor.enabled, monitor.next_due_at) == (201, False, None)


REFUSED = [
    # A URL with a user and password, in pieces: whole, the repository's own secret scan stops on it.
    ({"url": "https://ci:" + "s3cret" + "@alpha.example.com/health"}, {"url": [CREDENTIALS]}),
    ({"url": "http://169.254.169.254/latest/meta-data/"},
     {"url": ["outbound policy refused 169.254.169.254: link-local (cloud metadata range)"]}),
    ({"url": "http://10.0.0.7/health"}, {"url": ["outbound policy refused 10.0.0.7: private"]}),
    ({"url": "ftp://alpha.example.com/"},
     {"url": ["Enter an http:// or https:// URL of at most 2000 characters."]}),
    ({"url": "https://"}, {"url": ["Enter a valid URL."]}),
    ({"url": "https://alpha.example.com:99999/"},
     {"url": ["Enter an http:// or https:// URL of at most 2000 characters."]}),
    ({"url": "https://alpha.example.com:0/"},
     {"url": ["Enter an http:// or https:// URL of at most 2000 characters."]}),
    ({"url": "https://alpha.example.com/", "method": "POST"}, {"method": [METHOD]}),
    ({"url": "https://alpha.example.com/", "method": "DELETE"}, {"method": [METHOD]}),
    ({"url": "https://alpha.example.com/", "interval_s": 45},
     {"interval_s": ["Probe every 30, 60, 120, 300, 600, 900, 1800 or 3600 s."]}),
    ({"url": "https://alpha.example.com/", "interval_s": 30, "timeout_s": 30},
     {"timeout_s": ["The timeout must be shorter than the interval."]}),
    ({"url": "https://alpha.example.com/", "method": "HEAD", "keyword": "Welcome"},
     {"keyword": ["A keyword needs GET: the answer to HEAD has no body."]}),
    ({"url": "https://alpha.example.com/", "down_after": 11},
     {"down_after": ["Ensure this value is less than or equal to 10."]}),
]


@pytest.mark.parametrize(("body", "errors"), REFUSED, ids=[str(i) for i in range(len(REFUSED))])
def test_a_refused_monitor_answers_400_with_the_pages_message(client, world, records, keys, body, errors):
    before = Monitor.objects.count()

    response = _post(client, world.a.project, body, keys.a_write)

    assert (response.status_code, response.json()) == (400, errors)
    assert Monitor.objects.count() == before
    # The page, sent the same values, refuses them with the same messages.
    client.force_login(world.a.consultant)
    page = {"name": "", "method": "GET", "interval_s": 60, "timeout_s": 10, "expected_status": 200,
            "keyword": "", "down_after": 2, "enabled": "on", **body}
    shown = client.post(reverse("checks:monitor_create", args=[world.a.project.pk]), page)
    assert shown.status_code == 200
    assert dict(shown.context["form"].errors) == errors


def test_a_url_is_needed_and_types_are_checked(client, world, records, keys):
    response = _post(client, world.a.project, {"name": "No URL", "interval_s": "often"}, keys.a_write)

    assert (response.status_code, response.json()) == (400, {
        "url": ["This field is required."], "interval_s": ["A valid integer is required."]})


def test_a_monitor_is_read(client, world, records, keys):
    monitor = _homepage(world)

    response = client.get(_detail(world, monitor), headers=bearer(keys.a_read))

    assert (response.status_code, response.json()) == (200, {
        "id": monitor.pk, "name": "Homepage", "url": "https://www.alpha.example.com/", "method": "GET",
        "interval_s": 60, "timeout_s": 10.0, "expected_status": 200, "keyword": "", "down_after": 2,
        "enabled": True, "state": "unknown", "consecutive_failures": 0, "last_probe_at": None,
        "created_at": _when(monitor.created_at),
    })


def test_enabled_false_pauses_and_true_resumes(client, world, records, keys):
    monitor = _homepage(world)
    Monitor.objects.filter(pk=monitor.pk).update(state="down", consecutive_failures=3)
    incident = Incident.objects.create(monitor=monitor, project=world.a.project, opened_at=monitor.created_at,
                                       reason="HTTP 503")
    url = _detail(world, monitor)

    paused = client.patch(url, {"enabled": False}, content_type="application/json",
                          headers=bearer(keys.a_write))

    monitor.refresh_from_db()
    incident.refresh_from_db()
    assert paused.status_code == 200
    assert {k: paused.json()[k] for k in ("enabled", "state", "consecutive_failures")} == {
        "enabled": False, "state": "unknown", "consecutive_failures": 0}
    assert (monitor.enabled, monitor.next_due_at, monitor.name) == (False, None, "Homepage")
    assert incident.closed_at is not None

    resumed = client.patch(url, {"enabled": True}, content_type="application/json",
                           headers=bearer(keys.a_write))

    monitor.refresh_from_db()
    assert (resumed.status_code, resumed.json()["enabled"]) == (200, True)
    assert monitor.next_due_at is not None


def test_a_patch_changes_only_what_it_names(client, world, records, keys):
    monitor = _homepage(world)

    response = client.patch(_detail(world, monitor), {"name": "Front page", "url": "https://alpha.example.com/"},
                            content_type="application/json", headers=bearer(keys.a_write))

    monitor.refresh_from_db()
    assert response.status_code == 200
    assert (monitor.name, monitor.url, monitor.method, monitor.interval_s, monitor.enabled) == (
        "Front page", "https://alpha.example.com/", "GET", 60, True)


def test_a_refused_patch_answers_400_and_changes_nothing(client, world, records, keys):
    monitor = _homepage(world)

    change = {"name": "Renamed", "url": "https://user:pw@www.alpha.example.com/", "enabled": False}

    response = client.patch(_detail(world, monitor), change, content_type="application/json",
                            headers=bearer(keys.a_write))

    assert (response.status_code, response.json()) == (400, {"url": [CREDENTIALS]})
    monitor.refresh_from_db()
    assert (monitor.name, monitor.url, monitor.enabled) == (
        "Homepage", "https://www.alpha.example.com/", True)
    assert AuditLogEntry.objects.count() == 0


def test_delete_answers_204_and_the_monitor_is_gone(client, world, records, keys):
    monitor = _homepage(world)
    url = _detail(world, monitor)

    response = client.delete(url, headers=bearer(keys.a_write))

    assert (response.status_code, response.content) == (204, b"")
    assert not Monitor.objects.filter(pk=monitor.pk).exists()
    assert client.get(url, headers=bearer(keys.a_read)).json() == {"detail": "No such monitor"}


def test_another_agencys_monitor_answers_404_and_is_left_alone(client, world, records, keys):
    theirs = Monitor.objects.get(project=world.b.project)
    # Agency A's key, its own project's id, agency B's monitor: not found under that project.
    url = reverse("api:monitor-detail", args=[world.a.project.pk, theirs.pk])
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)(url, {"enabled": False}, content_type="application/json",
                                           headers=bearer(keys.a_write))
        assert (response.status_code, response.json()) == (404, {"detail": "No such monitor"})
    # Agency B's key on agency A's project and monitor.
    response = client.patch(_detail(world, _homepage(world)), {"enabled": False},
                            content_type="application/json", headers=bearer(keys.b_write))
    assert (response.status_code, response.json()) == (404, {"detail": "No such project"})
    created = _post(client, world.a.project, {"url": "https://smuggled.example.com/"}, keys.b_write)
    assert created.status_code == 404
    theirs.refresh_from_db()
    assert theirs.enabled and _homepage(world).enabled
    assert Monitor.objects.count() == 2


def test_a_read_only_key_is_refused_with_403(client, world, records, keys):
    monitor = _homepage(world)

    created = _post(client, world.a.project, {"url": "https://alpha.example.com/"}, keys.a_read)
    paused = client.patch(_detail(world, monitor), {"enabled": False}, content_type="application/json",
                          headers=bearer(keys.a_read))
    deleted = client.delete(_detail(world, monitor), headers=bearer(keys.a_read))

    for response in (created, paused, deleted):
        assert (response.status_code, response.json()) == (403, {"detail": "This API key is read-only."})
    assert list(Monitor.objects.filter(project=world.a.project).values_list("name", "enabled")) == [
        ("Homepage", True)]


def test_a_founders_session_gets_404_and_a_consultants_session_writes(client, world, records):
    client.force_login(world.a.founder)
    refused = client.post(reverse("api:monitor-list", args=[world.a.project.pk]),
                          {"url": "https://alpha.example.com/"}, content_type="application/json")
    client.force_login(world.a.consultant)
    made = client.post(reverse("api:monitor-list", args=[world.a.project.pk]),
                       {"url": "https://alpha.example.com/"}, content_type="application/json")

    assert refused.status_code == 404
    assert made.status_code == 201


def test_each_write_leaves_one_audit_log_entry_with_the_key(client, world, records, keys):
    made = _post(client, world.a.project, {"name": "Health", "url": "https://alpha.example.com/health"},
                 keys.a_write)
    pk = made.json()["id"]
    url = reverse("api:monitor-detail", args=[world.a.project.pk, pk])
    client.patch(url, {"enabled": False, "down_after": 3}, content_type="application/json",
                 headers=bearer(keys.a_write))
    client.delete(url, headers=bearer(keys.a_write))

    assert _entries() == [
        ("agency-a", "owner-a", "CI write", "api:monitor-list", "monitor", str(pk), "Added monitor “Health”"),
        ("agency-a", "owner-a", "CI write", "api:monitor-detail PATCH", "monitor", str(pk),
         "Changed monitor “Health”: down_after, paused"),
        ("agency-a", "owner-a", "CI write", "api:monitor-detail DELETE", "monitor", str(pk),
         "Deleted monitor “Health”, with its probes and incidents"),
    ]


def test_a_session_delete_is_logged_in_the_monitors_agency(client, world, records):
    monitor = _homepage(world)
    Membership.objects.create(user=world.a.consultant, agency=world.b.agency, role=Membership.Role.CONSULTANT)
    client.force_login(world.a.consultant)

    response = client.delete(_detail(world, monitor))

    assert response.status_code == 204
    assert _entries() == [("agency-a", "consultant-a", None, "api:monitor-detail DELETE", "monitor",
                           str(monitor.pk), "Deleted monitor “Homepage”, with its probes and incidents")]
