"""Deploy pages and the deploy webhook.

Pages reach tenant data through ``projects.access``: the project's staff manage the hook, the
rollback drills and the test accounts; a founder of the project reads the Deploys page (no
hook section, no buttons) and gets 403 on everything else — the test accounts are the
client's logins. The webhook (``/hooks/deploy``, ``/hooks/environment``) has no session and
no CSRF token: the bearer token picks the project and the HMAC signature proves the sender
(``projects.deploys``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from checks.forms import apply_errors
from handover.services import rollback_html
from launchready.crypto import mask
from projects import access, deploys
from projects.deploy_forms import TestAccountForm
from projects.hardening_models import DeployHook

LISTED_DEPLOYS = 50


# --- the webhook ------------------------------------------------------------------------------


def _refused(exc: deploys.HookRefused) -> JsonResponse:
    return JsonResponse({"error": exc.message}, status=exc.status)


def _authenticated(request: HttpRequest) -> tuple[DeployHook, bytes]:
    """The hook and raw body of a webhook request; raises ``HookRefused``."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > deploys.MAX_BODY_BYTES:  # refused before a byte of it is read
        raise deploys.HookRefused(413, f"body over {deploys.MAX_BODY_BYTES} bytes")
    body = request.read(deploys.MAX_BODY_BYTES + 1)
    hook = deploys.hook_authenticate(
        authorization=request.headers.get("Authorization", ""),
        timestamp=request.headers.get(deploys.TIMESTAMP_HEADER, "").strip(),
        signature=request.headers.get(deploys.SIGNATURE_HEADER, ""),
        body=body,
    )
    return hook, body


@csrf_exempt
@require_POST
def hook_deploy(request: HttpRequest) -> JsonResponse:
    """``POST /hooks/deploy``: record a deploy or rollback; 201 ``{"deploy": id, "environment",
    "kind", "smoke": "pending"}``, else ``{"error": message}`` with 400/401/409/413."""
    try:
        hook, body = _authenticated(request)
        signature = request.headers.get(deploys.SIGNATURE_HEADER, "")
        event = deploys.deploy_record(hook, body=body, signature=signature)
    except deploys.HookRefused as exc:
        return _refused(exc)
    return JsonResponse({"deploy": event.pk, "kind": event.kind, "environment": event.environment,
                         "smoke": event.smoke_status}, status=201)


@csrf_exempt
@require_POST
def hook_environment(request: HttpRequest) -> JsonResponse:
    """``POST /hooks/environment``: replace one environment's variable fingerprints; 200
    ``{"environment": name, "variables": n}``, else ``{"error": message}``."""
    try:
        hook, body = _authenticated(request)
        environment = deploys.environment_record(
            hook, body=body, timestamp=request.headers.get(deploys.TIMESTAMP_HEADER, "").strip())
    except deploys.HookRefused as exc:
        return _refused(exc)
    return JsonResponse({"environment": environment.name, "variables": environment.variables.count()})


# --- pages ------------------------------------------------------------------------------------


def _deploys_page(request, project, *, credentials: deploys.HookCredentials | None = None):
    can_write = access.can_write(request.user, project)
    hook = DeployHook.objects.filter(project=project).first() if can_write else None
    return render(request, "projects/deploys.html", {
        "project": project,
        "deploys": list(project.deploys.all()[:LISTED_DEPLOYS]),
        "can_write": can_write,
        "hook": hook,
        "hook_ref": _hook_ref(hook),
        "credentials": credentials,
        "rollback_html": rollback_html(project.rollback_notes or ""),
        "environments": list(project.environments.all()) if can_write else [],
        "accounts": project.test_accounts.count() if can_write else 0,
        "tolerance_s": deploys.TOLERANCE_S,
        "timestamp_header": deploys.TIMESTAMP_HEADER,
        "signature_header": deploys.SIGNATURE_HEADER,
        "hook_url": request.build_absolute_uri("/hooks/deploy"),
        "environment_url": request.build_absolute_uri("/hooks/environment"),
    })


@login_required
def deploys_page(request, project_id: int):
    """The project's deploys with their smoke tests, its rollback record and (for staff) the
    deploy webhook."""
    return _deploys_page(request, access.project_for(request.user, project_id))


@never_cache  # the one response that carries the token and secret in clear
@login_required
@require_POST
def hook_rotate(request, project_id: int):
    """Create the hook, or replace its token and secret; shows them once. The form names the
    hook it replaces (``replaces``: the first characters of its token's digest, or ``none``):
    reloading the answer sends the form again, and must not silently replace the token just
    shown with one nobody saw."""
    project = access.project_for(request.user, project_id, write=True)
    hook = DeployHook.objects.filter(project=project).only("token_sha256").first()
    if request.POST.get("replaces", "") != _hook_ref(hook):
        messages.error(request, "The webhook was already created or rotated (a reload sends the form "
                                "again): the token shown then is the one in use. Rotate again for a new one.")
        return redirect("deploys:list", project_id=project.pk)
    credentials = deploys.hook_rotate(project)
    messages.success(request, "Deploy hook ready. Copy the token and secret now: they are not shown again.")
    return _deploys_page(request, project, credentials=credentials)


def _hook_ref(hook) -> str:
    """What the rotate form says it replaces: ``none``, or 12 hex of the hook's token digest
    (a digest of a digest's prefix reveals nothing of the token)."""
    return hook.token_sha256[:12] if hook else "none"


@login_required
@require_POST
def rollback_drill(request, project_id: int):
    """Record that a rollback was carried out just now."""
    project = access.project_for(request.user, project_id, write=True)
    deploys.rollback_drill_record(project)
    messages.success(request, "Rollback drill recorded.")
    return redirect("deploys:list", project_id=project.pk)


@sensitive_post_parameters("secret")
@login_required
def test_accounts(request, project_id: int):
    """The project's test accounts (secrets masked) and the form to add one. Staff only."""
    project = access.project_for(request.user, project_id, write=True)
    form = TestAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = deploys.account_create(project, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Test account {account.label} added.")
            return redirect("deploys:accounts", project_id=project.pk)
    accounts = [{"account": a, "masked": mask(a.secret_encrypted)} for a in project.test_accounts.all()]
    return render(request, "projects/test_accounts.html",
                  {"project": project, "form": form, "accounts": accounts})


@login_required
@require_POST
def test_account_delete(request, project_id: int, account_id: int):
    account = access.test_account_for(request.user, project_id, account_id)
    deploys.account_delete(account)
    messages.success(request, f"Test account {account.label} removed.")
    return redirect("deploys:accounts", project_id=project_id)
