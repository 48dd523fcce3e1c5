"""Handover PDFs: generate from the latest finished audit, download a kept version."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_POST

from handover.services import handover_create as create_document
from projects import access


@login_required
@require_POST
def handover_create(request, project_id: int):
    """POST: render a handover PDF of the project's latest finished audit and keep it.

    Staff of the project's agency only: a founder of the project gets 403, anyone else 404.
    Redirects to the project page.
    """
    project = access.project_for(request.user, project_id, write=True)
    document = create_document(project=project, user=request.user)
    messages.success(request, f"Handover PDF generated ({filesizeformat(document.size_bytes)}).")
    return redirect("projects:detail", project_id=project.pk)


@login_required
def handover_download(request, document_id: int):
    """A kept handover PDF as an attachment, for anyone who may see its project; else 404."""
    document = access.document_for(request.user, document_id)
    response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    return response
