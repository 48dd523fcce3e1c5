"""Attacks on issues 6 and 7 through the pages: swapped ids across projects of one agency,
secrets echoed back, the sign-off racing an edit, secret-like values that slip through."""

from __future__ import annotations

import contextlib

import pytest
from django.urls import reverse

from checks.engine.secretlike import secret_like
from checks.models import AlertChannel, Monitor
from handover import records
from handover.models import HandoverRecord
from launchready import crypto
from projects.models import Project

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.slack.com/services/T0SECRET1/B0SECRET2/zzSecretPathZZ1234567890"


@pytest.fixture
def two(world):
    """A second project of agency A with a monitor, a channel and a finding of its own."""
    other = Project.objects.create(agency=world.a.agency, name="Other A", apex_domain="other-a.example.com")
    monitor = Monitor.objects.create(project=other, name="Other", url="https://www.other-a.example.com/")
    channel = AlertChannel.objects.create(project=other, kind="slack", name="#other",
                                          webhook_url_encrypted=crypto.encrypt(HOOK))
    return other, monitor, channel, None


@pytest.mark.parametrize("url_name, kind", [
    ("checks:monitor_edit", "monitor"), ("checks:monitor_delete", "monitor"),
    ("checks:channel_edit", "channel"), ("checks:channel_delete", "channel"),
    ("checks:channel_test", "channel"),
])
def test_an_id_of_another_project_of_the_same_agency_answers_404(client, world, two, url_name, kind):
    other, monitor, channel, _ = two
    target = monitor if kind == "monitor" else channel
    client.force_login(world.a.consultant)
    url = reverse(url_name, args=[world.a.project.pk, target.pk])
    assert client.get(url).status_code in (404, 405)
    assert client.post(url, {"name": "hijack", "url": "https://x.example/", "interval_s": 60, "timeout_s": 5,
                             "expected_status": 200, "down_after": 2, "method": "GET"}).status_code == 404
    assert Monitor.objects.filter(pk=monitor.pk).exists()
    assert AlertChannel.objects.filter(pk=channel.pk).exists()


def test_a_channels_webhook_url_is_never_echoed(client, world, two):
    other, _, channel, _ = two
    client.force_login(world.a.consultant)
    pages = [
        client.get(reverse("checks:monitoring", args=[other.pk])),
        client.get(reverse("checks:channel_edit", args=[other.pk, channel.pk])),
        # an error re-render of the create form (email kind without address) and of the edit form
        client.post(reverse("checks:channel_create", args=[other.pk]),
                    {"kind": "slack", "name": "x" * 500, "webhook_url": HOOK}),
        client.post(reverse("checks:channel_edit", args=[other.pk, channel.pk]),
                    {"name": "x" * 500, "webhook_url": HOOK}),
    ]
    for page in pages:
        html = page.content.decode()
        assert "zzSecretPathZZ" not in html and "B0SECRET2" not in html


def test_a_monitor_urls_password_is_not_shown_to_the_founder(client, world):
    """The form accepts https://user:password@host/ and the dashboard prints ``m.url`` —
    to the founder too."""
    client.force_login(world.a.consultant)
    response = client.post(reverse("checks:monitor_create", args=[world.a.project.pk]), {
        "name": "Admin", "url": "https://admin:hunter2-secret@www.alpha.example.com/admin/", "method": "GET",
        "interval_s": 60, "timeout_s": 10, "expected_status": 200, "down_after": 2, "enabled": "on",
    })
    assert response.status_code in (200, 302)
    client.force_login(world.a.founder)
    html = client.get(reverse("checks:monitoring", args=[world.a.project.pk])).content.decode()
    assert "hunter2-secret" not in html


def test_a_founder_signing_does_not_undo_an_edit_made_meanwhile(world):
    """sign_view loads the record, then ``sign`` saves every field: an edit (which clears the
    sign-off) that commits between the load and the save is silently reverted, and the
    founder's signature lands on text they never read."""
    record = HandoverRecord.objects.create(project=world.a.project, deploy_steps="Old steps")
    records.sign(record, world.a.consultant, "consultant")
    founders_copy = HandoverRecord.objects.get(pk=record.pk)  # what the founder's request loaded
    # Meanwhile the consultant saves new deploy steps, which clears the sign-off.
    editing = HandoverRecord.objects.get(pk=record.pk)
    editing.deploy_steps = "New steps: run the migration first"
    editing.save()
    records.sign_off_clear(editing)

    with contextlib.suppress(records.SignOffRefused):  # refusing (no consultant signature now) is right too
        records.sign(founders_copy, world.a.founder, "founder")

    stored = HandoverRecord.objects.get(pk=record.pk)
    assert stored.deploy_steps == "New steps: run the migration first"
    assert stored.founder_signed_at is None  # the consultant has not signed the new text


