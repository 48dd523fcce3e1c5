"""The only ways views reach tenant data. Missing and not-yours both raise ``Http404``.

Staff of an agency (owner, consultant) see and change every project of it; a client
(founder) sees only the projects granted to them, read-only. A read-only viewer asking to
write gets ``PermissionDenied`` — they already know the project exists.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from checks.models import AlertChannel, AuditRun, Monitor
from handover.models import HandoverDocument
from projects.models import Agency, Finding, Invite, Membership, Project, SecretAcceptance, TestAccount

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


def _child(project: Project, rows: QuerySet, child_id, missing: str):
    """Row ``child_id`` of ``rows`` (a relation of ``project``, so another project's row is
    not in it), with ``project`` set on it; else ``Http404(missing)``, for a bad id too."""
    try:
        child = rows.get(pk=int(child_id))
    except (rows.model.DoesNotExist, ValueError, TypeError):
        raise Http404(missing) from None
    child.project = project
    return child


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


def finding_for(user, project_id, finding_id, *, write: bool = False) -> Finding:
    """A finding of a project ``user`` may see (and change when ``write``), else 404 / 403.
    A finding of another project answers 404 even when both are ``user``'s."""
    project = project_for(user, project_id, write=write)
    rows = project.findings.select_related("owner", "first_run", "last_run")
    return _child(project, rows, finding_id, "No such finding")


def invite_for(user, invite_id) -> Invite:
    """An invite of an agency ``user`` is staff of (to revoke it). A founder who can see one of
    its projects gets ``PermissionDenied`` (read-only); anyone else 404."""
    try:
        pk = int(invite_id)
    except (ValueError, TypeError):
        raise Http404("No such invite") from None
    invite = Invite.objects.filter(pk=pk, agency__in=staff_agencies(user)).first()
    if invite is not None:
        return invite
    if Invite.objects.filter(pk=pk, projects__in=projects_for(user)).exists():
        raise PermissionDenied("Read-only access")
    raise Http404("No such invite")


def project_for_sign_off(user, project_id) -> tuple[Project, str]:
    """The project and the side ``user`` signs its handover record for: ``"consultant"`` for
    the agency's staff, ``"founder"`` for a founder granted the project — the one write a
    founder may make. Anyone else gets 404, as for every other page."""
    project = project_for(user, project_id)
    return project, "consultant" if can_write(user, project) else "founder"


def monitor_for(user, project_id, monitor_id, *, write: bool = False) -> Monitor:
    """A monitor of a project ``user`` may see (and change when ``write``), else 404 / 403; a
    monitor of another project answers 404 even when both are ``user``'s."""
    project = project_for(user, project_id, write=write)
    return _child(project, project.monitors.select_related("endpoint"), monitor_id, "No such monitor")


def channel_for(user, project_id, channel_id, *, write: bool = False) -> AlertChannel:
    """An alert channel of a project ``user`` may see (and change when ``write``), else 404 /
    403; a channel of another project answers 404."""
    project = project_for(user, project_id, write=write)
    return _child(project, project.alert_channels, channel_id, "No such alert channel")


def test_account_for(user, project_id, account_id) -> TestAccount:
    """A test account of a project ``user`` is staff of (accounts hold the client's logins:
    founders get ``PermissionDenied``), else 404; an account of another project answers 404."""
    project = project_for(user, project_id, write=True)
    return _child(project, project.test_accounts, account_id, "No such test account")


# ---------------------------------------------------------------------------------------
# The REST API (launchready/api/) and the agency pages (API keys, audit log). The API is for
# agency staff and CI only: a founder sees none of it (404), and a request made with an API
# key sees only the key's agency (``agency_id``), whatever else its creator belongs to.

def api_projects(user, *, agency_id: int | None = None) -> QuerySet[Project]:
    """Projects of the agencies where ``user`` is owner or consultant; only those of
    ``agency_id`` when given (a request made with that agency's API key)."""
    if not user.is_authenticated:
        return Project.objects.none()
    agencies = staff_agencies(user)
    if agency_id is not None:
        agencies = agencies.filter(pk=agency_id)
    return Project.objects.filter(agency__in=agencies)


def api_project(user, project_id, *, agency_id: int | None = None) -> Project:
    """A project of ``api_projects``, else 404 (missing and not-yours alike)."""
    try:
        return api_projects(user, agency_id=agency_id).select_related("agency").get(pk=int(project_id))
    except (Project.DoesNotExist, ValueError, TypeError):
        raise Http404("No such project") from None


def api_run(user, run_id, *, agency_id: int | None = None) -> AuditRun:
    """An audit run of a project of ``api_projects``, else 404."""
    try:
        return AuditRun.objects.select_related("project").get(
            pk=int(run_id), project__in=api_projects(user, agency_id=agency_id)
        )
    except (AuditRun.DoesNotExist, ValueError, TypeError):
        raise Http404("No such audit") from None


def api_finding(user, project_id, finding_id, *, agency_id: int | None = None) -> Finding:
    """A finding of a project of ``api_projects``, else 404; one of another project answers
    404 even when both are ``user``'s."""
    project = api_project(user, project_id, agency_id=agency_id)
    return _child(project, project.findings.select_related("owner"), finding_id, "No such finding")


def api_monitor(user, project_id, monitor_id, *, agency_id: int | None = None) -> Monitor:
    """A monitor of a project of ``api_projects``, else 404; one of another project answers
    404 even when both are ``user``'s."""
    project = api_project(user, project_id, agency_id=agency_id)
    return _child(project, project.monitors, monitor_id, "No such monitor")


def agency_for_owner(user, agency_id) -> Agency:
    """An agency ``user`` owns (its API keys and audit log are the owners' alone). A
    consultant of it gets ``PermissionDenied`` (they know it exists); anyone else 404."""
    try:
        pk = int(agency_id)
    except (ValueError, TypeError):
        raise Http404("No such agency") from None
    role = None
    if user.is_authenticated:
        role = Membership.objects.filter(user=user, agency_id=pk).values_list("role", flat=True).first()
    if role == Membership.Role.OWNER:
        return Agency.objects.get(pk=pk)
    if role == Membership.Role.CONSULTANT:
        raise PermissionDenied("Only the agency's owners manage this")
    raise Http404("No such agency")


def owned_agencies(user) -> QuerySet[Agency]:
    """Agencies where ``user`` is an owner, by name."""
    if not user.is_authenticated:
        return Agency.objects.none()
    owner = Membership.Role.OWNER
    return Agency.objects.filter(memberships__user=user, memberships__role=owner).order_by("name")


def secret_acceptance_for(user, project_id, acceptance_id) -> SecretAcceptance:
    """An accepted secret of a project ``user`` is staff of (to withdraw it; founders get
    ``PermissionDenied``), else 404; one of another project answers 404."""
    project = project_for(user, project_id, write=True)
    return _child(project, project.secret_acceptances, acceptance_id, "No such accepted secret")
