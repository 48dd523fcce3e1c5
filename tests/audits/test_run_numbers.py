"""Audit numbers count one project's runs (1, 2, 3 …), not the platform's: a founder who sees
"Audit #2" learns nothing about other agencies. Numbered on insert, one after the other when
two runs of a project start at once (real PostgreSQL, two connections); the runs that existed
before are numbered by the migration in creation order; pages, risk list and PDF show it."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from checks import services
from checks.models import AuditRun, CheckResult
from handover.services import handover_create, handover_render
from projects.findings import findings_sync
from tests.concurrency import at_once, failures
from tests.handover.pdf import flat, pdf_text

BEFORE = ("checks", "0006_auditrun_number")  # the column exists, nothing numbered yet
NUMBERED = ("checks", "0008_auditrun_number_required")
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="row locks between connections are PostgreSQL's")


def numbers(project) -> list[int]:
    return list(AuditRun.objects.filter(project=project).order_by("pk").values_list("number", flat=True))


@pytest.mark.django_db
def test_each_project_numbers_its_runs_from_one_whatever_other_agencies_ran(world):
    others = [AuditRun.objects.create(project=world.b.project) for _ in range(3)]
    full = services.audit_start(project=world.a.project, dispatch=False)
    quick = services.audit_start(project=world.a.project, quick=True, dispatch=False)
    mails = AuditRun.objects.create(project=world.a.project, check_ids=["email.transactional"])
    again = AuditRun.objects.create(project=world.b.project)

    assert (numbers(world.a.project), numbers(world.b.project)) == ([1, 2, 3], [1, 2, 3, 4])
    assert [r.number for r in (*others, again)] == [1, 2, 3, 4]
    assert full.pk > 3  # the id counts every agency's runs; the number does not
    assert (full.label, quick.label, mails.label) == ("Audit #1", "Quick audit #2", "Mail test #3")
    full.state = AuditRun.State.DONE
    full.save()  # saving again keeps the number
    assert AuditRun.objects.get(pk=full.pk).number == 1


@pytest.mark.django_db(transaction=True)
@postgresql_only
def test_a_second_run_started_while_the_first_is_uncommitted_waits_and_takes_the_next_number(world):
    project = world.a.project
    inserted, release = threading.Event(), threading.Event()
    got: dict[str, int | BaseException] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                got["first"] = AuditRun.objects.create(project=project).number
                inserted.set()
                release.wait(10)  # hold the transaction open: the second start runs meanwhile
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            got["first"] = exc
        finally:
            inserted.set()
            connections.close_all()

    def second() -> None:
        try:
            inserted.wait(10)
            got["second"] = AuditRun.objects.create(project=project).number
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            got["second"] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    threads[1].join(0.5)
    assert "second" not in got  # still waiting for the first run's transaction …
    release.set()
    for thread in threads:
        thread.join(20)
    assert got == {"first": 1, "second": 2}  # … then numbered after it, with no duplicate error
    assert numbers(project) == [1, 2]


@pytest.mark.django_db(transaction=True)
@postgresql_only
def test_many_runs_started_at_once_in_two_agencies_are_numbered_without_gaps_or_twins(world):
    projects = [world.a.project, world.a.project, world.a.project, world.b.project, world.b.project]
    def starter(project) -> None:
        for _ in range(8):
            services.audit_start(project=project, dispatch=False)

    assert failures(at_once(*(partial(starter, p) for p in projects))) == []
    assert sorted(numbers(world.a.project)) == list(range(1, 25))
    assert sorted(numbers(world.b.project)) == list(range(1, 17))


@pytest.mark.django_db(transaction=True)
def test_the_migration_numbers_existing_runs_per_project_in_creation_order(world):
    a, b = world.a.project.pk, world.b.project.pk
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        Run = executor.loader.project_state([BEFORE]).apps.get_model("checks", "AuditRun")
        # (project, minutes after T0): ids in this order, creation times not; two runs of B
        # share an instant (the id decides).
        made = [(a, 30), (b, 0), (a, 10), (b, 5), (a, 20), (b, 5)]
        ids = []
        for project_id, minutes in made:
            run = Run.objects.create(project_id=project_id)
            Run.objects.filter(pk=run.pk).update(created_at=T0 + timedelta(minutes=minutes))
            ids.append(run.pk)
        assert set(Run.objects.values_list("number", flat=True)) == {None}
    finally:
        executor.loader.build_graph()
        executor.migrate([NUMBERED])
    got = dict(AuditRun.objects.values_list("pk", "number"))
    assert [got[pk] for pk in ids] == [3, 1, 1, 2, 2, 3]
    assert AuditRun.objects.create(project_id=a).number == 4  # new runs carry on from there


@pytest.fixture
def audited(world):
    """Agency B ran three audits first (so agency A's ids are not its numbers); A has a full
    audit that opened a finding, a handover PDF of it, then a quick audit, both finished."""
    for _ in range(3):
        AuditRun.objects.create(project=world.b.project, state=AuditRun.State.DONE)
    project = world.a.project
    first = AuditRun.objects.create(project=project, state=AuditRun.State.DONE, finished_at=timezone.now())
    CheckResult.objects.create(
        run=first, check_id="tls.certificate", stage="edge", impact="blocker",
        target=f"api.{project.apex_domain}", status="fail", summary="certificate expired 3 days ago",
    )
    findings_sync(first)
    handover_create(project=project, run=first)
    second = AuditRun.objects.create(project=project, state=AuditRun.State.DONE, quick=True,
                                     finished_at=timezone.now())
    CheckResult.objects.create(
        run=second, check_id="tls.certificate", stage="edge", impact="blocker",
        target=f"api.{project.apex_domain}", status="fail", summary="certificate expired 4 days ago",
    )
    findings_sync(second)
    assert (first.number, second.number) == (1, 2) and first.pk > 3
    return first, second


def audit_numbers(html: str) -> list[str]:
    """Every "audit #n" / "Audit #n" / "<td>#n" on a page, in order."""
    return re.findall(r"(?:[Aa]udit #|<td>#|>#)(\d+)", html)


@pytest.mark.django_db
def test_the_founders_pages_show_the_projects_own_audit_numbers(client, world, audited):
    first, second = audited
    finding = world.a.project.findings.get()
    client.force_login(world.a.founder)

    project_page = client.get(reverse("projects:detail", args=[world.a.project.pk])).content.decode()
    risk_list = client.get(reverse("checks:run", args=[second.pk])).content.decode()
    finding_url = reverse("projects:finding", args=[world.a.project.pk, finding.pk])
    finding_page = client.get(finding_url).content.decode()

    assert "Open the risk list of audit #2 →" in project_page
    assert "audit #2 · " in project_page  # the latest finished audit
    assert "· audit #1</span>" in project_page  # the handover PDF's audit
    assert "<td>#2 <span class=\"muted small\">quick</span></td>" in project_page
    assert "<td>#1</td>" in project_page
    assert "Quick audit #2 of <code>" in risk_list
    assert "first seen in audit #1</span>" in risk_list
    assert "Audit #1</strong>" in finding_page  # the event the first audit wrote
    assert "Audit #1: fail: certificate expired 3 days ago" in finding_page
    for html in (project_page, risk_list, finding_page):
        assert set(audit_numbers(html)) <= {"1", "2"}, audit_numbers(html)


@pytest.mark.django_db
def test_the_handover_pdf_names_the_audit_by_its_number_in_the_project(world, audited):
    first, second = audited
    text = flat(pdf_text(handover_render(world.a.project, second)))
    assert " From audit Audit #2 of " in text
    assert set(re.findall(r"[Aa]udit #(\d+)", text)) == {"2"}  # never a run's id
