"""Scenario ``project.accounts`` and ``project.hardening`` as engine facts."""

from __future__ import annotations

import hashlib

import pytest

from checks.engine.audit import spec_from_dict
from checks.engine.spec import DeployFacts, EnvironmentFacts, HardeningFacts, RepositorySource, TestAccount

DIGEST = "ab" * 32


def test_accounts_hardening_and_endpoint_targets_become_facts():
    spec = spec_from_dict({
        "apex": "shop.test", "rollback_notes": "redeploy the previous tag",
        "endpoints": [{"kind": "feed", "url": "https://app.shop.test/feed", "target_p95_ms": 200},
                      {"kind": "content", "url": "https://shop.test/c", "personal": True}],
        "accounts": [{"label": "alice", "username": "a@shop.test", "password": "pw"},
                     {"label": "api", "login": "bearer", "token": "tok"}],
        "hardening": {
            "environments": {"production": {"STRIPE_SECRET_KEY": "sk", "DEBUG": f"sha256:{DIGEST}"}},
            "rollback_last_tried_days": 2,
            "deploys": [{"environment": "staging", "version": "v1", "days_ago": 3, "smoke": "fail"},
                        {"version": "v2", "days_ago": 1, "smoke": "pass"}],
            "repository": {"url": "https://git.shop.test/app.git"},
            "accepted_secrets": ["f1"],
        },
    })

    assert [(e.target_p95_ms, e.is_personal) for e in spec.endpoints] == [(200, True), (300, True)]
    assert spec.accounts == (
        TestAccount(label="alice", username="a@shop.test", secret="pw"),
        TestAccount(label="api", login="bearer", secret="tok"),
    )
    assert spec.hardening == HardeningFacts(
        environments=(EnvironmentFacts("production", (
            ("DEBUG", DIGEST), ("STRIPE_SECRET_KEY", hashlib.sha256(b"sk").hexdigest()),
        )),),
        rollback_steps=True, rollback_tried_age_s=2 * 86400.0,
        deploys=(DeployFacts("deploy", "production", "v2", 86400.0, "pass"),
                 DeployFacts("deploy", "staging", "v1", 3 * 86400.0, "fail")),
        accepted_secrets=frozenset({"f1"}),
        repository=RepositorySource(url="https://git.shop.test/app.git"),
    )
    assert "pw" not in repr(spec.accounts) and "tok" not in repr(spec.accounts)


def test_no_hardening_key_means_no_stage_3_facts():
    assert spec_from_dict({"apex": "shop.test"}).hardening is None
    assert spec_from_dict({"apex": "shop.test", "hardening": None}).hardening == HardeningFacts()


@pytest.mark.parametrize(("project", "message"), [
    ({"accounts": [{"label": "a", "login": "magic"}]},
     "account 1: login 'magic' must be one of form, cookie, bearer"),
    ({"accounts": [{"label": "a"}, {"label": "a"}]}, "the project's accounts need distinct labels"),
    ({"accounts": [{"pasword": "x"}]}, "account 1 has unknown keys ['pasword']"),
    ({"hardening": {"environments": {"prod": {}}}}, "hardening.environments: 'prod' must be one of"),
    ({"hardening": {"environments": {"staging": {"BAD NAME": "x"}}}}, "'BAD NAME' is not a variable name"),
    ({"hardening": {"rollback_last_tried_days": -1}}, "rollback_last_tried_days must be a number"),
    ({"hardening": {"deploys": [{"smoke": "ok"}]}}, "deploy 1: kind must be one of deploy, rollback"),
    ({"hardening": {"repository": "git@x"}}, "hardening.repository must be {url: https://…}"),
    ({"hardening": {"colour": 1}}, "the project's hardening has unknown keys ['colour']"),
    ({"endpoints": [{"kind": "feed", "url": "https://shop.test/", "target_p95_ms": 0}]},
     "endpoint 1: target_p95_ms 0 must be whole milliseconds, 1 to 60000"),
    ({"endpoints": [{"kind": "feed", "url": "https://shop.test/", "personal": "yes"}]},
     "endpoint 1: personal 'yes' must be true, false or left out"),
])
def test_bad_facts_are_refused_with_the_place(project, message):
    with pytest.raises(ValueError) as caught:
        spec_from_dict({"apex": "shop.test", **project})

    assert message in str(caught.value)
