"""hardening.environments on recorded facts: staging and production keep separate secrets and
no secret carries a client prefix. Fingerprints are SHA-256 of made-up values; the check never
sees a value, only names and hashes."""

from __future__ import annotations

import hashlib

import pytest

from checks.engine.audit import spec_from_dict
from checks.engine.checks.deploys import hardening_apex
from checks.engine.checks.environments import client_prefix, secret_fingerprints, secret_named
from checks.engine.net.session import Net
from checks.engine.registry import Context, all_checks
from checks.engine.result import Result
from checks.engine.spec import EnvironmentFacts, HardeningFacts, ProjectSpec
from checks.sandbox import load_scenario
from tests.conftest import SCENARIOS

CHECK = "hardening.environments"


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _env(name: str, **variables: str) -> EnvironmentFacts:
    """An environment whose variables' fingerprints are the SHA-256 of the given values."""
    return EnvironmentFacts(name, tuple(sorted((k, _sha(v)) for k, v in variables.items())))


def _run(*environments: EnvironmentFacts) -> Result:
    project = ProjectSpec(name="Shop", apex="shop.test",
                          hardening=HardeningFacts(environments=tuple(environments)))
    check = {c.id: c for c in all_checks()}[CHECK]
    with Net() as net:  # the check reads facts only; it opens no connection
        result = check.run("shop.test", Context(net, project))
        assert net.counters()["connections_opened"] == 0
    return result


PRODUCTION = _env("production", STRIPE_SECRET_KEY="prod-stripe", DATABASE_PASSWORD="prod-db",
                  NODE_ENV="production")
STAGING = _env("staging", STRIPE_SECRET_KEY="test-stripe", DATABASE_PASSWORD="staging-db",
               NODE_ENV="production")


def test_separated_environments_pass():
    result = _run(STAGING, PRODUCTION)

    assert result.status == "pass"
    assert result.summary == ("2 secret-named production variables, none shared with staging; "
                              "no secret has a client prefix")
    assert result.evidence == {"environments": {"staging": 3, "production": 3}, "shared": {},
                               "client_exposed": [], "malformed": []}
    assert result.metrics == {"environments": 2, "shared": 0, "client_exposed": 0}


def test_a_secret_shared_by_staging_and_production_fails_naming_the_variable():
    staging = _env("staging", STRIPE_SECRET_KEY="prod-stripe", DATABASE_PASSWORD="staging-db",
                   NODE_ENV="production")

    result = _run(staging, PRODUCTION)

    assert result.status == "fail"
    assert result.summary == "STRIPE_SECRET_KEY has the same value in staging and production"
    assert result.evidence["shared"] == {"staging": ["STRIPE_SECRET_KEY"]}
    assert result.metrics == {"environments": 2, "shared": 1, "client_exposed": 0}
    assert result.remediation.startswith("Give staging its own keys")
    assert "prod-stripe" not in str(result.evidence) + result.summary


def test_a_renamed_copy_and_a_development_copy_are_found_by_value():
    staging = _env("staging", PAYMENTS_API_KEY="prod-stripe", SESSION_SECRET="s1", DB_PASSWORD="prod-db")
    development = _env("development", DATABASE_PASSWORD="prod-db")

    result = _run(development, staging, PRODUCTION)

    assert result.status == "fail"
    assert result.summary == (
        "DATABASE_PASSWORD has the same value in development and production; "
        "DB_PASSWORD (production: DATABASE_PASSWORD), PAYMENTS_API_KEY (production: STRIPE_SECRET_KEY) "
        "have the same value in staging and production")


def test_a_shared_value_that_is_no_secret_or_empty_is_not_a_failure():
    production = _env("production", NODE_ENV="production", API_TOKEN="", STRIPE_SECRET_KEY="p")
    staging = _env("staging", NODE_ENV="production", API_TOKEN="", STRIPE_SECRET_KEY="s")

    assert _run(staging, production).status == "pass"


def test_a_secret_with_a_client_prefix_fails_as_compiled_into_the_bundle():
    production = _env("production", NEXT_PUBLIC_STRIPE_SECRET="prod-stripe",
                      NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY="pk", VITE_ADMIN_TOKEN="t")

    result = _run(STAGING, production)

    assert result.status == "fail"
    assert result.summary == ("NEXT_PUBLIC_STRIPE_SECRET, VITE_ADMIN_TOKEN are compiled into the client "
                              "bundle (NEXT_PUBLIC_, VITE_ prefix)")
    assert result.evidence["client_exposed"] == ["NEXT_PUBLIC_STRIPE_SECRET", "VITE_ADMIN_TOKEN"]
    assert result.remediation.startswith("Rename the variable without the client prefix")


def test_shared_and_exposed_are_both_named():
    staging = _env("staging", STRIPE_SECRET_KEY="prod-stripe")
    production = _env("production", STRIPE_SECRET_KEY="prod-stripe", REACT_APP_API_SECRET="x")

    result = _run(staging, production)

    assert result.summary == ("STRIPE_SECRET_KEY has the same value in staging and production; "
                              "REACT_APP_API_SECRET is compiled into the client bundle (REACT_APP_ prefix)")
    assert result.metrics == {"environments": 2, "shared": 1, "client_exposed": 1}