def test_a_secret_in_an_overlong_secret_location_is_not_echoed(client, world):
    client.force_login(world.a.consultant)
    key = "sk_live_" + "A1b2C3d4" * 4
    response = client.post(reverse("handover:record", args=[world.a.project.pk]), {
        "part": "secrets",
        "secrets-TOTAL_FORMS": "1", "secrets-INITIAL_FORMS": "0", "secrets-MIN_NUM_FORMS": "0",
        "secrets-MAX_NUM_FORMS": "1000",
        "secrets-0-name": key + " " + "x" * 300, "secrets-0-store": "1Password", "secrets-0-path": "",
        "secrets-0-who_can_access": "",
    })
    assert response.status_code == 200
    assert key not in response.content.decode()


@pytest.mark.parametrize("value", [
    "api_key: 0123456789abcdef0123456789abcdef",  # a 128-bit hex API key, named
    "TOKEN=a3f1c9e2b7d84f60a1e5c3b9d2f7e8a4c6b1d0e9",  # a 160-bit hex token, named
    "shpat_0123456789abcdef0123456789abcdef",  # Shopify admin token
    "dapi0123456789abcdef0123456789abcdef",  # Databricks token
    "SECRET_KEY=django-insecure-8f$k2l!x@q9#m3v^z7w&r1p*t6y(u0o",
    "password: Hunter2-Winter-2026!",
])
def test_common_secret_values_are_recognised(value):
    assert secret_like(value) is not None


@pytest.mark.parametrize("value", [
    "a3f1c9e2b7d84f60a1e5c3b9d2f7e8a4c6b1d0e9",  # a bare git commit SHA-1: deploy notes cite them
    "Deploy: git push fly main, then check the release in the dashboard",
    "op://Clubhouse/Stripe/secret key",
])
def test_a_bare_commit_hash_and_prose_pass(value):
    assert secret_like(value) is None


def test_a_log_sample_with_secrets_is_not_echoed_on_an_error(client, world):
    client.force_login(world.a.consultant)
    log = ("GET /login?password=Sup3rS3cretPass 200\n"
           "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig\n")
    response = client.post(reverse("checks:log_sample", args=[world.a.project.pk]),
                           {"text": log, "phone_region": "ZZ"})
    assert response.status_code == 200
    assert "Sup3rS3cretPass" not in response.content.decode()


def test_a_log_sample_with_invalid_utf8_is_scanned(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(world.a.consultant)
    raw = b"\xff\xfe GET /x token=abcdefghijklmnop1234 \xc3\x28 200\n" * 100
    response = client.post(reverse("checks:log_sample", args=[world.a.project.pk]),
                           {"file": SimpleUploadedFile("app.log", raw), "phone_region": "US"})
    assert response.status_code == 302
    html = client.get(reverse("checks:monitoring", args=[world.a.project.pk])).content.decode()
    assert "abcdefghijklmnop1234" not in html


def test_a_10_mb_log_upload_is_refused_in_words(client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(world.a.consultant)
    response = client.post(reverse("checks:log_sample", args=[world.a.project.pk]),
                           {"file": SimpleUploadedFile("big.log", b"a line\n" * 1_500_000),
                            "phone_region": "US"})
    assert response.status_code == 200
    assert "at most 1,048,576 are" in response.content.decode()


def test_a_10_mb_pasted_log_is_refused_in_words(client, world):
    client.force_login(world.a.consultant)
    response = client.post(reverse("checks:log_sample", args=[world.a.project.pk]),
                           {"text": "a line\n" * 1_500_000, "phone_region": "US"})
    assert response.status_code == 200  # not a bare 400 "Bad Request" (DATA_UPLOAD_MAX_MEMORY_SIZE)
