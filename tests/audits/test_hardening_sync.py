"""A scenario's test accounts and stage 3 facts stored in the project's rows, and read back
by ``Project.spec()`` as the same engine facts (secrets only when asked, never in clear)."""

from __future__ import annotations

import pytest

from checks.sandbox.scenario import parse_scenario
from projects.models import DeployEvent, TestAccount
from projects.services import project_sync_from_scenario

pytestmark = pytest.mark.django_db

PROJECT = {
    "name": "Shop", "apex": "shop.test", "rollback_notes": "redeploy the previous tag",
    "endpoints": [
        {"kind": "profile", "url": "https://app.shop.test/me", "target_p95_ms": 150, "personal": False},
    ],
    "accounts": [{"label": "alice", "username": "a@shop.test", "password": "pw-alice"},
                 {"label": "bob", "login": "cookie", "cookie_name": "sid", "cookie": "c00k1e"}],
    "hardening": {
        "environments": {"staging": {"API_SECRET": "same"}, "production": {"API_SECRET": "same"}},
        "rollback_last_tried_days": 3,
        "deploys": [{"environment": "production", "version": "v7", "commit": "abc1234", "days_ago": 1,
                     "smoke": "fail"}],
        "repository": {"url": "https://git.shop.test/app.git"},
        "accepted_secrets": ["stripe:1234"],
    },
}


def test_the_scenario_facts_round_trip_through_the_database():
    project = project_sync_from_scenario(parse_scenario({"project": PROJECT}))

    stored = project.spec(secrets=True)
    plain = project.spec()

    assert [(a.label, a.login, a.secret) for a in stored.accounts] == [
        ("alice", "form", "pw-alice"), ("bob", "cookie", "c00k1e"),
    ]
    assert [a.secret for a in plain.accounts] == ["", ""]
    assert not TestAccount.objects.filter(secret_encrypted__contains="pw-alice").exists()
    facts = stored.hardening
    assert [(e.name, [n for n, _ in e.variables]) for e in facts.environments] == [
        ("staging", ["API_SECRET"]), ("production", ["API_SECRET"]),
    ]
    assert facts.environments[0].variables == facts.environments[1].variables
    assert round(facts.rollback_tried_age_s / 86400) == 3 and facts.rollback_steps
    assert [(d.environment, d.version, d.smoke_status, round(d.age_s / 86400)) for d in facts.deploys] == [
        ("production", "v7", "fail", 1),
    ]
    assert facts.accepted_secrets == frozenset({"stripe:1234"})
    assert facts.repository.url == "https://git.shop.test/app.git"
    assert [(e.target_p95_ms, e.is_personal) for e in stored.endpoints] == [(150, False)]
    assert DeployEvent.objects.get().commit == "abc1234"


def test_a_second_sync_replaces_the_rows_and_none_clears_them():
    project_sync_from_scenario(parse_scenario({"project": PROJECT}))
    project = project_sync_from_scenario(parse_scenario({"project": {"name": "Shop", "apex": "shop.test"}}))

    facts = project.spec().hardening
    assert (facts.environments, facts.deploys, facts.repository) == ((), (), None)
    assert facts.accepted_secrets == frozenset()
    assert facts.rollback_tried_age_s is None
    assert project.spec().accounts == ()
