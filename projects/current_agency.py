"""The agency a signed-in person is working in, for people in several agencies.

The choice is kept in the session (``SESSION_KEY``: an agency id) and checked against the
person's memberships on every request by ``CurrentAgencyMiddleware``, which sets

- ``request.memberships``: the person's memberships (with their agencies), by agency name;
- ``request.agency`` / ``request.agency_role``: the current agency and the role in it — the
  one chosen in the session while the person is still a member of it, else the first by name;
  ``None`` for a person in no agency.

The same middleware ends the session of someone removed from their last agency: a session
opened while its user was a member carries ``MEMBER_FLAG``; when that user has no membership
left, the session is flushed and the request sent to the sign-in page (see
``projects.team``). Choosing an agency changes only which agency lists show: every page still
checks access through ``projects.access``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from projects import audit_log
from projects.models import Membership

SESSION_KEY = "current_agency_id"
MEMBER_FLAG = "opened_as_member"


def mark_member_session(sender, request, user, **kwargs) -> None:
    """``user_logged_in`` receiver: mark the new session as opened by a member (one query)."""
    if request is not None and hasattr(request, "session") and Membership.objects.filter(user=user).exists():
        request.session[MEMBER_FLAG] = True


class CurrentAgencyMiddleware:
    """Sets ``request.agency`` (see the module docstring); signs out a session whose user was
    removed from every agency. After ``AuthenticationMiddleware``. One query per request of a
    signed-in person."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.memberships, request.agency, request.agency_role = [], None, None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            memberships = list(
                Membership.objects.filter(user=user).select_related("agency")
                .order_by("agency__name", "agency_id")
            )
            if not memberships and request.session.get(MEMBER_FLAG):
                return self._signed_out(request)
            if memberships:
                if not request.session.get(MEMBER_FLAG):  # opened before it was a member
                    request.session[MEMBER_FLAG] = True
                chosen = request.session.get(SESSION_KEY)
                current = next((m for m in memberships if m.agency_id == chosen), memberships[0])
                request.memberships = memberships
                request.agency, request.agency_role = current.agency, current.role
        return self.get_response(request)

    @staticmethod
    def _signed_out(request: HttpRequest) -> HttpResponse:
        """Removed from every agency: the session ends here; the sign-in page comes next."""
        logout(request)
        url = reverse("login")
        if request.method == "GET":
            url += "?" + urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(url)


def context(request: HttpRequest) -> dict:
    """Template context: ``current_agency``, ``current_role``, ``is_owner`` and
    ``agency_choices`` (the person's memberships when there are two or more)."""
    memberships = getattr(request, "memberships", [])
    role = getattr(request, "agency_role", None)
    return {
        "current_agency": getattr(request, "agency", None),
        "current_role": role,
        "is_owner": role == Membership.Role.OWNER,
        "agency_choices": memberships if len(memberships) > 1 else [],
    }


@require_POST
@login_required
def switch(request: HttpRequest, agency_id: int) -> HttpResponse:
    """Make ``agency_id`` the current agency (a member of it only: anyone else 404), then back
    to ``next`` when it is a page of this site, else the project list."""
    membership = next((m for m in request.memberships if m.agency_id == agency_id), None)
    if membership is None:
        raise Http404("No such agency")
    request.session[SESSION_KEY] = agency_id
    audit_log.note(request, agency=agency_id, summary=f"Switched to {membership.agency.name}")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        return redirect("projects:list")
    return redirect(target)
