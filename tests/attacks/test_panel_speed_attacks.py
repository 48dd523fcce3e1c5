"""Attacks on the panel speed work: cached risk cards, cached list rows, paging, sessions beside Redis,
the two-factor gate on loaded memberships, and the runner's LOAD count."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from checks.engine import runner
from checks.engine.registry import Check
from checks.engine.result import Impact, Result, Stage
from checks.models import AuditRun, CheckResult
from projects import team
from projects.models import Membership, Project

pytestmark = pytest.mark.django_db

REDIS = "redis://127.0.0.1:6379/10"  # a database of its own: the fixture empties it


def _finished_run(project) -> AuditRun:
    now = timezone.now()
    return AuditRun.objects.create(project=project, state=AuditRun.State.DONE, started_at=now,
                                   finished_at=now)


def _result(run, target: str, **fields) -> CheckResult:
    values = {"check_id": "http.hsts", "stage": "edge", "impact": "high", "status": "fail",
              "summary": f"HSTS on {target}", "evidence": {"target": target}}
    values.update(fields)
    return CheckResult.objects.create(run=run, target=target, **values)


def _risk_targets(html: str) -> list[str]:
    ranked = html.split('<ol class="risks" id="risks">')[1].split("</ol>")[0]
    return re.findall(r'<li class="risk [^"]*" data-check="[^"]*" data-target="([^"]+)"', ranked)


# 1. Risk cards -------------------------------------------------------------------------------

def test_the_fix_order_follows_a_changed_apex_domain_on_a_cached_page(client, world):
    """The order ranks by reach (the project's apex and canonical host): changing them through
    the project's settings must reorder the cached cards too."""
    cache.clear()
    project = world.a.project  # apex alpha.example.com
    run = _finished_run(project)
    _result(run, "app.alpha.example.com")  # reach 3 under alpha
    _result(run, "www.bravo.example.net")  # reach 2: not under alpha
    client.force_login(world.a.consultant)
    url = reverse("checks:risks", args=[project.pk])
    assert _risk_targets(client.get(url).content.decode()) == ["app.alpha.example.com",
                                                               "www.bravo.example.net"]

    Project.objects.filter(pk=project.pk).update(apex_domain="bravo.example.net",
                                                 preferred_host="www.bravo.example.net")

    # www.bravo is now the canonical host (reach 4), app.alpha an outside name (reach 2).
    assert _risk_targets(client.get(url).content.decode()) == ["www.bravo.example.net",
                                                               "app.alpha.example.com"]


def test_a_result_rewritten_in_place_after_the_run_ended_shows_its_new_text(client, world):
    """``result_record`` is ``update_or_create`` on (run, check, target): a redelivered stage
    racing the sweeper rewrites a result of an ended run with the same id and status."""
    cache.clear()
    run = _finished_run(world.a.project)
    result = _result(run, "www.alpha.example.com", summary="first words", evidence={"n": 1})
    client.force_login(world.a.consultant)
    url = reverse("checks:risks", args=[world.a.project.pk])
    assert "first words" in client.get(url).content.decode()

    CheckResult.objects.filter(pk=result.pk).update(summary="second words", evidence={"n": 2},
                                                   remediation="do this", impact="blocker")

    html = client.get(url).content.decode()
    assert "second words" in html and "first words" not in html
    assert "do this" in html and "impact-blocker" in html


# 2. Cached rows: escaping ---------------------------------------------------------------------

def test_names_stored_as_html_are_escaped_in_cached_rows(client, world):
    cache.clear()
    world.a.agency.name = "<b>Ag</b>"
    world.a.agency.save()
    Project.objects.filter(pk=world.a.project.pk).update(name="<script>alert(1)</script>",
                                                         client_name="<img src=x onerror=alert(2)>")
    client.force_login(world.a.owner)
    for url in (reverse("projects:list"), reverse("checks:monitoring_overview")):
        for _ in range(2):  # rendered, then from the cache
            html = client.get(url).content.decode()
            assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
            assert "<img src=x" not in html
            assert "<b>Ag</b>" not in html


# 3. Paging -----------------------------------------------------------------------------------

@pytest.mark.parametrize("page", ["abc", "-1", "0", "99999", "9" * 5000, "1e3", "1.5", "", "%00"])
def test_bad_page_values_answer_a_page_of_ones_own_projects(client, world, page):
    client.force_login(world.a.owner)
    for url in (reverse("projects:list"), reverse("checks:monitoring_overview")):
        response = client.get(url, {"page": page})
        assert response.status_code == 200
        html = response.content.decode()
        assert "Project A" in html and "Project B" not in html


def test_pages_keep_to_the_agency_chosen_in_the_header(client, world):
    Membership.objects.create(user=world.a.consultant, agency=world.b.agency, role="consultant")
    for n in range(55):
        Project.objects.create(agency=world.b.agency, name=f"B{n:02}", apex_domain=f"b{n}.example.org")
    client.force_login(world.a.consultant)
    client.post(reverse("agency:switch", args=[world.a.agency.pk]))
    for page in ("1", "2"):
        html = client.get(reverse("projects:list"), {"page": page}).content.decode()
        assert "Project A" in html and "B00" not in html and "Page 2" not in html
    client.post(reverse("agency:switch", args=[world.b.agency.pk]))
    second = client.get(reverse("projects:list"), {"page": "2"}).content.decode()
    assert "Project A" not in second and "Page 2 of 2" in second


# 4. Sessions with Redis as the cache -----------------------------------------------------------
# Sessions stay in the database (launchready/settings.py): a Redis copy (cached_db) would outlive
# a sign-out made while Redis is unreachable and sign the cookie in again when Redis returns.

@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": REDIS, "KEY_PREFIX": "attacker-test"}}
    live = settings.CACHES
    yield live
    settings.CACHES = live  # a test may have pointed it at a closed port
    cache.clear()


def _signed_in(client, user) -> str:
    client.force_login(user)
    assert client.get(reverse("projects:list")).status_code == 200
    return client.cookies["sessionid"].value


def test_removal_from_the_last_agency_ends_the_session(client, world, redis_cache):
    key = _signed_in(client, world.a.founder)
    team.remove_member(world.a.agency, Membership.objects.get(user=world.a.founder))
    assert not Session.objects.filter(pk=key).exists()
    assert client.get(reverse("projects:list")).status_code == 302


def test_a_cookie_replayed_after_sign_out_or_the_2fa_key_change_is_signed_out(client, world, redis_cache):
    key = _signed_in(client, world.a.owner)
    client.post(reverse("logout"))
    client.cookies["sessionid"] = key  # replay the old cookie
    assert client.get(reverse("projects:list")).status_code == 302

    key = _signed_in(client, world.a.owner)
    session = client.session
    session.cycle_key()  # what twofactor.views.verify does on success
    assert not Session.objects.filter(pk=key).exists()


def test_a_password_change_signs_out_other_sessions(client, world, redis_cache):
    from django.test import Client

    other = Client()
    _signed_in(other, world.a.owner)
    world.a.owner.set_password("a-new-password-123")
    world.a.owner.save()
    assert other.get(reverse("projects:list")).status_code == 302


# 6. Two-factor gate ------------------------------------------------------------------------------

def test_staff_of_a_requiring_agency_is_sent_to_enrol_on_every_path(client, world):
    world.a.agency.require_two_factor = True
    world.a.agency.save()
    client.force_login(world.a.consultant)
    assert client.get(reverse("projects:list"))["Location"].startswith(reverse("twofactor:enroll"))
    assert client.get("/api/v1/projects/").status_code == 403
    # A second agency (not requiring) chosen in the header changes nothing.
    Membership.objects.create(user=world.a.consultant, agency=world.b.agency, role="consultant")
    client.cookies.clear()
    client.force_login(world.a.consultant)
    session = client.session
    session["current_agency_id"] = world.b.agency.pk
    session.save()
    assert client.get(reverse("projects:list"))["Location"].startswith(reverse("twofactor:enroll"))


# 7. Runner LOAD -----------------------------------------------------------------------------------

def _check(check_id: str, run, timeout_s: float, measures_latency: bool = False) -> Check:
    return Check(check_id, Stage.EDGE, Impact.LOW, check_id, run, lambda p: ["t"], timeout_s, False,
                 measures_latency)


def test_a_unit_left_behind_does_not_hold_every_later_p95_for_its_wait():
    """A unit past its timeout is recorded as error and left behind; it must stop counting as
    load then, or one hung check makes each later p95 in the process wait the full 60 s."""
    release = threading.Event()

    def hangs(target, ctx):
        release.wait(30)
        return Result.passed("late")

    before = runner.LOAD.wait_for_quiet(0)
    try:
        outcomes = runner.run_units([runner.Unit(_check("x.hang", hangs, 0.2), "t")], ctx=None)
        assert [o.status for o in outcomes] == ["error"]
        started = time.monotonic()
        assert runner.wait_for_quiet(1.0) == before
        assert time.monotonic() - started < 0.5
    finally:
        release.set()
    time.sleep(0.2)
    assert runner.LOAD.wait_for_quiet(0) == before  # never negative once the thread ends




def _unreachable(settings) -> dict:
    """Point the cache at a closed port (the same prefix); returns the live settings."""
    live = settings.CACHES
    settings.CACHES = {"default": {**live["default"], "LOCATION": "redis://127.0.0.1:1/10"}}  # refused
    return live


def test_signed_in_pages_sign_in_and_sign_out_work_while_redis_is_unreachable(world, redis_cache, settings):
    """docs/security.md: "Redis down is slower, not broken" (with cached_db sessions, Django
    wrote the copy back unguarded when loading a session: every signed-in page answered 500)."""
    from django.test import Client

    client = Client(raise_request_exception=False)
    _signed_in(client, world.a.owner)
    _unreachable(settings)
    assert client.get(reverse("projects:list")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("projects:list")).status_code == 302

    fresh = Client(raise_request_exception=False)
    response = fresh.post(reverse("login"), {"username": "owner-a", "password": "pw-123456789"})
    assert response.status_code == 302 and fresh.get(reverse("projects:list")).status_code == 200


def test_a_sign_out_while_redis_is_unreachable_is_not_undone_when_it_comes_back(world, redis_cache, settings):
    from django.test import Client

    client = Client(raise_request_exception=False)
    key = _signed_in(client, world.a.owner)
    live = _unreachable(settings)
    client.post(reverse("logout"))
    settings.CACHES = live
    client.cookies["sessionid"] = key  # a copy of the cookie taken before the sign-out
    assert client.get(reverse("projects:list")).status_code == 302
