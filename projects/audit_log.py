"""The agency's audit log: every change made by a person or an API key — who, what, when, from
which address — kept for the agency's owners (``AuditLogEntry``).

One generic mechanism: ``AuditLogMiddleware`` writes one entry for each successful (status
below 400) POST, PUT, PATCH or DELETE made by a signed-in person or an API key within an
agency's scope, so a new page or API route is covered without a line of its own:

- action: the resolved URL name (``projects:edit``, ``api:finding-detail``), with the method
  appended for methods other than POST (``api:finding-detail PATCH``);
- object: the URL's last integer argument (``finding_id=7`` → ``finding`` ``7``); for a route
  without one (``projects:create``), that of the URL it redirects to;
- agency: the API key's; else the one that URL argument belongs to; else the signed-in
  person's only staff agency (none, or several: not recorded); an event of a person's own
  account (``note_own``: two-factor on or off, recovery codes) goes to each of their agencies;
- summary: the method and the path (``POST /projects/3/edit/``); the route pattern instead when
  the URL has a string argument (it may be a token).

A view that knows better (a one-line summary of what changed) calls ``note(request, …)``: it
refines that same entry, so a change is never logged twice. Changes made outside a request
(the CLI) call ``record(…)``.

Never recorded: request bodies, query strings, string URL arguments (invite tokens …), so no
secret reaches the log. Sign-in, sign-out and password pages and the Django admin are skipped
(they are not changes to an agency's work), except what such a page's view ``note``s: a
recovery code spent at the two-factor step is recorded.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError
from django.urls import Resolver404, resolve

from projects.models import ApiKey, AuditLogEntry, Invite, Membership, Project

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SKIPPED_URL_NAMES = frozenset({
    "login", "logout", "password_change", "password_change_done", "password_reset", "password_reset_done",
    "password_reset_confirm", "password_reset_complete", "invite_accept",
    "verify",  # twofactor:verify, the code step of signing in (launchready/twofactor/); a
               # recovery code spent there is noted by the view, and so recorded
})
SKIPPED_NAMESPACES = frozenset({"admin"})
MAX_SUMMARY_CHARS = 500


@dataclass
class Note:
    """What a view adds to its request's entry; ``None`` fields are left to the middleware."""

    agency_id: int | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    summary: str | None = None
    every_agency: bool = False  # a person's own event: one entry in each agency they belong to


def note_own(request, *, action: str, summary: str) -> None:
    """Note an event of the signed-in person's own account (two-factor on or off, a recovery
    code spent): recorded once in every agency they belong to, whatever their role there, so
    each agency's owners see it — a founder's, or a consultant's of several agencies, too."""
    note(request, action=action, summary=summary)
    request = getattr(request, "_request", request)
    request._audit_note.every_agency = True


def note(request, *, agency=None, action: str | None = None, obj=None, summary: str | None = None) -> None:
    """Refine the entry the middleware writes for ``request`` (if it succeeds): its
    ``agency`` (an ``Agency`` or its id), ``action``, object (``obj``: a model instance) and a
    one-line ``summary`` — never a secret. ``request`` may be Django's or DRF's."""
    request = getattr(request, "_request", request)
    current = getattr(request, "_audit_note", None) or Note()
    if agency is not None:
        current.agency_id = getattr(agency, "pk", agency)
    if action is not None:
        current.action = action
    if obj is not None:
        current.object_type, current.object_id = obj._meta.model_name, str(obj.pk)
    if summary is not None:
        current.summary = summary
    request._audit_note = current


def record(*, agency, action: str, actor=None, api_key: ApiKey | None = None, obj=None,
           summary: str = "", ip_address: str | None = None) -> AuditLogEntry:
    """Write one entry now (changes made outside a request). ``obj``: the changed instance."""
    return AuditLogEntry.objects.create(
        agency_id=getattr(agency, "pk", agency), action=action[:60], actor=actor, api_key=api_key,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=summary[:MAX_SUMMARY_CHARS], ip_address=ip_address,
    )


