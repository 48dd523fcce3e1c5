"""The team page of an agency (owners only; a consultant gets 403, anyone else 404 —
``access.agency_for_owner``): the members and their roles, staff invites by email
(``projects.invites``: single-use links that expire), role changes and removals
(``projects.team``). Each change is summarised in the audit log (``audit_log.note``)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import dateformat, timezone
from django.views.decorators.http import require_http_methods, require_POST

from projects import access, audit_log, invites, team
from projects.models import Invite, Membership


class StaffInviteForm(forms.Form):
    email = forms.EmailField(
        label="Email", max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "colleague@agency.com"}))
    role = forms.ChoiceField(
        label="Role", choices=team.STAFF_ROLE_CHOICES, initial=Membership.Role.CONSULTANT,
        help_text="Consultants see and audit every project. Owners also manage the team, "
                  "API keys, the audit log and two-factor sign-in.")

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.agency = agency

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        staff = self.agency.memberships.filter(role__in=Membership.STAFF_ROLES)
        if staff.filter(Q(user__username__iexact=email) | Q(user__email__iexact=email)).exists():
            raise forms.ValidationError(f"{email} is already on the team: change their role below.")
        return email


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=team.STAFF_ROLE_CHOICES)


def _pending_staff_invites(agency):
    return (Invite.objects.filter(agency=agency, role__in=Membership.STAFF_ROLES, accepted_at__isnull=True,
                                  expires_at__gt=timezone.now())
            .select_related("created_by").order_by("-created_at"))


@require_http_methods(["GET", "POST"])
@login_required
def team_page(request: HttpRequest, agency_id: int) -> HttpResponse:
    """GET: members, pending staff invites, the invite form. POST: send a staff invite."""
    agency = access.agency_for_owner(request.user, agency_id)
    form = StaffInviteForm(request.POST or None, agency=agency)
    if request.method == "POST" and form.is_valid():
        try:
            invite, _token = invites.invite_create(agency=agency, email=form.cleaned_data["email"],
                                                   role=form.cleaned_data["role"], created_by=request.user)
        except invites.InviteNotSent:
            form.add_error(None, "The invite mail could not be sent just now. Try again in a few minutes.")
        else:
            audit_log.note(request, agency=agency, obj=invite,
                           summary=f"Invited {invite.email} ({invite.role})")
            until = dateformat.format(timezone.localtime(invite.expires_at), "j M Y, H:i T")
            messages.success(request, f"Invite sent to {invite.email}. The link works once, until {until}.")
            return redirect("agency:team", agency_id=agency.pk)
    return _render(request, agency, form)


def _render(request: HttpRequest, agency, form: StaffInviteForm | None = None, *, error: str = "",
            status: int = 200) -> HttpResponse:
    """The team page; ``error`` shown above it with ``status`` (a refused change answers 4xx,
    so the audit log does not record it as made)."""
    if error:
        messages.error(request, error)
    return render(request, "projects/team.html", {
        "agency": agency, "form": form or StaffInviteForm(agency=agency), "members": team.members(agency),
        "invites": _pending_staff_invites(agency), "ttl_hours": settings.INVITE_TTL_HOURS,
        "role_choices": team.STAFF_ROLE_CHOICES,
    }, status=status)


def _membership(agency, membership_id: int) -> Membership:
    membership = agency.memberships.select_related("user").filter(pk=membership_id).first()
    if membership is None:
        raise Http404("No such member")
    return membership


@require_POST
@login_required
def member_role(request: HttpRequest, agency_id: int, membership_id: int) -> HttpResponse:
    """Make a staff member owner or consultant; never demotes the last owner."""
    agency = access.agency_for_owner(request.user, agency_id)
    membership = _membership(agency, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid() or membership.role == Membership.Role.CLIENT:
        return _render(request, agency, status=400,
                       error="Choose owner or consultant for a member of the team.")
    before, who = membership.role, team.person(membership.user)
    try:
        changed = team.change_role(agency, membership, form.cleaned_data["role"])
    except team.LastOwner as exc:
        return _render(request, agency, error=str(exc), status=409)
    if changed:
        audit_log.note(request, agency=agency, obj=membership,
                       summary=f"Changed {who} from {before} to {membership.role}")
        messages.success(request, f"{who} is now {membership.get_role_display().lower()}.")
    if membership.user_id == request.user.pk and membership.role != Membership.Role.OWNER:
        return redirect("projects:list")  # no longer an owner: the team page is not theirs
    return redirect("agency:team", agency_id=agency.pk)


@require_POST
@login_required
def member_remove(request: HttpRequest, agency_id: int, membership_id: int) -> HttpResponse:
    """Remove a member: their access to the agency, their API keys and, when they belong to no
    other agency, their sessions end at once. Never the last owner."""
    agency = access.agency_for_owner(request.user, agency_id)
    membership = _membership(agency, membership_id)
    who, role = team.person(membership.user), membership.role
    try:
        team.remove_member(agency, membership)
    except team.LastOwner as exc:
        return _render(request, agency, error=str(exc), status=409)
    audit_log.note(request, agency=agency, obj=membership, summary=f"Removed {who} ({role})")
    if membership.user_id == request.user.pk:
        return redirect("projects:list")
    messages.success(request, f"{who} is removed from {agency.name}: "
                              "their access and API keys stopped at once.")
    return redirect("agency:team", agency_id=agency.pk)