def test_no_environment_recorded_warns():
    result = _run()

    assert result.status == "warn"
    assert result.summary == ("no environments recorded: whether staging and production share a secret "
                              "is unknown")
    assert result.metrics == {"environments": 0}
    assert result.remediation.startswith("Record the project's environments")


def test_only_production_or_no_staging_warns_that_deploys_cannot_be_tried_first():
    result = _run(PRODUCTION)

    assert (result.status, result.summary) == ("warn", "no staging environment recorded (production only): "
                                                        "deploys cannot be tried before production")
    development = _run(_env("development", STRIPE_SECRET_KEY="dev"), PRODUCTION)
    assert (development.status, development.summary) == (
        "warn", "no staging environment recorded (development, production only): deploys cannot be "
                "tried before production")


def test_no_production_or_no_variables_warns():
    assert (_run(STAGING).status, _run(STAGING).summary) == (
        "warn", "no production environment recorded (staging only): separation cannot be judged")
    empty = _run(EnvironmentFacts("staging"), PRODUCTION)
    assert (empty.status, empty.summary) == ("warn", "no variables posted for staging: separation cannot "
                                                     "be judged")


def test_malformed_fingerprints_are_left_out_and_listed():
    production = EnvironmentFacts("production", (("API_SECRET", "not-a-hash"), ("DB_PASSWORD", _sha("a"))))
    staging = EnvironmentFacts("staging", (("API_SECRET", "not-a-hash"), ("DB_PASSWORD", _sha("b"))))

    result = _run(staging, production)

    assert result.status == "pass"
    assert result.evidence["malformed"] == ["production:API_SECRET", "staging:API_SECRET"]


def test_it_plans_nothing_without_hardening_facts():
    assert hardening_apex(ProjectSpec(name="Shop", apex="shop.test")) == []
    with_facts = ProjectSpec(name="Shop", apex="shop.test", hardening=HardeningFacts())
    assert hardening_apex(with_facts) == ["shop.test"]


@pytest.mark.parametrize(("name", "secret", "prefix"), [
    ("STRIPE_SECRET_KEY", True, None),
    ("DATABASE_PASSWORD", True, None),
    ("GITHUB_TOKEN", True, None),
    ("JWT_PRIVATE_KEY", True, None),
    ("OPENAI_API_KEY", True, None),
    ("SENDGRID_APIKEY", True, None),
    ("GCP_CREDENTIALS", True, None),
    ("NEXT_PUBLIC_STRIPE_SECRET", True, "NEXT_PUBLIC_"),
    ("NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY", False, "NEXT_PUBLIC_"),
    ("NEXT_PUBLIC_SUPABASE_ANON_KEY", False, "NEXT_PUBLIC_"),
    ("VITE_FIREBASE_API_KEY", False, "VITE_"),  # a browser key: the bundle scan judges its value
    ("PUBLIC_KEY_PEM", False, "PUBLIC_"),
    ("EXPO_PUBLIC_SENTRY_DSN", False, "EXPO_PUBLIC_"),
    ("NUXT_PUBLIC_API_TOKEN", True, "NUXT_PUBLIC_"),
    ("GATSBY_ADMIN_PASSWORD", True, "GATSBY_"),
    ("REACT_APP_SECRET", True, "REACT_APP_"),
    ("NODE_ENV", False, None),
    ("PWD", False, None),
    ("DATABASE_URL", False, None),
])
def test_which_names_mark_a_secret_and_which_reach_the_browser(name, secret, prefix):
    assert (secret_named(name), client_prefix(name)) == (secret, prefix)


def test_secret_fingerprints_map_hashes_to_secret_named_variables_only():
    production = _env("production", STRIPE_SECRET_KEY="k", NODE_ENV="production", EMPTY_TOKEN="")
    staging = _env("staging", STRIPE_SECRET_KEY="k")

    assert secret_fingerprints((production, staging)) == {
        _sha("k"): ["production:STRIPE_SECRET_KEY", "staging:STRIPE_SECRET_KEY"]}


@pytest.mark.parametrize(("name", "status", "summary"), [
    ("environments-shared.yaml", "fail", "STRIPE_SECRET_KEY has the same value in staging and production"),
    ("environments-separated.yaml", "pass", "2 secret-named production variables, none shared with staging; "
                                            "no secret has a client prefix"),
    ("environments-client-prefix.yaml", "fail", "NEXT_PUBLIC_STRIPE_SECRET is compiled into the client "
                                                "bundle (NEXT_PUBLIC_ prefix)"),
])
def test_each_environment_scenario_gives_its_exact_verdict(name, status, summary):
    spec = spec_from_dict(load_scenario(SCENARIOS / "faults" / name).project)
    check = {c.id: c for c in all_checks()}[CHECK]

    [target] = check.targets(spec)
    with Net() as net:
        result = check.run(target, Context(net, spec))

    assert (target, str(result.status), result.summary) == (spec.apex, status, summary)
