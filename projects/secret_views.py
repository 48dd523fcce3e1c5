"""The secret scan page of a project: the repository to scan, the latest scans' secrets, and
the ones the agency accepted. Staff change things; founders read (a write answers 403);
anyone else gets 404 — all through ``projects.access``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from checks.forms import apply_errors
from projects import access, secret_scan
from projects.models import RepositoryArchive
from projects.secret_forms import AcceptSecretForm, RepositoryArchiveForm, RepositoryUrlForm


def _page(request, project, **forms):
    can_write = access.can_write(request.user, project)
    archive = RepositoryArchive.objects.filter(project=project).defer("data").first()
    context = {
        "project": project,
        "can_write": can_write,
        "archive": archive,
        "results": secret_scan.latest_secret_results(project),
        "entries": secret_scan.secret_entries(project),
        "acceptances": project.secret_acceptances.select_related("accepted_by"),
        "url_form": forms.get("url_form") or RepositoryUrlForm(initial={"url": project.repository_url}),
        "archive_form": forms.get("archive_form") or RepositoryArchiveForm(),
        "accept_form": forms.get("accept_form"),
    }
    status = 400 if any(f is not None and f.errors for f in forms.values()) else 200
    return render(request, "projects/secrets.html", context, status=status)


def _back(project):
    return redirect("secrets:page", project_id=project.pk)


@login_required
def secrets_page(request, project_id: int):
    """The repository (URL, archive), the latest scans' secrets (redacted) and the accepted ones."""
    return _page(request, access.project_for(request.user, project_id))


@login_required
@require_POST
def repository_url(request, project_id: int):
    project = access.project_for(request.user, project_id, write=True)
    form = RepositoryUrlForm(request.POST)
    if form.is_valid():
        try:
            url = secret_scan.repository_url_set(project, form.cleaned_data["url"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Repository URL saved: the next audit clones it." if url else
                             "Repository URL cleared.")
            return _back(project)
    return _page(request, project, url_form=form)


@login_required
@require_POST
def repository_archive(request, project_id: int):
    project = access.project_for(request.user, project_id, write=True)
    form = RepositoryArchiveForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            archive = secret_scan.archive_store(project, filename=upload.name, data=form.cleaned_data["data"],
                                                user=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{archive.filename} uploaded ({archive.size_bytes:,} bytes): the next "
                                      "audit scans it.")
            return _back(project)
    return _page(request, project, archive_form=form)


@login_required
@require_POST
def repository_archive_remove(request, project_id: int):
    project = access.project_for(request.user, project_id, write=True)
    if secret_scan.archive_remove(project):
        messages.success(request, "Archive removed.")
    return _back(project)


@login_required
@require_POST
def secret_accept(request, project_id: int):
    """Accept one secret of the latest scans, with a reason: later scans leave it out."""
    project = access.project_for(request.user, project_id, write=True)
    form = AcceptSecretForm(request.POST)
    if form.is_valid():
        try:
            acceptance = secret_scan.secret_accept(project, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{acceptance.rule} accepted: the next scans leave it out.")
            return _back(project)
    return _page(request, project, accept_form=form)


@login_required
@require_POST
def acceptance_remove(request, project_id: int, acceptance_id: int):
    acceptance = access.secret_acceptance_for(request.user, project_id, acceptance_id)
    secret_scan.acceptance_remove(acceptance)
    messages.success(request, f"{acceptance.rule or 'Secret'} no longer accepted: the next scan "
                              "reports it again.")
    return _back(acceptance.project)
