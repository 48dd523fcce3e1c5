"""Project pages. Every view reaches tenant data through ``projects.access``."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from checks.engine.scoring import readiness
from checks.engine.spec import INVALID_PROJECT, InvalidMailSetting
from checks.models import AuditRun
from checks.selectors import (
    edge_matrix,
    latest_finished_run,
    latest_full_runs,
    latest_mail_test,
    risk_summary,
)
from checks.services import run_progress, sweep_stale_audits
from handover.services import rollback_html
from launchready import crypto, fragments
from launchready.crypto import mask
from projects import access, current_agency, invites
from projects.finding_services import FindingChangeError
from projects.findings import finding_history
from projects.forms import (
    FINDING_FORMS,
    InviteForm,
    InviteSetPasswordForm,
    InviteSignInForm,
    ProjectForm,
)
from projects.models import Finding
from projects.performance import performance_history

PROJECTS_PER_PAGE = 50  # a page a phone scrolls; the panel's p95 (benchmarks/panel_load.py)


@login_required
def project_list(request):
    """The landing page: the projects the person may see, ``PROJECTS_PER_PAGE`` a page (by
    name), each with its latest full audit; rows are plain values, rendered through the
    fragment cache (launchready/fragments.py)."""
    projects = access.projects_for(request.user).order_by("name", "id")
    # The agency chosen in the header (projects/current_agency.py), for people in several.
    agency = getattr(request, "agency", None)
    if agency is not None:
        projects = projects.filter(agency=agency)
    page = Paginator(projects.values(*PROJECT_ROW_FIELDS), PROJECTS_PER_PAGE).get_page(
        request.GET.get("page"))
    runs = latest_full_runs([row["pk"] for row in page.object_list])
    rows = [_project_row(row, runs.get(row["pk"])) for row in page.object_list]
    role = getattr(request, "agency_role", None)
    return render(request, "projects/list.html", {
        "rows": rows,
        "row_html": fragments.render_many("projects/_project_row.html", rows),
        "page": page,
        "can_create": (role in access.STAFF) if agency is not None
        else access.staff_agencies(request.user).exists(),
        "is_owner": role == "owner",
        "agency": agency,
    })


PROJECT_ROW_FIELDS = ("pk", "name", "client_name", "apex_domain", "agency__name")
STATE_LABELS = dict(AuditRun.State.choices)


def _project_row(project: dict, run: dict | None) -> dict:
    """What the project list shows of one project (plain values: the row is cached by them)."""
    return {
        "pk": project["pk"], "name": project["name"], "client_name": project["client_name"],
        "agency_name": project["agency__name"], "apex": project["apex_domain"],
        "run_pk": run["id"] if run else None,
        "run_state": run["state"] if run else None,
        "run_state_label": STATE_LABELS.get(run["state"]) if run else None,
        "run_at": (run["finished_at"] or run["created_at"]) if run else None,
    }


@sensitive_post_parameters("smtp_password")  # starred in error reports (DEBUG off)
@login_required
def project_create(request):
    agencies = access.staff_agencies(request.user)
    if not agencies.exists():
        raise PermissionDenied("Only agency staff can create projects")
    # The agency chosen in the header comes first (projects/current_agency.py).
    staff_here = getattr(request, "agency_role", None) in access.STAFF
    initial = {"agency": request.agency} if staff_here else None
    form = ProjectForm(request.POST or None, agencies=agencies, initial=initial)
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
        "readiness": _readiness(finished),
        "edge": edge_matrix(finished, hosts) if finished else None,
        "performance": performance_history(project) if finished else [],  # two queries
        "documents": project.handovers.defer("pdf").select_related("run")[:10],
        "can_write": access.can_write(request.user, project),
        "hosts": hosts,
        **_smtp(project),
        "mail_test": latest_mail_test(project),
        "rollback_notes_html": rollback_html(project.rollback_notes),
        # Only the file name: the server's paths are none of the reader's business.
        "scenario_label": Path(project.sandbox_scenario).name if project.sandbox_scenario else "",
        # Staff only: who was invited to follow the project (founders never see others' emails).
        "invite_card": _invite_card(request.user, project),
    })


def _invite_card(user, project) -> dict | None:
    """``{"rows": [InviteRow], "ttl_hours": int}`` for staff; ``None`` for founders, who never
    see who else was invited."""
    if not access.can_write(user, project):
        return None
    return {"rows": invites.invite_rows(project), "ttl_hours": settings.INVITE_TTL_HOURS}


def _readiness(run):
    """The launch-readiness score of a finished ``run`` (``checks.engine.scoring``), or None."""
    # run_id too: the related manager reads it on every row (a deferred field: one query each).
    return readiness(run.results.only("run_id", "stage", "impact", "status")) if run else None


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
        # Decrypted here only to learn whether it still can be; never shown.
        "password_unreadable": bool(project.smtp_password_encrypted) and not crypto.readable(
            project.smtp_password_encrypted),
    }, "smtp_error": ""}


def _hosts(project) -> list[str]:
    """The hosts an audit of ``project`` checks; empty when its domains are not valid."""
    try:
        return project.spec(facts=False).hosts
    except INVALID_PROJECT:
        return []


@require_http_methods(["GET", "POST"])
@login_required
def finding_detail(request, project_id: int, finding_id: int):
    """A finding: what is wrong, how to fix it, its result at each audit, its history and
    comments. Staff change it here (one form per change, chosen by the POST's ``action``);
    founders read it without the internal comments, and a POST from them answers 403."""
    writing = request.method == "POST"
    finding = access.finding_for(request.user, project_id, finding_id, write=writing)
    can_write = writing or access.can_write(request.user, finding.project)
    forms = {}
    if can_write:
        forms = {action: form(finding=finding, prefix=action) for action, form in FINDING_FORMS.items()}
    if writing:
        action = request.POST.get("action", "")
        if action not in FINDING_FORMS:
            return HttpResponseBadRequest("Unknown change")
        form = forms[action] = FINDING_FORMS[action](request.POST, finding=finding, prefix=action)
        if form.is_valid():
            try:
                event = form.apply(request.user)
            except FindingChangeError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "Saved." if event else "Nothing changed.")
                return redirect("projects:finding", project_id=finding.project_id, finding_id=finding.pk)
    events = finding.events.select_related("actor", "run")
    if not can_write:
        events = events.exclude(internal=True)  # notes marked internal stay inside the agency
    labels = dict(Finding.Status.choices)
    events = list(events)
    for event in events:
        event.from_label, event.to_label = labels.get(event.from_status, ""), labels.get(event.to_status, "")
    return render(request, "projects/finding.html", {
        "project": finding.project,
        "finding": finding,
        "events": events,
        "today": timezone.localdate(),
        "history": finding_history(finding),
        "can_write": can_write,
        "forms": forms,
        "failed_action": request.POST.get("action") if writing else "",
    })


# ---------------------------------------------------------------------------------------
# Invites: staff invite a project's founder; the founder accepts through the mailed link.

@require_http_methods(["GET", "POST"])
@login_required
def invite_create(request, project_id: int):
    """Invite a founder to the project by email (staff; founders 403, others 404). The
    project page's invite card posts here; a valid address sends the mail and returns to the
    project, an invalid one shows this form again with the error."""
    project = access.project_for(request.user, project_id, write=True)
    form = InviteForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            invite, _token = invites.invite_create(
                agency=project.agency, email=form.cleaned_data["email"], projects=[project],
                created_by=request.user,
            )
        except invites.InviteNotSent as exc:
            form.add_error(None, f"{exc}. Nothing was stored; try again later.")
        else:
            until = dateformat.format(timezone.localtime(invite.expires_at), "j M Y, H:i T")
            messages.success(request, f"Invite sent to {invite.email}. The link works until {until}.")
            return redirect(reverse("projects:detail", args=[project.pk]) + "#invites")
    return render(request, "projects/invite_form.html", {"form": form, "project": project})


@require_POST
@login_required
def invite_revoke(request, invite_id: int):
    """End a pending invite (staff of its agency; founders 403, others 404); back to ``next``
    (a page of this site) or the project list."""
    invite = access.invite_for(request.user, invite_id)
    if invites.invite_revoke(invite):
        messages.success(request, f"The invite to {invite.email} is revoked: its link no longer works.")
    else:
        messages.info(request, f"The invite to {invite.email} was already accepted or expired.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("projects:list")
    return redirect(target)


@sensitive_variables("token", "password")
@sensitive_post_parameters("password", "password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def invite_accept(request, token: str):
    """The page of an invite link (no login needed). A pending invite shows its agency and
    projects and asks for a password: a new one (new account), the account's own (the address
    already has one), or nothing (that account is signed in); then signs the person in and
    opens the project. Any unusable link answers one 410 page ("expired or already used").

    The token is in the path only: the form posts back to the same URL, the page links
    nowhere with it, and request logs mask it (launchready.redaction).
    """
    try:
        invite = invites.invite_usable(token)
    except invites.InviteUnusable:
        return _invite_gone(request)
    signed_in = request.user if request.user.is_authenticated else None
    if signed_in is not None and not invites.is_for(invite, signed_in):
        return _invite_page(request, invite, mode="wrong_account", form=None)
    mode = "signed_in" if signed_in else ("existing" if invites.existing_accounts(invite.email) else "new")
    form_class = {"signed_in": None, "existing": InviteSignInForm, "new": InviteSetPasswordForm}[mode]
    form = form_class(request.POST or None) if form_class else None
    if request.method == "POST" and (form is None or form.is_valid()):
        password = (form.cleaned_data.get("password1") or form.cleaned_data.get("password")) if form else ""
        try:
            user = invites.invite_accept(token, password=password, user=signed_in)
        except invites.InviteUnusable:
            return _invite_gone(request)
        except ValidationError as exc:
            if form is None:  # signed in: no password to blame
                messages.error(request, " ".join(exc.messages))
            else:
                form.add_error("password1" if mode == "new" else "password", exc)
        else:
            login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
            # Land in the agency that invited them (the header's agency menu; current_agency.py).
            request.session[current_agency.SESSION_KEY] = invite.agency_id
            messages.success(request, f"Welcome to {invite.agency.name}'s Launch Ready.")
            project = invites.landing_project(invite)
            if project is not None:
                return redirect("projects:detail", project_id=project.pk)
            return redirect("projects:list")
    return _invite_page(request, invite, mode=mode, form=form)


def _invite_page(request, invite, *, mode: str, form):
    # The URL holds the token: the site's Referrer-Policy "same-origin" keeps it from other
    # sites ("no-referrer" would make the browser send "Origin: null", failing CSRF).
    return render(request, "projects/invite_accept.html", {
        "invite": invite,
        "mode": mode,
        "form": form,
        "projects": invite.projects.order_by("name", "pk"),
        "founder": invite.role == invites.Role.CLIENT,
    })


def _invite_gone(request):
    """One answer for every unusable link: 410, whatever the reason."""
    return render(request, "projects/invite_invalid.html", status=410)
