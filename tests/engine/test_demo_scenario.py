"""The demo scenario: the engine finds exactly its four faults, ranked as a person would."""

from checks.engine.audit import run_audit, spec_from_dict
from checks.engine.risk import rank
from checks.engine.runner import plan
from checks.sandbox import Sandbox, load_scenario
from tests.conftest import DEMO_EXPECT, SCENARIOS


def test_the_demo_audit_ranks_its_four_faults_with_the_expired_api_certificate_first():
    scenario = load_scenario(SCENARIOS / "demo.yaml")
    spec = spec_from_dict(scenario.project)
    with Sandbox(scenario) as box:
        outcomes, _ = run_audit(spec, box.profile)
    risks = [(o.impact.value, o.status.value, o.check_id, o.target) for o in rank(outcomes, spec)]
    assert risks == [
        ("blocker", "fail", "tls.certificate", "api.clubhouse.test"),
        ("blocker", "fail", "dns.resolves", "admin.clubhouse.test"),
        ("high", "fail", "http.hsts", "app.clubhouse.test"),
        ("medium", "warn", "http.canonical_redirect", "clubhouse.test"),
        ("low", "warn", "http.redirect_hops", "clubhouse.test"),  # fault 3 again, from http://
    ]


def test_the_demo_expectations_name_every_unit_of_its_audit():
    scenario = load_scenario(SCENARIOS / "demo.yaml")
    planned = {u.key for u in plan(spec_from_dict(scenario.project))}
    assert set(DEMO_EXPECT) == planned
