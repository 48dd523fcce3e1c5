"""Attacks on two changes of one commit: audit runs numbered within their project
(``checks.models.AuditRun.save`` / ``_next_number``, migrations checks 0006-0008, shown on pages,
PDF, API and CLI instead of the global id), and the monitor scheduler leaving the CLI's Sandbox
agency alone (``checks.monitoring.scheduler.claim_due``).

Tried: a run's id still read as its number somewhere a tenant looks; runs of one project started
at once next to other writers that lock the project row, inside outer transactions, rolled back;
another agency's runs, a deleted and re-created project, ``bulk_create``, a ``number`` sent to the
API; the backfill across its batch boundaries; an agency that names itself "Sandbox" on sign-up.

Two were broken and are fixed, each with its test here: "Send test mails" pressed while one is
sending answered "run #<id>" (now the run's label), and an agency signing up as "Sandbox" got the
slug ``sandbox`` — its monitors were then never probed and the CLI's scenario projects landed in
it (``sandbox`` is now reserved). The rest hold."""

from __future__ import annotations

import importlib
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import IntegrityError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from checks import services
from checks.models import AuditRun, CheckResult, Monitor
from checks.monitoring import scheduler
from checks.monitoring.scheduler import Claim, claim_due
from checks.sandbox import load_scenario
from handover.services import handover_create, handover_render
from launchready.api.keys import key_create
from projects.findings import findings_sync
from projects.models import Agency, Finding, FindingEvent, Project
from projects.services import SANDBOX_AGENCY, project_sync_from_scenario
from projects.signup import sign_up
from tests.concurrency import at_once, failures
from tests.conftest import SCENARIOS
from tests.handover.pdf import flat, pdf_text
from tests.web.test_mail_attacks import mail_run, with_smtp

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OTHER_AGENCYS_RUNS = 30  # made first, so agency A's ids (31 …) can never pass for its numbers (1 …)
BEFORE = ("checks", "0006_auditrun_number")
NUMBERED = ("checks", "0008_auditrun_number_required")
BACKFILL = importlib.import_module("checks.migrations.0007_number_existing_runs")
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="row locks between connections are PostgreSQL's")


def numbers(project) -> list[int]:
    return list(AuditRun.objects.filter(project=project).order_by("pk").values_list("number", flat=True))


def shown_text(html: str) -> str:
    """What a reader sees of ``html``: no style or script blocks, no attribute values (URLs and
    ``data-run`` keep the id by design)."""
    html = re.sub(r"<(style|script)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"""\s[\w:-]+=("[^"]*"|'[^']*')""", "", html)


def ids_shown_as_numbers(text: str, runs: list[AuditRun]) -> list[str]:
    """Each ``#<id>`` of ``runs`` in ``text`` (an id read as an audit's number)."""
    return [m.group(0) for r in runs for m in re.finditer(rf"#\s?{r.pk}(?!\d)", text)]


# --- 1. the id where a person reads "the audit number" ------------------------------------------


@pytest.fixture
def audited(world):
    """Agency B ran 30 audits first. Agency A: a full audit that opened two findings (one a
    secret in the repository) and a handover PDF of it, a mail test, then a quick audit that
    fixed one finding; and a queued audit."""
    for _ in range(OTHER_AGENCYS_RUNS):
        AuditRun.objects.create(project=world.b.project, state=AuditRun.State.DONE)
    project = with_smtp(world.a.project)
    full = AuditRun.objects.create(project=project, state=AuditRun.State.DONE, finished_at=timezone.now())
    for check_id, stage, target, summary in (
        ("tls.certificate", "edge", f"api.{project.apex_domain}", "certificate expired 3 days ago"),
        ("hardening.secrets_repo", "hardening", project.apex_domain, "1 secret in the repository"),
    ):
        CheckResult.objects.create(run=full, check_id=check_id, stage=stage, impact="blocker", target=target,
                                   status="fail", summary=summary)
    findings_sync(full)
    handover_create(project=project, run=full)
    mails = mail_run(project)
    quick = AuditRun.objects.create(project=project, state=AuditRun.State.DONE, quick=True,
                                    finished_at=timezone.now())
    CheckResult.objects.create(run=quick, check_id="tls.certificate", stage="edge", impact="blocker",
                               target=f"api.{project.apex_domain}", status="pass",
                               summary="valid for 80 days")
    findings_sync(quick)
    queued = services.audit_start(project=project, dispatch=False)
    runs = [full, mails, quick, queued]
    assert [r.number for r in runs] == [1, 2, 3, 4] and full.pk > OTHER_AGENCYS_RUNS
    return runs


