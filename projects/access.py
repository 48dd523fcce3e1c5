"""The only ways views reach tenant data. Missing and not-yours both raise ``Http404``.

Staff of an agency (owner, consultant) see and change every project of it; a client
(founder) sees only the projects granted to them, read-only. A read-only viewer asking to
write gets ``PermissionDenied`` — they already know the project exists.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from checks.models import AuditRun
from handover.models import HandoverDocument
from projects.models import Agency, Membership, Project

STAFF = Membership.STAFF_ROLES


def staff_agencies(user) -> QuerySet[Agency]:
    """Agencies where ``user`` is owner or consultant."""
    if not user.is_authenticated:
        return Agency.objects.none()
    return Agency.objects.filter(memberships__user=user, memberships__role__in=STAFF)


def projects_for(user) -> QuerySet[Project]:
    """Every project ``user`` may see."""
    if not user.is_authenticated:
        return Project.objects.none()
    staff = Q(agency__memberships__user=user, agency__memberships__role__in=STAFF)
    founder = Q(
        founders=user,
        agency__memberships__user=user,
        agency__memberships__role=Membership.Role.CLIENT,
    )
    return Project.objects.filter(staff | founder).distinct()


def can_write(user, project: Project) -> bool:
    return Membership.objects.filter(user=user, agency_id=project.agency_id, role__in=STAFF).exists()


def project_for(user, project_id, *, write: bool = False) -> Project:
    """The project, if ``user`` may see it (and change it when ``write``); else 404 / 403."""
    try:
        project = projects_for(user).get(pk=int(project_id))
    except (Project.DoesNotExist, ValueError, TypeError):
        raise Http404("No such project") from None
    if write and not can_write(user, project):
        raise PermissionDenied("Read-only access")
    return project


def run_for(user, run_id) -> AuditRun:
    """An audit run of a project ``user`` may see, else 404."""
    try:
        return AuditRun.objects.select_related("project").get(
            pk=int(run_id), project__in=projects_for(user)
        )
    except (AuditRun.DoesNotExist, ValueError, TypeError):
        raise Http404("No such audit") from None


def document_for(user, document_id) -> HandoverDocument:
    """A handover PDF of a project ``user`` may see, else 404."""
    try:
        return HandoverDocument.objects.select_related("project").get(
            pk=int(document_id), project__in=projects_for(user)
        )
    except (HandoverDocument.DoesNotExist, ValueError, TypeError):
        raise Http404("No such document") from None
