"""The risk list's cards are cached (checks/risk_cards.py): a cached page must never show a
card that is out of date or belongs to another run, whatever changed since it was stored."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from checks import risk_cards
from checks.models import AuditRun, CheckResult
from launchready import fragments
from projects.models import Finding

pytestmark = pytest.mark.django_db


def finished_run(project, targets: list[str], state: str = AuditRun.State.DONE) -> AuditRun:
    """A run of ``project`` with one failing ``http.hsts`` result and a ``Finding`` per target."""
    now = timezone.now()
    run = AuditRun.objects.create(
        project=project,
        state=state,
        started_at=now,
        finished_at=now if state == AuditRun.State.DONE else None,
    )
    for target in targets:
        add_result(run, target)
        add_finding(run, target)
    return run


def add_finding(run: AuditRun, target: str) -> Finding:
    """The open ``http.hsts`` finding on ``target`` (the one there already, if any)."""
    finding, _ = Finding.objects.get_or_create(
        project=run.project, check_id="http.hsts", target=target,
        defaults={"stage": "edge", "impact": "high", "last_result_status": "fail", "summary": "no HSTS",
                  "first_run": run, "last_run": run})
    return finding


def add_result(run: AuditRun, target: str, status: str = "fail") -> CheckResult:
    return CheckResult.objects.create(
        run=run,
        check_id="http.hsts",
        stage="edge",
        impact="high",
        target=target,
        status=status,
        summary=f"HSTS on {target}",
        evidence={"target": target},
    )


def cards(client, url: str) -> list[tuple[str, str]]:
    """``(target, finding line)`` of each risk card on the page."""
    html = client.get(url).content.decode()
    ranked = html.split('<ol class="risks" id="risks">')[1].split("</ol>")[0] if 'id="risks"' in html else ""
    found = []
    for card in ranked.split("<li ")[1:]:
        target = re.search(r'data-target="([^"]+)"', card)[1]
        line = re.search(r'<div class="finding"[^>]*>(.*?)<a class="open-finding"', card, re.S)
        found.append((target, " ".join(re.sub(r"<[^>]+>", " ", line[1]).split()) if line else "no finding"))
    return found


@pytest.fixture
def page(client, world):
    cache.clear()
    client.force_login(world.a.consultant)
    return reverse("checks:risks", args=[world.a.project.pk])


def test_a_change_to_a_finding_shows_at_once_on_the_cached_page(client, world, page):
    finished_run(world.a.project, ["www.a.example"])
    assert cards(client, page) == [("www.a.example", "Open No owner yet")]
    assert cards(client, page) == [("www.a.example", "Open No owner yet")]  # served from the cache

    finding = Finding.objects.get(project=world.a.project)
    finding.owner, finding.status = world.a.owner, Finding.Status.IN_PROGRESS
    finding.save()
    assert cards(client, page) == [("www.a.example", f"In progress Owner: {world.a.owner.get_username()}")]

    world.a.owner.first_name, world.a.owner.last_name = "Olga", "Owens"  # renamed: not a Finding write
    world.a.owner.save()
    assert cards(client, page) == [("www.a.example", "In progress Owner: Olga Owens")]


def test_a_result_written_after_the_run_ended_is_not_hidden_by_the_cache(client, world, page):
    run = finished_run(world.a.project, ["www.a.example"])
    assert [t for t, _ in cards(client, page)] == ["www.a.example"]

    add_result(run, "app.a.example")  # a late stage's write after the sweeper ended the run
    add_finding(run, "app.a.example")

    assert sorted(t for t, _ in cards(client, page)) == ["app.a.example", "www.a.example"]


def test_a_running_run_is_never_cached(client, world):
    cache.clear()
    run = finished_run(world.a.project, ["www.a.example"], state=AuditRun.State.RUNNING)
    client.force_login(world.a.consultant)
    url = reverse("checks:run", args=[run.pk])
    assert [t for t, _ in cards(client, url)] == ["www.a.example"]

    add_result(run, "app.a.example")

    assert sorted(t for t, _ in cards(client, url)) == ["app.a.example", "www.a.example"]
    assert not any(key.startswith("risk-cards:") for key in _keys())


def test_each_run_and_agency_has_its_own_entry(client, world, page):
    finished_run(world.a.project, ["www.a.example"])
    finished_run(world.b.project, ["www.b.example"])
    assert [t for t, _ in cards(client, page)] == ["www.a.example"]

    client.force_login(world.b.consultant)
    assert [t for t, _ in cards(client, reverse("checks:risks", args=[world.b.project.pk]))] == [
        "www.b.example"
    ]
    assert client.get(page).status_code == 404  # the other agency's cached page is not reachable


def test_the_founder_and_the_consultant_share_the_cards_and_the_key_names_no_person(client, world, page):
    run = finished_run(world.a.project, ["www.a.example"])
    consultant_view = client.get(page).content.decode()
    client.force_login(world.a.founder)
    founder_view = client.get(page).content.decode()

    def ranked(html: str) -> str:
        return html.split('<ol class="risks" id="risks">')[1].split("</ol>")[0]

    assert ranked(founder_view) == ranked(consultant_view)
    rows = risk_cards.scored_rows(run)
    assert risk_cards._key(world.a.project, run, rows).startswith(
        f"risk-cards:{fragments.template_digest(*risk_cards.CARD_TEMPLATES)}:{run.pk}:"
    )


def _keys() -> list[str]:
    """The keys in the test cache (locmem or Redis), without the backend's prefix."""
    backend = cache._cache if hasattr(cache, "_cache") else None
    if isinstance(backend, dict):  # locmem
        return [k.split(":", 2)[-1] for k in backend]
    client = cache._cache.get_client()
    return [k.decode().split(":", 2)[-1] for k in client.keys("*risk-cards:*")]


DEAD_REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
}  # discard port: refused at once


def test_the_pages_render_without_their_cache_when_redis_cannot_be_reached(client, world, settings, caplog):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    finished_run(world.a.project, ["www.a.example"])
    client.force_login(world.a.consultant)
    settings.CACHES = DEAD_REDIS

    risks = client.get(reverse("checks:risks", args=[world.a.project.pk]))
    listing = client.get(reverse("projects:list"))
    overview = client.get(reverse("checks:monitoring_overview"))

    assert (risks.status_code, listing.status_code, overview.status_code) == (200, 200, 200)
    assert 'data-target="www.a.example"' in risks.content.decode()
    assert f'data-project="{world.a.project.pk}"' in listing.content.decode()
    assert f'data-project="{world.a.project.pk}"' in overview.content.decode()
    assert "fragment cache unavailable, rendering: ConnectionError" in caplog.text
