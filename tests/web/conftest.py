"""Fixtures for the web tests: stored runs and handover PDFs for both agencies of ``world``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connections

from checks.models import AuditRun, CheckResult, StageRun
from handover.models import HandoverDocument


@dataclass
class Stored:
    """What a side of the world has on record: a running audit, a finished one, a PDF."""

    running: AuditRun
    done: AuditRun
    document: HandoverDocument


def _stored(side, pdf: bytes) -> Stored:
    """A finished audit with one failing blocker and one error, a running audit with one of
    four checks recorded, and a kept handover PDF of ``pdf`` bytes."""
    project = side.project
    done = AuditRun.objects.create(project=project, state=AuditRun.State.DONE, planned_count=2)
    StageRun.objects.create(run=done, stage="edge", planned_count=2)
    CheckResult.objects.create(
        run=done, check_id="tls.certificate", stage="edge", impact="blocker",
        target=f"api.{project.apex_domain}", status="fail",
        summary=f"api.{project.apex_domain}: certificate expired 3 days ago",
        evidence={"days_left": -3}, remediation="Renew the certificate.",
    )
    CheckResult.objects.create(
        run=done, check_id="dns.resolves", stage="edge", impact="blocker",
        target=f"admin.{project.apex_domain}", status="error",
        summary="could not test: the resolver timed out after 3000 ms",
        evidence={"elapsed_ms": 3000},
    )
    running = AuditRun.objects.create(project=project, state=AuditRun.State.RUNNING, planned_count=4)
    StageRun.objects.create(run=running, stage="edge", planned_count=4)
    CheckResult.objects.create(
        run=running, check_id="dns.resolves", stage="edge", impact="blocker", target=project.apex_domain,
        status="pass", summary=f"{project.apex_domain} resolves",
    )
    document = HandoverDocument.objects.create(project=project, run=done, pdf=pdf, size_bytes=len(pdf))
    return Stored(running=running, done=done, document=document)


@pytest.fixture
def stored(world):
    """``{"a": Stored, "b": Stored}`` for the two agencies of ``world``."""
    return {
        "a": _stored(world.a, b"%PDF-1.7 handover of agency A"),
        "b": _stored(world.b, b"%PDF-1.7 handover of agency B"),
    }


# Debian's Chromium, driven by Playwright; no browser is ever downloaded. Without the
# background-networking flags it keeps calling out to a network this machine does not have.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch):
    """A headless Chromium (Debian's, through Playwright) for the browser tests."""
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the ORM calls made here
    # are ordinary synchronous test code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # While that loop runs, Django keeps this thread's connections in a context variable,
        # apart from its usual ones: close them, or they outlive the test database.
        connections.close_all()