@pytest.mark.django_db
def test_no_page_pdf_or_api_answer_shows_a_run_id_as_an_audit_number(client, world, audited):
    """Guards against: a page, the PDF or the API still saying "audit #31" where the project's
    audit #1 is meant (the id counts every agency's runs)."""
    full, mails, quick, queued = audited
    project = world.a.project
    client.force_login(world.a.owner)
    finding = project.findings.get(check_id="tls.certificate")
    pages = {
        "project": reverse("projects:detail", args=[project.pk]),
        "risks": reverse("checks:risks", args=[project.pk]),
        "finding": reverse("projects:finding", args=[project.pk, finding.pk]),
        "secrets": reverse("secrets:page", args=[project.pk]),
        **{f"run {r.number}": reverse("checks:run", args=[r.pk]) for r in audited},
        **{f"progress {r.number}": reverse("checks:progress", args=[r.pk]) for r in audited},
    }
    shown = {}
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        shown[name] = shown_text(response.content.decode())
    shown["pdf"] = flat(pdf_text(handover_render(project, quick)))
    key = key_create(agency=world.a.agency, name="CI", scope="write", created_by=world.a.owner)[1]
    api = {"Authorization": f"Bearer {key}"}
    listed = client.get(f"/api/v1/projects/{project.pk}/audits/", headers=api)
    detail = client.get(f"/api/v1/audits/{full.pk}/", headers=api)
    started = client.post(f"/api/v1/projects/{project.pk}/audits/", {"quick": True, "number": 1},
                          content_type="application/json", headers=api)
    shown["api"] = listed.content.decode() + detail.content.decode() + started.content.decode()

    assert {name: ids_shown_as_numbers(text, audited) for name, text in shown.items()
            if ids_shown_as_numbers(text, audited)} == {}
    assert [(r["id"], r["number"], r["label"]) for r in listed.json()["results"]] == [
        (queued.pk, 4, "Audit #4"), (quick.pk, 3, "Quick audit #3"), (mails.pk, 2, "Mail test #2"),
        (full.pk, 1, "Audit #1")]
    assert started.status_code == 202 and started.json()["number"] == 5  # a "number" sent is ignored
    assert "Audit #3 passed: valid for 80 days" in shown["finding"]
    assert "audit #1 →" in shown["secrets"]
    assert "(audit #2," in shown["pdf"]  # the mail test's paragraph


