"""Audits run by a real Celery worker on Redis and PostgreSQL, as in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import connection

from checks import services
from checks.models import AuditRun
from checks.sandbox import load_scenario
from launchready.celery import app
from projects.services import project_sync_from_scenario
from tests.conftest import DEMO_RISKS, DEMO_UNITS, REPO, SCENARIOS

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (make test sets it)"),
]


@pytest.fixture
def worker():
    """A real ``celery worker`` process on the test database and the test Redis."""
    app.control.purge()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "launchready", "worker", "-l", "warning",
         "--concurrency", "2", "-n", f"test-{os.getpid()}@%h",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=REPO, env=env, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        assert process.poll() is None, "the worker exited while starting"
        assert time.monotonic() < deadline, "the worker did not answer a ping within 60 s"
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    app.control.purge()


def wait_for(predicate, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"still waiting after {timeout_s} s")


def test_a_worker_runs_the_demo_audit_to_done_with_its_risks(worker):
    project = project_sync_from_scenario(load_scenario(SCENARIOS / "demo.yaml"))
    run = services.audit_start(project=project)  # dispatched on commit to the broker
    run = wait_for(lambda: AuditRun.objects.filter(pk=run.pk, state__in=["done", "error"]).first())
    assert (run.state, run.error) == ("done", "")
    assert run.results.count() == DEMO_UNITS
    assert sorted(run.results.filter(status__in=["fail", "warn"]).values_list("check_id", "target")) == [
        ("dns.resolves", "admin.clubhouse.test"),
        ("http.canonical_redirect", "clubhouse.test"),
        ("http.hsts", "app.clubhouse.test"),
        ("http.redirect_hops", "clubhouse.test"),
        ("tls.certificate", "api.clubhouse.test"),
    ]
    assert project.findings.count() == DEMO_RISKS


def test_a_run_whose_worker_is_killed_is_finished_as_error_by_the_sweeper(worker, tmp_path: Path, settings):
    data = yaml.safe_load((SCENARIOS / "demo.yaml").read_text())
    for host in data["hosts"].values():
        for route in host.get("https") or []:
            route["latency_ms"] = 8000  # long enough to kill the worker mid-run
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(data))
    project = project_sync_from_scenario(load_scenario(path))
    run = services.audit_start(project=project)
    wait_for(lambda: AuditRun.objects.filter(pk=run.pk, state="running").exists())
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    settings.AUDIT_STALE_AFTER_S = 1
    time.sleep(1.5)
    assert services.sweep_stale_audits() == 1
    run.refresh_from_db()
    assert run.state == "error"
    assert run.error == "the worker running this audit stopped answering; start the audit again"
