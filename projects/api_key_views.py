"""The agency owners' pages: API keys (make one — shown once —, list, revoke) and the audit
log. Owners only: a consultant of the agency gets 403, anyone else 404
(``access.agency_for_owner``)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from launchready.api.keys import key_create, key_revoke
from projects import access, audit_log
from projects.models import ApiKey, AuditLogEntry

LOG_PAGE_SIZE = 50


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “GitHub Actions, client X”")
    scope = forms.ChoiceField(
        choices=ApiKey.Scope.choices, initial=ApiKey.Scope.READ, widget=forms.RadioSelect,
        help_text="Read only: lists and downloads. Read and write: also creates and changes projects, "
                  "starts audits, changes findings.",
    )


@never_cache  # the page that shows a new key must not be kept by any cache
@sensitive_variables("key")
@login_required
def api_keys(request, agency_id: int):
    """GET: the agency's keys. POST: make a key and show it in full, this once."""
    agency = access.agency_for_owner(request.user, agency_id)
    form = ApiKeyForm(request.POST or None)
    key = None
    if request.method == "POST" and form.is_valid():
        row, key = key_create(agency=agency, name=form.cleaned_data["name"],
                              scope=form.cleaned_data["scope"], created_by=request.user)
        summary = f"Made API key “{row.name}” ({row.prefix}…, {row.scope})"
        audit_log.note(request, agency=agency, obj=row, summary=summary)
        form = ApiKeyForm()
    # Working keys first (newest first), then the revoked ones.
    keys = agency.api_keys.select_related("created_by").order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at", "-id")
    return render(request, "projects/api_keys.html", {
        "agency": agency, "form": form, "keys": keys, "new_key": key,
    })


@require_POST
@login_required
def api_key_revoke(request, agency_id: int, key_id: int):
    agency = access.agency_for_owner(request.user, agency_id)
    row = agency.api_keys.filter(pk=key_id).first()
    if row is None:
        raise Http404("No such key")
    if key_revoke(row):
        summary = f"Revoked API key “{row.name}” ({row.prefix}…)"
        audit_log.note(request, agency=agency, obj=row, summary=summary)
        messages.success(request, f"Key “{row.name}” revoked: it stops working at once.")
    return redirect("agency:api_keys", agency_id=agency.pk)


@login_required
def audit_log_page(request, agency_id: int):
    """The agency's audit log, newest first, 50 a page; ``?actor=<user id>`` or
    ``?actor=key-<key id>`` and ``?action=`` filter it."""
    agency = access.agency_for_owner(request.user, agency_id)
    entries = AuditLogEntry.objects.filter(agency=agency).select_related("actor", "api_key")
    actor, action = request.GET.get("actor", ""), request.GET.get("action", "")
    if actor.startswith("key-") and actor[4:].isdigit():
        entries = entries.filter(api_key_id=int(actor[4:]))
    elif actor.isdigit():
        entries = entries.filter(actor_id=int(actor), api_key__isnull=True)
    if action:
        entries = entries.filter(action=action)
    page = Paginator(entries, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "projects/audit_log.html", {
        "agency": agency, "page": page, "actor": actor, "action": action,
        "actors": _actors(agency), "actions": _actions(agency),
        "query": _query(actor=actor, action=action),
    })


def _actors(agency) -> list[tuple[str, str]]:
    """The filter's choices: the people and keys seen in the log."""
    base = AuditLogEntry.objects.filter(agency=agency)
    people = (base.filter(api_key__isnull=True, actor__isnull=False)
              .values_list("actor_id", "actor__username").distinct().order_by("actor__username"))
    keys = (base.filter(api_key__isnull=False).values_list("api_key_id", "api_key__name", "api_key__prefix")
            .distinct().order_by("api_key__name"))
    return [(str(pk), name) for pk, name in people] + [
        (f"key-{pk}", f"API key “{name}” ({prefix}…)") for pk, name, prefix in keys
    ]


def _actions(agency) -> list[str]:
    return list(AuditLogEntry.objects.filter(agency=agency).values_list("action", flat=True)
                .distinct().order_by("action"))


def _query(**filters: str) -> str:
    """The filters as a query string for the pager's links (``&actor=3``), blanks left out."""
    from urllib.parse import urlencode

    kept = {k: v for k, v in filters.items() if v}
    return "&" + urlencode(kept) if kept else ""