def client_ip(request) -> str | None:
    """The address the request came from: ``REMOTE_ADDR``; when that is one of
    ``TRUSTED_PROXIES`` (CIDRs), the right-most ``X-Forwarded-For`` address that is not a
    trusted proxy (the left part of that header is whatever the client wrote). ``None`` when
    no valid address is found."""
    remote = _ip(request.META.get("REMOTE_ADDR", ""))
    proxies = [ipaddress.ip_network(n, strict=False) for n in settings.TRUSTED_PROXIES]
    if remote is None or not any(remote in n for n in proxies):
        return str(remote) if remote else None
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _ip(hop.strip())
        if address is None:
            return None
        if not any(address in n for n in proxies):
            return str(address)
    return str(remote)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class AuditLogMiddleware:
    """Writes the entry of each successful change (see the module's docstring). Must come
    after ``AuthenticationMiddleware``. A failure to write is logged, never shown to the user
    (the change itself is already made)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if _is_change(request, response):
            try:
                self._record(request, response)
            except DatabaseError:
                log.exception("audit log entry not written for %s %s", request.method, request.path)
        return response

    def _record(self, request, response) -> None:
        match = request.resolver_match
        noted = getattr(request, "_audit_note", None)
        if match is None or SKIPPED_NAMESPACES & set(match.namespaces):
            return
        if match.url_name in SKIPPED_URL_NAMES and noted is None:  # a view's note is always kept
            return
        api_key = getattr(request, "auth", None)
        api_key = api_key if isinstance(api_key, ApiKey) else None
        user = getattr(request, "user", None)
        if api_key is None and not (user is not None and user.is_authenticated):
            return
        noted = noted or Note()
        kwargs = match.kwargs
        object_type, object_id = _object(kwargs)
        if not object_type and 300 <= response.status_code < 400:
            kwargs = _redirect_kwargs(response)
            object_type, object_id = _object(kwargs)
        if noted.every_agency:
            agency_ids = sorted(set(Membership.objects.filter(user=user).values_list("agency_id", flat=True)))
        else:
            agency_id = (
                noted.agency_id or (api_key.agency_id if api_key else None) or kwargs.get("agency_id")
                or _agency_of(object_type, object_id) or _only_agency(user)
            )
            agency_ids = [agency_id] if agency_id is not None else []
        action = match.view_name if request.method == "POST" else f"{match.view_name} {request.method}"
        summary = noted.summary or f"{request.method} {_shown_path(request, match)}"
        AuditLogEntry.objects.bulk_create(
            AuditLogEntry(
                agency_id=agency_id, actor=user if user is not None and user.is_authenticated else None,
                api_key=api_key, action=(noted.action or action)[:60],
                object_type=(noted.object_type or object_type)[:60],
                object_id=(noted.object_id or object_id)[:60],
                summary=summary[:MAX_SUMMARY_CHARS],
                ip_address=client_ip(request),
            )
            for agency_id in agency_ids
        )


def _is_change(request, response) -> bool:
    """A write that succeeded. A page's success redirects (POST/redirect/GET): a page that
    answers 200 with HTML showed its form again with errors, unless its view ``note``d a
    change (a page that shows its result at once, like a new API key)."""
    if request.method not in WRITE_METHODS or response.status_code >= 400:
        return False
    if getattr(request, "_audit_note", None) is not None:
        return True
    html = response.get("Content-Type", "").startswith("text/html")
    return not (response.status_code < 300 and html)


def _shown_path(request, match) -> str:
    """The request's path when every URL argument is a number (``/projects/3/edit/``); else
    the route with its placeholders (``/invites/<str:token>/``): a string argument may be a
    secret."""
    if all(isinstance(value, int) for value in match.kwargs.values()):
        return request.path
    return f"/{match.route}"


def _object(kwargs: dict) -> tuple[str, str]:
    """``("finding", "7")`` from ``{"project_id": 3, "finding_id": 7}``: the last integer
    argument names the object changed; string arguments (tokens) are never used."""
    for name, value in reversed(list(kwargs.items())):
        if isinstance(value, int) and name.endswith("_id"):
            return name[: -len("_id")], str(value)
    return "", ""


def _redirect_kwargs(response) -> dict:
    path = urlsplit(response.get("Location", "")).path
    try:
        return resolve(path).kwargs
    except Resolver404:
        return {}


def _agency_of(object_type: str, object_id: str) -> int | None:
    """The agency the object belongs to, found through its project (one query), for the
    kinds of object the panel's URLs name."""
    if not object_type:
        return None
    pk = int(object_id)
    if object_type == "agency":
        return pk
    if object_type == "invite":
        return Invite.objects.filter(pk=pk).values_list("agency_id", flat=True).first()
    if object_type == "project":
        return Project.objects.filter(pk=pk).values_list("agency_id", flat=True).first()
    model = _project_children().get(object_type)
    if model is None:
        return None
    return model.objects.filter(pk=pk).values_list("project__agency_id", flat=True).first()


def _project_children() -> dict:
    """Object kind (as URLs name it) → a model with a ``project``. Imported here: the apps'
    models import this app's."""
    from checks.models import AlertChannel, AuditRun, Monitor
    from handover.models import HandoverDocument
    from projects.models import DeployEvent, Finding, TestAccount

    return {"run": AuditRun, "monitor": Monitor, "channel": AlertChannel, "document": HandoverDocument,
            "finding": Finding, "account": TestAccount, "deploy": DeployEvent}


def _only_agency(user) -> int | None:
    """The one agency ``user`` is staff of, else ``None``."""
    if user is None or not user.is_authenticated:
        return None
    ids = list(Membership.objects.filter(user=user, role__in=Membership.STAFF_ROLES)
               .values_list("agency_id", flat=True)[:2])
    return ids[0] if len(ids) == 1 else None
