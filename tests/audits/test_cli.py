"""``manage.py audit``: the whole product path from a shell, as `make demo` runs it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from tests.conftest import DEMO_COUNTS, DEMO_UNITS, SCENARIOS

pytestmark = pytest.mark.django_db(transaction=True)


def run_cli(*args: str) -> str:
    out = io.StringIO()
    call_command("audit", *args, stdout=out)
    return out.getvalue()


def test_the_json_output_holds_the_run_and_every_result_risks_first(tmp_path):
    pdf = tmp_path / "handover.pdf"
    data = json.loads(run_cli("--scenario", str(SCENARIOS / "demo.yaml"), "--json", "--pdf", str(pdf)))
    assert data["run"]["state"] == "done"
    assert data["run"]["counts"] == DEMO_COUNTS
    assert data["run"]["pdf"] == str(pdf.resolve())
    assert pdf.read_bytes().startswith(b"%PDF")
    first = data["results"][0]
    assert {k: first[k] for k in ("check", "stage", "target", "status", "impact", "metrics")} == {
        "check": "tls.certificate", "stage": "edge", "target": "api.clubhouse.test",
        "status": "fail", "impact": "blocker", "metrics": {"days_left": -3},
    }
    assert set(first) == {"check", "stage", "target", "status", "impact", "summary", "evidence",
                          "remediation", "metrics", "duration_ms"}
    assert [(r["check"], r["target"]) for r in data["results"][:4]] == [
        ("tls.certificate", "api.clubhouse.test"),
        ("dns.resolves", "admin.clubhouse.test"),
        ("http.hsts", "app.clubhouse.test"),
        ("http.canonical_redirect", "clubhouse.test"),
    ]
    assert len(data["results"]) == DEMO_UNITS


def test_the_text_output_prints_the_ranked_risk_list_and_the_pdf_path(tmp_path):
    pdf = tmp_path / "out.pdf"
    text = run_cli("--scenario", str(SCENARIOS / "demo.yaml"), "--pdf", str(pdf))
    assert text.startswith("Launch Ready audit #1 of Clubhouse (clubhouse.test): done in ")
    assert ", ".join(f"{n} {s}" for s, n in DEMO_COUNTS.items()) in text
    assert "Blockers left: 2" in text
    assert "  1. BLOCKER  fail  tls.certificate          api.clubhouse.test" in text
    assert "  4. MEDIUM   warn  http.canonical_redirect  clubhouse.test" in text
    assert f"\nHandover PDF: {pdf.resolve()}\n" in text
    assert text.rstrip().endswith(f"Scenario expectations: {DEMO_UNITS} of {DEMO_UNITS} met")


def test_auditing_the_same_scenario_twice_reuses_its_project():
    first = json.loads(run_cli("--scenario", str(SCENARIOS / "demo.yaml"), "--json"))
    second = json.loads(run_cli("--scenario", str(SCENARIOS / "demo.yaml"), "--json"))
    assert first["run"]["project"] == second["run"]["project"]
    assert second["run"]["id"] == first["run"]["id"] + 1
    assert (first["run"]["number"], second["run"]["number"]) == (1, 2)  # the project's 1st and 2nd


def test_a_stored_project_can_be_audited_by_its_id():
    first = json.loads(run_cli("--scenario", str(SCENARIOS / "demo.yaml"), "--json"))
    again = json.loads(run_cli("--project", str(first["run"]["project"]["id"]), "--json"))
    assert again["run"]["counts"] == first["run"]["counts"]


def test_a_missing_scenario_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(CommandError, match=rf"cannot use scenario: {missing}: cannot read \(No such file"):
        run_cli("--scenario", str(missing))


def test_a_scenario_that_is_not_yaml_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts: [unclosed\n")
    with pytest.raises(CommandError, match=r"cannot use scenario: .*bad.yaml: not valid YAML"):
        run_cli("--scenario", str(bad))


def test_a_scenario_with_a_malformed_apex_is_a_clear_error(tmp_path):
    bad = tmp_path / "apex.yaml"
    bad.write_text("project: {apex: 'exa mple..com'}\n")
    with pytest.raises(CommandError, match=r"cannot use scenario: 'exa mple..com' contains a space"):
        run_cli("--scenario", str(bad))


def test_an_unknown_project_id_is_a_clear_error():
    with pytest.raises(CommandError, match="no project with id 999999"):
        run_cli("--project", "999999")


def test_expectations_the_audit_does_not_meet_are_listed_and_fail_the_command(tmp_path):
    data = yaml.safe_load((SCENARIOS / "demo.yaml").read_text())
    data["expect"]["http.hsts"]["app.clubhouse.test"] = "pass"
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(data))
    out = io.StringIO()
    unmet = r"^1 of the scenario.s expectations not met \(http.hsts app.clubhouse.test: fail\)$"
    with pytest.raises(CommandError, match=unmet):
        call_command("audit", "--scenario", str(path), stdout=out)
    assert out.getvalue().rstrip().endswith(
        f"Scenario expectations: {DEMO_UNITS - 1} of {DEMO_UNITS} met\n"
        "  - http.hsts app.clubhouse.test: expected pass, got fail"
    )


def test_a_pdf_path_that_cannot_be_written_is_reported_and_the_risk_list_still_printed():
    out, err = io.StringIO(), io.StringIO()
    call_command("audit", "--scenario", str(SCENARIOS / "demo.yaml"), "--pdf", "/proc/x.pdf",
                 stdout=out, stderr=err)
    assert "  1. BLOCKER  fail  tls.certificate" in out.getvalue()
    assert "Handover PDF:" not in out.getvalue()
    assert err.getvalue().startswith("Could not write the PDF to /proc/x.pdf: ")
    assert Path("/proc/x.pdf").exists() is False


def test_a_scenario_endpoint_of_an_unknown_kind_is_a_clear_error(tmp_path):
    bad = tmp_path / "endpoint.yaml"
    bad.write_text("project: {apex: shop.test, endpoints: [{kind: foo, url: 'https://shop.test/'}]}\n")
    with pytest.raises(CommandError, match=r"cannot use scenario: endpoint 1: 'foo' is not a kind: use"):
        run_cli("--scenario", str(bad))
