"""The handover record page: staff edit each part (and a secret value is refused), adopt the
starter runbook, sign; the founder reads it and may only sign, after the consultant; an edit
after signing clears the sign-off; anyone else gets 404."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from handover.models import AccessEntry, AreaOwner, HandoverRecord, RunbookEntry, SecretLocation
from handover.record_views import CLEARED
from handover.records import record_of
from handover.runbook_defaults import BY_KEY, STARTERS

pytestmark = pytest.mark.django_db

STRIPE_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"  # the example key of Stripe's documentation


def page_url(project) -> str:
    return reverse("handover:record", args=[project.pk])


def rows_data(part: str, rows: list[dict]) -> dict:
    """POST data of one formset: existing rows (with ``id``) first, then new ones."""
    data = {
        "part": part,
        f"{part}-TOTAL_FORMS": str(len(rows)),
        f"{part}-INITIAL_FORMS": str(sum("id" in row for row in rows)),
        f"{part}-MIN_NUM_FORMS": "0",
        f"{part}-MAX_NUM_FORMS": "1000",
    }
    for number, row in enumerate(rows):
        data.update({f"{part}-{number}-{name}": value for name, value in row.items()})
    return data


def texts_data(**values) -> dict:
    data = {
        "part": "texts",
        "texts-deploy_steps": "",
        "texts-rollback_notes": "",
        "texts-monitoring_links": "",
    }
    data.update({f"texts-{name}": value for name, value in values.items()})
    return data


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def signed(project, consultant, founder=None) -> HandoverRecord:
    from django.utils import timezone

    record = record_of(project)
    record.consultant_signed_by, record.consultant_signed_at = consultant, timezone.now()
    if founder is not None:
        record.founder_signed_by, record.founder_signed_at = founder, timezone.now()
    record.save()
    return record


def test_staff_see_every_part_as_a_form_and_the_checklist_of_an_empty_record(client, world):
    client.force_login(world.a.consultant)
    response = client.get(page_url(world.a.project))
    assert response.status_code == 200
    html = response.content.decode()
    for part in ("texts", "secrets", "access", "owners", "runbook"):
        assert f'<input type="hidden" name="part" value="{part}">' in html
    checklist = re.findall(
        r'<li data-check="([\w.]+)"><span class="badge status-(\w+)">\w+</span>'
        r'<a class="what" href="#([\w-]+)">',
        html,
    )
    # The world's project has rollback notes and nothing else recorded; each check links to its part.
    assert checklist == [
        ("handover.deploy_steps", "fail", "texts"),
        ("handover.rollback", "pass", "texts"),
        ("handover.monitoring", "fail", "texts"),
        ("handover.secret_locations", "fail", "secrets"),
        ("handover.access_map", "fail", "access"),
        ("handover.owners", "fail", "owners"),
        ("handover.runbook", "fail", "runbook"),
        ("handover.sign_off", "fail", "sign-off"),
    ]
    assert [s.key for s in response.context["starters"]] == [s.key for s in STARTERS]
    assert 'id="sign-consultant"' in html and 'id="sign-founder"' not in html
    assert (
        '<p class="notice" id="sign-missing">6 parts of the record are still missing (see the checklist): '
        "sign once the founder has all they need.</p>" in html
    )


def test_the_project_page_links_to_the_record(client, world):
    client.force_login(world.a.founder)
    html = client.get(reverse("projects:detail", args=[world.a.project.pk])).content.decode()
    assert f'href="{page_url(world.a.project)}" id="open-handover-record"' in html


def test_staff_save_deploy_steps_rollback_and_monitoring_links(client, world):
    client.force_login(world.a.consultant)
    response = client.post(
        page_url(world.a.project),
        texts_data(
            deploy_steps="CI deploys main.",
            rollback_notes="`paas rollback v<N>`",
            monitoring_links="Uptime: https://status.alpha.example.com/\n\n"
            " Errors https://errors.example.com/a ",
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == page_url(world.a.project) + "#texts"
    record = HandoverRecord.objects.get(project=world.a.project)
    assert (record.deploy_steps, record.monitoring_links) == (
        "CI deploys main.",
        "Uptime: https://status.alpha.example.com/\nErrors https://errors.example.com/a",
    )
    world.a.project.refresh_from_db()
    assert world.a.project.rollback_notes == "`paas rollback v<N>`"
    page = client.get(page_url(world.a.project))
    assert messages_of(page) == ["Saved the deploy, rollback and monitoring."]
    checks = {c["id"]: (c["status"], c["summary"]) for c in page.context["checks"]}
    assert checks["handover.deploy_steps"] == ("pass", "deploy steps are recorded")
    assert checks["handover.monitoring"] == ("pass", "2 monitoring links recorded")


def test_a_monitoring_line_without_a_link_is_refused(client, world):
    client.force_login(world.a.consultant)
    response = client.post(
        page_url(world.a.project), texts_data(monitoring_links="https://a.test/\nthe status page")
    )
    assert response.status_code == 200
    assert response.context["forms"]["texts"].errors == {
        "monitoring_links": ["Line 2 has no link: write a label and an http(s):// URL on each line."]
    }
    assert messages_of(response) == ["Nothing was saved: correct the marked fields below."]
    assert not HandoverRecord.objects.filter(project=world.a.project).exclude(monitoring_links="").exists()


def test_staff_add_edit_and_remove_secret_locations(client, world):
    client.force_login(world.a.consultant)
    url = page_url(world.a.project)
    response = client.post(
        url,
        rows_data(
            "secrets",
            [
                {
                    "name": "Stripe live secret key",
                    "store": "1Password",
                    "path": "Alpha / Stripe",
                    "who_can_access": "Sam",
                },
            ],
        ),
    )
    assert response["Location"] == url + "#secrets"
    stripe = SecretLocation.objects.get(project=world.a.project)
    client.post(
        url,
        rows_data(
            "secrets",
            [
                {
                    "id": str(stripe.pk),
                    "name": "Stripe live secret key",
                    "store": "Vercel env",
                    "path": "STRIPE_KEY",
                    "who_can_access": "Sam, Dana",
                },
                {
                    "name": "Database URL",
                    "store": "Render",
                    "path": "alpha-api → Environment",
                    "who_can_access": "",
                },
            ],
        ),
    )
    assert list(
        SecretLocation.objects.filter(project=world.a.project).values_list(
            "name", "store", "path", "who_can_access"
        )
    ) == [
        ("Database URL", "Render", "alpha-api → Environment", ""),
        ("Stripe live secret key", "Vercel env", "STRIPE_KEY", "Sam, Dana"),
    ]
    database = SecretLocation.objects.get(name="Database URL")
    client.post(
        url,
        rows_data(
            "secrets",
            [
                {
                    "id": str(database.pk),
                    "name": "Database URL",
                    "store": "Render",
                    "path": "x",
                    "DELETE": "on",
                },
                {
                    "id": str(stripe.pk),
                    "name": "Stripe live secret key",
                    "store": "Vercel env",
                    "path": "STRIPE_KEY",
                },
            ],
        ),
    )
    assert list(SecretLocation.objects.values_list("name", flat=True)) == ["Stripe live secret key"]


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        ("path", STRIPE_KEY, "a Stripe secret key (sk_live_…)"),
        ("name", "AKIAIOSFODNN7EXAMPLE", "an AWS access key id (AKIA…)"),
        ("store", "-----BEGIN RSA PRIVATE KEY-----", "a PEM/PGP block (-----BEGIN …)"),
        (
            "who_can_access",
            "NPe1vJNL1++YTGXsp2ktY0WXPFpgfFl2aPb71ZOm",
            "a random-looking string of 40 characters (a key or a password)",
        ),
    ],
)
def test_a_secret_value_is_refused_where_its_location_belongs(client, world, field, value, what):
    client.force_login(world.a.consultant)
    row = {"name": "Stripe key", "store": "1Password", "path": "Alpha / Stripe", "who_can_access": "Sam"}
    response = client.post(page_url(world.a.project), rows_data("secrets", [{**row, field: value}]))
    assert response.status_code == 200
    assert response.context["forms"]["secrets"].errors == [
        {field: [f"This looks like {what}: record where it lives, not the value."]}
    ]
    assert not SecretLocation.objects.exists()
    # The page that says so does not echo the value back; the other fields keep what was typed.
    html = response.content.decode()
    assert value not in html
    assert re.search(rf'<input type="text" name="secrets-0-{field}"(?! value=)', html)
    for other, kept in row.items():
        if other != field:
            assert f'name="secrets-0-{other}" value="{kept}"' in html


def test_a_secret_in_the_deploy_steps_is_refused_too(client, world):
    client.force_login(world.a.consultant)
    response = client.post(
        page_url(world.a.project), texts_data(deploy_steps=f"export STRIPE_KEY={STRIPE_KEY}")
    )
    assert response.context["forms"]["texts"].errors == {
        "deploy_steps": [
            "This looks like a Stripe secret key (sk_live_…): record where it lives, not the value."
        ]
    }
    assert not HandoverRecord.objects.exclude(deploy_steps="").exists()
    assert STRIPE_KEY not in response.content.decode()


def test_staff_record_the_access_map_and_owners(client, world):
    client.force_login(world.a.consultant)
    url = page_url(world.a.project)
    client.post(
        url,
        rows_data(
            "access",
            [
                {
                    "system": "Stripe",
                    "url": "https://dashboard.stripe.com/",
                    "owner": "Sam",
                    "people_with_access": "Sam, Dana",
                    "mfa": "off",
                },
                {
                    "system": "Hosting",
                    "url": "",
                    "owner": "Priya",
                    "people_with_access": "Priya",
                    "mfa": "on",
                },
            ],
        ),
    )
    client.post(url, rows_data("owners", [{"area": "Payments", "owner": "Sam Lee", "contact": "sam@a.test"}]))
    assert list(AccessEntry.objects.values_list("system", "url", "mfa")) == [
        ("Hosting", "", "on"),
        ("Stripe", "https://dashboard.stripe.com/", "off"),
    ]
    assert list(AreaOwner.objects.values_list("area", "owner", "contact")) == [
        ("Payments", "Sam Lee", "sam@a.test")
    ]
    checks = {c["id"]: (c["status"], c["summary"]) for c in client.get(url).context["checks"]}
    assert checks["handover.access_map"] == (
        "fail",
        "MFA is off on 1 system of the 2 systems in the access map",
    )
    assert checks["handover.owners"] == ("pass", "1 area owner recorded")


def test_a_starter_runbook_entry_is_adopted_with_one_click_then_edited(client, world):
    client.force_login(world.a.consultant)
    adopt = reverse("handover:runbook_adopt", args=[world.a.project.pk])
    for key in ("site_down", "bad_deploy"):
        response = client.post(adopt, {"key": key})
        assert response.status_code == 302
    entries = list(RunbookEntry.objects.filter(project=world.a.project))
    assert [(e.key, e.title, e.steps, e.position) for e in entries] == [
        ("site_down", "Site down", BY_KEY["site_down"].steps, 1),
        ("bad_deploy", "Bad deploy", BY_KEY["bad_deploy"].steps, 2),
    ]
    assert response["Location"] == page_url(world.a.project) + f"#runbook-{entries[1].pk}"
    again = client.post(adopt, {"key": "site_down"}, follow=True)
    assert messages_of(again)[-1] == "The runbook already has \u201cSite down\u201d."
    assert RunbookEntry.objects.count() == 2
    assert [s.key for s in again.context["starters"]] == [
        "login_broken",
        "mail_in_spam",
        "certificate_expiring",
    ]
    # Then made the project's own: the key stays, the words change.
    client.post(
        page_url(world.a.project),
        rows_data(
            "runbook",
            [
                {
                    "id": str(entries[0].pk),
                    "title": "Site down",
                    "steps": "1. Check https://status.alpha.example.com/",
                },
                {"id": str(entries[1].pk), "title": "Bad deploy", "steps": "`paas rollback`"},
                {"title": "Stripe webhooks failing", "steps": "Replay them from the dashboard."},
            ],
        ),
    )
    assert list(RunbookEntry.objects.values_list("key", "title", "steps", "position")) == [
        ("site_down", "Site down", "1. Check https://status.alpha.example.com/", 1),
        ("bad_deploy", "Bad deploy", "`paas rollback`", 2),
        ("", "Stripe webhooks failing", "Replay them from the dashboard.", 3),
    ]
    checks = {
        c["id"]: (c["status"], c["summary"]) for c in client.get(page_url(world.a.project)).context["checks"]
    }
    assert checks["handover.runbook"] == (
        "warn",
        "the runbook does not cover: login broken, mails in spam, certificate expiring",
    )


def test_an_unknown_starter_or_part_is_a_bad_request(client, world):
    client.force_login(world.a.consultant)
    adopt = reverse("handover:runbook_adopt", args=[world.a.project.pk])
    assert client.post(adopt, {"key": "fire"}).status_code == 400
    assert client.post(page_url(world.a.project), {"part": "everything"}).status_code == 400
    assert not RunbookEntry.objects.exists()


def test_the_consultant_signs_then_the_founder(client, world):
    sign = reverse("handover:sign", args=[world.a.project.pk])
    client.force_login(world.a.founder)
    early = client.post(sign, follow=True)
    assert messages_of(early) == ["The consultant signs first: the founder signs the record they hand over."]
    assert 'id="sign-founder"' not in early.content.decode()
    assert HandoverRecord.objects.get(project=world.a.project).founder_signed_at is None

    client.force_login(world.a.consultant)
    response = client.post(sign)
    assert response["Location"] == page_url(world.a.project) + "#sign-off"
    record = HandoverRecord.objects.get(project=world.a.project)
    assert (record.consultant_signed_by, record.founder_signed_by) == (world.a.consultant, None)
    assert record.consultant_signed_at is not None

    client.force_login(world.a.founder)
    assert 'id="sign-founder"' in client.get(page_url(world.a.project)).content.decode()
    done = client.post(sign, follow=True)
    assert messages_of(done) == ["Signed as the founder. Thank you."]
    record.refresh_from_db()
    assert record.founder_signed_by == world.a.founder
    assert record.founder_signed_at >= record.consultant_signed_at
    twice = client.post(sign, follow=True)
    assert messages_of(twice) == ["The founder has already signed this record."]
    checks = {c["id"]: c["status"] for c in twice.context["checks"]}
    assert checks["handover.sign_off"] == "pass"


def test_an_edit_after_signing_clears_the_sign_off_and_says_so(client, world):
    signed(world.a.project, world.a.consultant, world.a.founder)
    client.force_login(world.a.consultant)
    page = client.get(page_url(world.a.project)).content.decode()
    assert "Saving a change to any part clears the sign-off" in page
    response = client.post(
        page_url(world.a.project), rows_data("owners", [{"area": "Email", "owner": "Priya"}]), follow=True
    )
    assert messages_of(response) == ["Saved the owners.", CLEARED]
    record = HandoverRecord.objects.get(project=world.a.project)
    assert (record.consultant_signed_by, record.consultant_signed_at) == (None, None)
    assert (record.founder_signed_by, record.founder_signed_at) == (None, None)


def test_a_save_that_changes_nothing_keeps_the_sign_off(client, world):
    record = signed(world.a.project, world.a.consultant, world.a.founder)
    client.force_login(world.a.consultant)
    response = client.post(
        page_url(world.a.project), texts_data(rollback_notes="Roll back with `paas rollback`."), follow=True
    )
    assert messages_of(response) == ["Nothing changed in the deploy, rollback and monitoring."]
    assert HandoverRecord.objects.get(pk=record.pk).founder_signed_by == world.a.founder


def test_adopting_a_starter_after_signing_clears_the_sign_off(client, world):
    signed(world.a.project, world.a.consultant)
    client.force_login(world.a.consultant)
    response = client.post(
        reverse("handover:runbook_adopt", args=[world.a.project.pk]), {"key": "login_broken"}, follow=True
    )
    assert messages_of(response)[-1] == CLEARED
    assert HandoverRecord.objects.get(project=world.a.project).consultant_signed_at is None


def test_the_founder_reads_the_record_without_forms(client, world):
    AccessEntry.objects.create(
        project=world.a.project,
        system="Stripe",
        url="https://dashboard.stripe.com/",
        owner="Sam",
        people_with_access="Sam, Dana",
        mfa="off",
    )
    SecretLocation.objects.create(
        project=world.a.project, name="Stripe key", store="1Password", path="A / Stripe"
    )
    client.force_login(world.a.founder)
    response = client.get(page_url(world.a.project))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="part"' not in html and "runbook/adopt/" not in html and "Save the" not in html
    assert '<dd class="mfa-off">Off</dd>' in html
    assert "<dt>Path</dt><dd>A / Stripe</dd>" in html
    assert "You can sign once Agency A has signed." in html
    assert not HandoverRecord.objects.exists()  # reading the page writes nothing


@pytest.mark.parametrize("action", ["texts", "secrets", "adopt"])
def test_the_founder_cannot_change_the_record(client, world, action):
    client.force_login(world.a.founder)
    if action == "adopt":
        response = client.post(
            reverse("handover:runbook_adopt", args=[world.a.project.pk]), {"key": "site_down"}
        )
    elif action == "texts":
        response = client.post(page_url(world.a.project), texts_data(deploy_steps="Pushed by the founder"))
    else:
        response = client.post(page_url(world.a.project), rows_data("secrets", [{"name": "x", "store": "y"}]))
    assert response.status_code == 403
    assert not HandoverRecord.objects.exclude(deploy_steps="").exists()
    assert (SecretLocation.objects.count(), RunbookEntry.objects.count()) == (0, 0)


@pytest.mark.parametrize("who", ["consultant", "founder"])
def test_another_agency_gets_404_on_every_action_and_nothing_changes(client, world, who):
    record = signed(world.a.project, world.a.consultant)
    client.force_login(getattr(world.b, who))
    project = world.a.project
    assert client.get(page_url(project)).status_code == 404
    assert client.post(page_url(project), texts_data(deploy_steps="x")).status_code == 404
    assert (
        client.post(reverse("handover:runbook_adopt", args=[project.pk]), {"key": "site_down"}).status_code
        == 404
    )
    assert client.post(reverse("handover:sign", args=[project.pk])).status_code == 404
    record.refresh_from_db()
    assert (record.deploy_steps, record.founder_signed_at, RunbookEntry.objects.count()) == ("", None, 0)
