"""Audit pages: start a run, watch its progress, read the risk list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from checks import risk_cards, selectors, services
from checks.engine.scoring import readiness
from checks.engine.spec import INVALID_PROJECT, InvalidMailSetting
from checks.models import AuditRun
from projects import access
from projects.models import Project


@login_required
@require_POST
def audit_start(request, project_id: int):
    project = access.project_for(request.user, project_id, write=True)
    try:
        services.audit_start(project=project, user=request.user, quick=request.POST.get("quick") == "1")
    except INVALID_PROJECT as exc:
        messages.error(request, f"This project cannot be audited: {exc}")
    return redirect("projects:detail", project_id=project.pk)


TEST_MAIL_CHECKS = ["email.transactional"]


@login_required
@require_POST
def send_test_mails(request, project_id: int):
    """"Send test mails": an audit run of ``email.transactional`` alone (staff only)."""
    project = access.project_for(request.user, project_id, write=True)
    if not project.smtp_host:
        messages.error(request, "Set the project's SMTP sending first: the test mails go through it.")
        return redirect("projects:detail", project_id=project.pk)
    with transaction.atomic():
        # One batch of real mails at a time: a double click must not send eight.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        pending = project.runs.filter(state__in=[AuditRun.State.QUEUED, AuditRun.State.RUNNING],
                                      check_ids=TEST_MAIL_CHECKS).first()
        if pending is not None:
            messages.info(request, f"Test mails are already being sent ({pending.label}).")
            return redirect("projects:detail", project_id=project.pk)
        try:
            problem = project.smtp_settings(secrets=True).problem
            if problem:
                raise InvalidMailSetting(problem)
            services.audit_start(project=project, user=request.user, check_ids=TEST_MAIL_CHECKS)
        except INVALID_PROJECT as exc:
            messages.error(request, f"The test mails cannot be sent: {exc}")
    return redirect("projects:detail", project_id=project.pk)


@login_required
def run_progress_json(request, run_id: int):
    run = access.run_for(request.user, run_id)
    return JsonResponse(services.run_progress(run))


@login_required
def risk_list(request, project_id: int):
    project = access.project_for(request.user, project_id)
    run = selectors.latest_finished_run(project)
    return _risk_page(request, project, run)


@login_required
def run_detail(request, run_id: int):
    run = access.run_for(request.user, run_id)
    return _risk_page(request, run.project, run)


def _risk_page(request, project, run):
    """The risk list of ``run``: ``summary`` (counts) and ``readiness`` (the score,
    checks.engine.scoring) from one narrow query, ``cards`` (the ranked risks, untested and
    passed results with their evidence) from ``checks.risk_cards``, cached per state."""
    context = {"project": project, "run": run}
    if run is not None:
        rows = risk_cards.scored_rows(run)
        context.update(
            cards=risk_cards.cards_html(project, run, rows),
            summary=selectors.risk_summary(run, rows),
            readiness=readiness(rows),
        )
    return render(request, "checks/risks.html", context)