@pytest.mark.django_db
def test_send_test_mails_while_one_is_sending_names_it_by_its_number(client, world, monkeypatch):
    """Was broken: the message said "(run #31)", the run's id, where every other place says
    "Mail test #1"."""
    monkeypatch.setattr(services, "_dispatch", lambda run_id: None)  # the first stays queued
    for _ in range(OTHER_AGENCYS_RUNS):
        AuditRun.objects.create(project=world.b.project)
    project = with_smtp(world.a.project)
    client.force_login(world.a.consultant)

    client.post(reverse("checks:test_mails", args=[project.pk]))
    response = client.post(reverse("checks:test_mails", args=[project.pk]))

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Test mails are already being sent (Mail test #1)."]


# --- 2. numbering under concurrency (real PostgreSQL, one connection per thread) ----------------


@pytest.mark.django_db(transaction=True)
@postgresql_only
def test_runs_started_next_to_every_writer_that_locks_the_project_row_neither_deadlock_nor_twin(world):
    """Guards against: a deadlock or a duplicate number when, for one project, audits start
    (``audit_start``), "Send test mails" holds the project row ``FOR UPDATE`` around its own
    start, finished runs are synced (``findings_sync`` locks the project after updating its
    run) and the project itself is edited, all at once."""
    project = world.a.project
    finished = [AuditRun.objects.create(project=project, state=AuditRun.State.RUNNING) for _ in range(6)]
    for run in finished:
        CheckResult.objects.create(run=run, check_id="tls.certificate", stage="edge", impact="blocker",
                                   target=f"api.{project.apex_domain}", status="fail", summary="expired")

    def starts() -> None:
        for _ in range(6):
            services.audit_start(project=project, dispatch=False)

    def mail_tests() -> None:  # the shape of checks.views.send_test_mails
        for _ in range(6):
            with transaction.atomic():
                Project.objects.select_for_update().filter(pk=project.pk).first()
                AuditRun.objects.create(project=project, check_ids=["email.transactional"])

    def finalize(runs) -> None:
        for run in runs:
            services.audit_finalize(run.pk)

    def edits() -> None:
        for n in range(12):
            with transaction.atomic():
                Project.objects.filter(pk=project.pk).update(client_name=f"Client {n}")
                Monitor.objects.create(project=project, name=f"m{n}", url="http://127.0.0.1:9/")

    errors = failures(at_once(starts, starts, mail_tests, lambda: finalize(finished[:3]),
                              lambda: finalize(finished[3:]), edits))

    assert errors == []
    assert sorted(numbers(project)) == list(range(1, 6 + 18 + 1))
    assert AuditRun.objects.filter(project=project, state=AuditRun.State.DONE).count() == 6


@pytest.mark.django_db(transaction=True)
@postgresql_only
def test_rows_that_only_point_at_the_project_neither_wait_for_a_run_start_nor_hold_it_up(world):
    """Guards against: the project row locked ``FOR UPDATE`` (not ``FOR NO KEY UPDATE``) by a
    run start, so that every insert pointing at the project (a monitor, a finding) waits for it,
    or the start waits for them."""
    project = world.a.project
    holding, release, done = threading.Event(), threading.Event(), {}

    def hold(make) -> None:
        with transaction.atomic():
            make()
            holding.set()
            release.wait(10)

    def timed(name, make) -> None:
        holding.wait(10)
        started = timezone.now()
        make()
        done[name] = (timezone.now() - started).total_seconds()

    def new_monitor() -> None:
        Monitor.objects.create(project=project, name="Homepage", url="http://127.0.0.1:9/")

    def new_run() -> None:
        AuditRun.objects.create(project=project)

    for held, other, name in ((new_run, new_monitor, "monitor"), (new_monitor, new_run, "run")):
        holding.clear()
        release.clear()
        threads = [threading.Thread(target=lambda h=held: (hold(h), connections.close_all())),
                   threading.Thread(target=lambda o=other, n=name: (timed(n, o), connections.close_all()))]
        for thread in threads:
            thread.start()
        threads[1].join(5)
        release.set()
        for thread in threads:
            thread.join(10)
        assert done.get(name, 99) < 2, f"a new {name} waited for the other transaction"
    assert numbers(project) == [1, 2]


@pytest.mark.django_db
def test_a_run_rolled_back_with_its_outer_transaction_leaves_no_gap(world):
    project = world.a.project
    AuditRun.objects.create(project=project)
    with pytest.raises(RuntimeError), transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()  # another lock held too
        assert services.audit_start(project=project, dispatch=False).number == 2
        raise RuntimeError("the outer work failed")

    assert AuditRun.objects.create(project=project).number == 2
    assert numbers(project) == [1, 2]


# --- 3. other agencies, other projects, paths that skip save() ----------------------------------


@pytest.mark.django_db
def test_another_agency_and_a_re_created_project_number_on_their_own(world):
    for _ in range(3):
        AuditRun.objects.create(project=world.a.project)
    gone = world.b.project
    AuditRun.objects.create(project=gone)
    gone.delete()  # its runs go with it
    again = Project.objects.create(agency=world.b.agency, name=gone.name, apex_domain=gone.apex_domain)

    assert AuditRun.objects.create(project=again).number == 1
    assert AuditRun.objects.create(project=world.a.project).number == 4
    assert numbers(world.a.project) == [1, 2, 3, 4]


@pytest.mark.django_db
def test_a_bulk_created_run_without_a_number_is_refused_at_once_not_stored_blank(world):
    """``bulk_create`` skips ``save``: a run without a number must fail there, not later on a
    page that prints "Audit #None"."""
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditRun.objects.bulk_create([AuditRun(project=world.a.project)])
    with pytest.raises(IntegrityError), transaction.atomic():  # nor a number twice
        AuditRun.objects.create(project=world.a.project)
        AuditRun.objects.bulk_create([AuditRun(project=world.a.project, number=1)])
    assert AuditRun.objects.count() == 0


# --- 4. the backfill --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_backfill_numbers_runs_across_its_batch_boundaries_and_equal_instants(world, monkeypatch):
    """Guards against: a batch written twice or a project's count carried across a batch
    boundary; ties in ``created_at`` across projects."""
    monkeypatch.setattr(BACKFILL, "BATCH", 2)
    a, b = world.a.project.pk, world.b.project.pk
    c = Project.objects.create(agency=world.a.agency, name="No runs", apex_domain="charlie.example.com").pk
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        Run = executor.loader.project_state([BEFORE]).apps.get_model("checks", "AuditRun")
        made = [(b, 0), (a, 0), (b, 0), (a, 0), (a, 1), (b, 2), (a, 0), (b, 1)]  # minutes after T0
        ids = []
        for project_id, minutes in made:
            run = Run.objects.create(project_id=project_id)
            Run.objects.filter(pk=run.pk).update(created_at=T0 + timedelta(minutes=minutes))
            ids.append(run.pk)
    finally:
        executor.loader.build_graph()
        executor.migrate([NUMBERED])
    got = dict(AuditRun.objects.values_list("pk", "number"))
    assert [got[pk] for pk in ids] == [1, 1, 2, 2, 4, 4, 3, 3]
    assert [AuditRun.objects.create(project_id=p).number for p in (a, b, c)] == [5, 5, 1]


@pytest.mark.django_db(transaction=True)
def test_the_backfill_renames_the_runs_an_audits_event_texts_named_by_id(world):
    """Was broken: the findings' history kept "Audit #31 passed: …" under the heading
    "Audit #1": every existing finding page still read the id as the audit's number."""
    project = world.a.project
    finding = Finding.objects.create(project=project, check_id="tls.certificate",
                                     target="api.alpha.example.com", impact="blocker", stage="edge")
    for _ in range(OTHER_AGENCYS_RUNS):
        AuditRun.objects.create(project=world.b.project)
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        Run = executor.loader.project_state([BEFORE]).apps.get_model("checks", "AuditRun")
        first, second = (Run.objects.create(project_id=project.pk).pk for _ in range(2))
        texts = [
            (None, first, f"Audit #{first}: fail: expired; see ticket #{first}"),
            (None, second, f"Claimed fixed, but audit #{second} still fails: expired"),
            (None, second, f"The acceptance expired on 2026-11-01 and audit #{second} still fails: x"),
            (None, second, f"Audit #{second}0 passed: not this run's id"),
            (world.a.owner, second, f"Audit #{second} looked wrong to me"),  # a person's words
        ]
        events = [FindingEvent.objects.create(finding=finding, actor=actor, run_id=run_id, kind="status",
                                              text=text) for actor, run_id, text in texts]
    finally:
        executor.loader.build_graph()
        executor.migrate([NUMBERED])

    assert [FindingEvent.objects.get(pk=e.pk).text for e in events] == [
        f"Audit #1: fail: expired; see ticket #{first}",
        "Claimed fixed, but audit #2 still fails: expired",
        "The acceptance expired on 2026-11-01 and audit #2 still fails: x",
        f"Audit #{second}0 passed: not this run's id",
        f"Audit #{second} looked wrong to me",
    ]


# --- 5. the Sandbox agency --------------------------------------------------------------------


def signed_up(agency_name: str, email: str) -> Agency:
    sign_up(agency_name=agency_name, email=email, password="Correct-horse-battery-9")
    return Agency.objects.get(memberships__user__username=email)


def claim_row_by_row(*, now: datetime) -> list[Claim]:
    return scheduler._claim_row_by_row(now, scheduler.CLAIM_LIMIT)


@pytest.mark.parametrize("claim", [claim_due, claim_row_by_row], ids=["one-statement", "row-by-row"])
@pytest.mark.django_db
def test_an_agency_that_signs_up_as_sandbox_is_monitored_like_any_other(claim, settings):
    """Was broken: "Sandbox" (or "SANDBOX", "sandbox!") slugified to ``sandbox``, the CLI's
    agency: the scheduler then never probed that real agency's monitors — a silent outage, the
    dashboard just stale — and ``manage.py audit --scenario`` synced its scenario projects into
    that agency, where its people saw them."""
    settings.SANDBOX_ENABLED = True
    agencies = [signed_up(name, f"owner{n}@example.com")
                for n, name in enumerate(["Sandbox", "SANDBOX", "sandbox!"])]
    assert [a.slug for a in agencies] == ["sandbox-2", "sandbox-3", "sandbox-4"]
    project = Project.objects.create(agency=agencies[0], name="Shop", apex_domain="shop.example.com")
    watched = Monitor.objects.create(project=project, name="Homepage", url="http://127.0.0.1:9/",
                                     interval_s=60, next_due_at=T0)

    scratch = project_sync_from_scenario(load_scenario(SCENARIOS / "demo.yaml"))  # manage.py audit --scenario

    assert claim(now=T0) == [Claim(watched.pk, T0, T0)]
    assert scratch.agency.slug == SANDBOX_AGENCY[0] and scratch.agency not in agencies
    assert not scratch.agency.memberships.exists()
    assert not Project.objects.filter(agency__in=agencies).exclude(pk=project.pk).exists()


@pytest.mark.django_db
def test_signing_up_again_as_sandbox_before_confirming_keeps_the_reserved_slug_free():
    """The second, unconfirmed sign-up only renames the agency: its slug stays."""
    first = signed_up("Northwind", "owner@example.com")
    again = signed_up("Sandbox", "owner@example.com")
    assert (again.pk, again.name, again.slug) == (first.pk, "Sandbox", "northwind")
    assert not Agency.objects.filter(slug=SANDBOX_AGENCY[0]).exists()
