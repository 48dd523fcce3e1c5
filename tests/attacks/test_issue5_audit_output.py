"""The test accounts' passwords of a scenario never reach ``manage.py audit --json``, the
handover PDF (as text, through pdftotext), the stored results or the logs."""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess

import pytest
from django.core.management import call_command

from checks.models import CheckResult
from projects.models import TestAccount
from tests.conftest import SCENARIOS

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORDS = ("pw-alice", "pw-bob")


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs pdftotext")
def test_account_passwords_are_in_no_output_of_an_audit(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    pdf = tmp_path / "handover.pdf"
    out = io.StringIO()
    call_command("audit", "--scenario", str(SCENARIOS / "faults" / "cache-healthy.yaml"), "--json",
                 "--pdf", str(pdf), stdout=out)

    data = json.loads(out.getvalue())
    checks = {r["check"] for r in data["results"]}
    assert checks >= {"performance.cross_account", "performance.cache_personal"}
    assert TestAccount.objects.filter(label__in=("alice", "bob")).count() == 2
    stored = [json.dumps([r.summary, r.evidence, r.remediation, r.metrics])
              for r in CheckResult.objects.all()]
    pdf_text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for password in PASSWORDS:
        assert password not in out.getvalue()
        assert password not in pdf_text and password.encode() not in pdf.read_bytes()
        assert all(password not in s for s in stored)
        assert password not in caplog.text
        assert all(password not in a.secret_encrypted for a in TestAccount.objects.all())
