"""Project pages. Every view reaches tenant data through ``projects.access``."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from checks.engine.spec import INVALID_PROJECT, InvalidMailSetting
from checks.models import AuditRun
from checks.selectors import edge_matrix, latest_finished_run, latest_mail_test, risk_summary
from checks.services import run_progress, sweep_stale_audits
from launchready.crypto import mask
from projects import access
from projects.forms import ProjectForm


@login_required
def project_list(request):
    # Only each project's latest run is fetched (a sliced prefetch: one query, a window function).
    latest = Prefetch("runs", queryset=AuditRun.objects.all()[:1], to_attr="latest_runs")
    projects = access.projects_for(request.user).select_related("agency").prefetch_related(latest)
    rows = [{"project": p, "run": next(iter(p.latest_runs), None)} for p in projects]
    return render(request, "projects/list.html", {
        "rows": rows,
        "can_create": access.staff_agencies(request.user).exists(),
    })


@sensitive_post_parameters("smtp_password")  # starred in error reports (DEBUG off)
@login_required
def project_create(request):
    agencies = access.staff_agencies(request.user)
    if not agencies.exists():
        raise PermissionDenied("Only agency staff can create projects")
    form = ProjectForm(request.POST or None, agencies=agencies)
    if request.method == "POST" and form.is_valid():
        form.instance.created_by = request.user
        project = form.save()
        messages.success(request, f"Project {project.name} created. Run its first audit.")
        return redirect("projects:detail", project_id=project.pk)
    return render(request, "projects/form.html", {"form": form, "editing": False})


@sensitive_post_parameters("smtp_password")
@login_required
def project_edit(request, project_id: int):
    project = access.project_for(request.user, project_id, write=True)
    form = ProjectForm(request.POST or None, instance=project, agencies=access.staff_agencies(request.user))
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Project saved.")
        return redirect("projects:detail", project_id=project.pk)
    return render(request, "projects/form.html", {"form": form, "editing": True, "project": project})


@login_required
def project_detail(request, project_id: int):
    project = access.project_for(request.user, project_id)
    if not settings.REDIS_URL:
        # No beat on the embedded default: a web process that restarted mid-audit left its
        # run "running"; finish it as error here so the page does not spin forever.
        sweep_stale_audits()
    runs = list(project.runs.all()[:10])
    current = runs[0] if runs else None
    finished = latest_finished_run(project)
    hosts = _hosts(project)
    return render(request, "projects/detail.html", {
        "project": project,
        "endpoints": project.endpoints.all(),
        "runs": runs,
        "current": current,
        "progress": run_progress(current) if current else None,
        "finished": finished,
        "summary": risk_summary(finished) if finished else None,
        "edge": edge_matrix(finished, hosts) if finished else None,
        "documents": project.handovers.defer("pdf")[:10],
        "can_write": access.can_write(request.user, project),
        "hosts": hosts,
        **_smtp(project),
        "mail_test": latest_mail_test(project),
        # Only the file name: the server's paths are none of the reader's business.
        "scenario_label": Path(project.sandbox_scenario).name if project.sandbox_scenario else "",
    })


def _smtp(project) -> dict:
    """``{"smtp": {host, port, security, username, password_mask, from_address} | None,
    "smtp_error": str}`` for the page; the password is never decrypted here, only masked."""
    try:
        smtp = project.smtp_settings()  # without secrets: the password stays encrypted
    except InvalidMailSetting as exc:
        return {"smtp": None, "smtp_error": str(exc)}
    if smtp is None:
        return {"smtp": None, "smtp_error": ""}
    return {"smtp": {
        "host": smtp.host, "port": smtp.port, "security": project.get_smtp_security_display(),
        "username": smtp.username, "from_address": smtp.from_address,
        "password_mask": mask(project.smtp_password_encrypted),
    }, "smtp_error": ""}


def _hosts(project) -> list[str]:
    """The hosts an audit of ``project`` checks; empty when its domains are not valid."""
    try:
        return project.spec().hosts
    except INVALID_PROJECT:
        return []
