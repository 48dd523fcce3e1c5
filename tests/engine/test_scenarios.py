"""Every scenario file with an ``expect`` section is a test: its audit must give exactly the
expected status for each expected (check, target), and each of those units must exist."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from checks.engine.audit import run_audit, spec_from_dict
from checks.sandbox import Sandbox, load_scenario
from tests.conftest import SCENARIOS


def _with_expectations() -> list[Path]:
    paths = []
    for path in sorted(SCENARIOS.rglob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            paths.append(path)  # let the test report the broken file
            continue
        if isinstance(data, dict) and data.get("expect"):
            paths.append(path)
    return paths


SCENARIO_FILES = _with_expectations()


def test_the_scenario_directory_holds_the_known_traps_and_the_demo():
    names = {p.relative_to(SCENARIOS).as_posix() for p in SCENARIO_FILES}
    assert {"demo.yaml", "cases/DNS-01.yaml", "cases/HSTS-01.yaml", "cases/TLS-01.yaml"} <= names


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.relative_to(SCENARIOS).as_posix())
def test_the_scenario_audit_gives_every_expected_status(path: Path):
    scenario = load_scenario(path)
    spec = spec_from_dict(scenario.project)

    with Sandbox(scenario) as box:
        outcomes, _ = run_audit(spec, box.profile)

    actual = {(o.check_id, o.target): str(o.status) for o in outcomes}
    expected = {(check, target): status for check, targets in scenario.expect.items()
                for target, status in targets.items()}
    missing = sorted(set(expected) - set(actual))
    assert missing == [], f"expected units that the audit did not run: {missing}"
    assert {key: actual[key] for key in expected} == expected
