"""What a hostile target sends is stored as text: a NUL in a certificate name must not cost
the audit its results, on PostgreSQL, which refuses NUL in text and JSON."""

from __future__ import annotations

import pytest
import yaml

from checks import services
from checks.sandbox import load_scenario
from projects.services import project_sync_from_scenario

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_certificate_name_with_a_nul_byte_is_stored_escaped_and_the_audit_finishes(tmp_path):
    path = tmp_path / "nul.yaml"
    path.write_text(yaml.safe_dump({
        "project": {"apex": "nul.test", "subdomains": []},
        # Self-signed: built with cryptography directly, which takes any name (a CA's tooling
        # would refuse it; a hostile server serves whatever it likes).
        "hosts": {"nul.test": {"certificate": {"kind": "self_signed", "san": ["a\x00b.nul.test"]}}},
    }))
    project = project_sync_from_scenario(load_scenario(path))
    run = services.audit_start(project=project, dispatch=False)
    services.audit_execute(run.pk)
    run.refresh_from_db()

    assert run.state == "done"
    result = run.results.get(check_id="tls.certificate")
    assert result.status == "fail"
    assert result.summary == "nul.test serves a self-signed certificate"
    assert result.evidence["problems"][-1] == (
        "nul.test is not covered by the certificate's names: a\\x00b.nul.test"
    )
    assert result.evidence["chain"][0]["san_dns"] == ["a\\x00b.nul.test"]


def test_an_audit_that_fails_unexpectedly_ends_in_error_with_the_reason(tmp_path, monkeypatch):
    project = project_sync_from_scenario(load_scenario(
        _write(tmp_path, {"project": {"apex": "ok.test", "subdomains": []}, "hosts": {"ok.test": {}}})
    ))
    run = services.audit_start(project=project, dispatch=False)

    def broken(run_id, stage):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "stage_execute", broken)
    services.audit_execute(run.pk)
    run.refresh_from_db()

    assert (run.state, run.error) == ("error", "the audit failed: RuntimeError: disk on fire")


def _write(tmp_path, data):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
