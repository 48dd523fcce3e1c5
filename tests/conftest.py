"""Shared fixtures: sandboxes from scenario data, and a two-agency world for tenancy tests.

The tenancy world (``world``) has two agencies, each with an owner, a consultant, a founder
and a project; plus an outsider in no agency. Every page is tried by the wrong user.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from checks.engine.net.session import Net
from checks.engine.registry import all_checks
from checks.engine.result import Stage
from checks.sandbox import Sandbox, load_scenario, parse_scenario

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "scenarios"

# The demo scenario's `expect` names the verdict of every unit of its audit (a test holds it
# to that), so the figures tests assert come from one place: the scenario file.
DEMO_EXPECT = {
    (check, target): status
    for check, targets in load_scenario(SCENARIOS / "demo.yaml").expect.items()
    for target, status in targets.items()
}
DEMO_UNITS = len(DEMO_EXPECT)
DEMO_COUNTS = {
    s: sum(1 for v in DEMO_EXPECT.values() if v == s) for s in ("pass", "warn", "fail", "error", "skipped")
}
# The risks (fail and warn units: the demo's four faults, the third seen by two checks) and the
# units per stage, in stage order: [("edge", n), ("email", m)].
DEMO_RISKS = DEMO_COUNTS["fail"] + DEMO_COUNTS["warn"]
_STAGE_OF = {c.id: c.stage for c in all_checks()}
DEMO_STAGES = [
    (str(stage), n) for stage in Stage
    if (n := sum(1 for check, _ in DEMO_EXPECT if _STAGE_OF[check] == stage))
]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """MD5 for the many users tests create: PBKDF2's cost (~0.5 s a user) is the point in
    production and only slowness here. Password hashing itself is Django's, not tested here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache(settings, request):
    """An empty cache of this test's own: the password-reset throttle counts in the cache
    (Redis when REDIS_URL is set), and counts left by another test or an earlier run must not
    throttle this one. (The sign-in lock-out counts in the database, rolled back per test.)"""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": request.node.nodeid}}
    # The test's own memory cache is on purpose: django-ratelimit's "not a shared cache" check
    # would otherwise stop every command a test runs with its system checks.
    settings.SILENCED_SYSTEM_CHECKS = [*settings.SILENCED_SYSTEM_CHECKS, "django_ratelimit.E003"]


@pytest.fixture
def sandbox():
    """``sandbox(data) -> (Sandbox, Net)``: start a sandbox from scenario data (a dict)."""
    started: list[tuple[Sandbox, Net]] = []

    def start(data: dict) -> tuple[Sandbox, Net]:
        box = Sandbox(parse_scenario(data))
        box.start()
        net = Net(box.profile)
        started.append((box, net))
        return box, net

    yield start
    for box, net in started:
        net.close()
        box.stop()


@dataclass
class Side:
    """One agency's people and project."""

    agency: object
    owner: object
    consultant: object
    founder: object
    project: object


@dataclass
class World:
    a: Side
    b: Side
    outsider: object


def _side(django_user_model, label: str, apex: str) -> Side:
    from projects.models import Agency, Endpoint, Membership, Project

    agency = Agency.objects.create(name=f"Agency {label.upper()}", slug=f"agency-{label}")
    people = {}
    for role in ("owner", "consultant", "founder"):
        user = django_user_model.objects.create_user(
            username=f"{role}-{label}", email=f"{role}-{label}@example.com", password="pw-123456789"
        )
        Membership.objects.create(
            user=user, agency=agency, role="client" if role == "founder" else role
        )
        people[role] = user
    project = Project.objects.create(
        agency=agency, name=f"Project {label.upper()}", client_name=f"Client {label.upper()}",
        apex_domain=apex, preferred_host=f"www.{apex}", rollback_notes="Roll back with `paas rollback`.",
    )
    Endpoint.objects.create(project=project, kind="homepage", url=f"https://www.{apex}/")
    project.founders.add(people["founder"])
    return Side(agency, people["owner"], people["consultant"], people["founder"], project)


@pytest.fixture
def world(db, django_user_model) -> World:
    outsider = django_user_model.objects.create_user(username="outsider", password="pw-123456789")
    return World(
        a=_side(django_user_model, "a", "alpha.example.com"),
        b=_side(django_user_model, "b", "bravo.example.com"),
        outsider=outsider,
    )


RFC7208_CASE = "test_rfc7208_suite.py::test_the_rfc7208_case_gives_an_accepted_result"


def pytest_terminal_summary(terminalreporter):
    """Print the RFC 7208 suite's count where CI shows it: "RFC 7208 suite: 203/203 cases pass"
    (a case with a failed or erroring phase does not pass)."""
    cases, broken = set(), set()
    for status in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(status, []):
            nodeid = getattr(report, "nodeid", "")
            if RFC7208_CASE in nodeid:
                cases.add(nodeid)
                if status != "passed":
                    broken.add(nodeid)
    if cases:
        terminalreporter.write_line(f"RFC 7208 suite: {len(cases) - len(broken)}/{len(cases)} cases pass")
