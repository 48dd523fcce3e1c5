"""The two-factor pages: the security overview (status, set-up, turn off, recovery codes, and
the owner's switch that makes it mandatory), the set-up page, the verify step after the
password (with the app's code or a recovery code) and the page that shows new recovery codes
once."""

from __future__ import annotations

import json

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from launchready import crypto
from launchready.twofactor import services
from launchready.twofactor.forms import CodeForm, RecoveryCodeForm, ReplaceForm
from projects import access, audit_log
from projects.recovery_models import CODE_COUNT

WRONG_CODE = "That code is not right. Check the phone's clock and enter the code shown now."
BAD_SHAPE = "Enter the 6 digits the app shows."
SLOW_DOWN = "Too many wrong codes: wait a few seconds, then enter the code shown now."
CODES_SESSION_KEY = "twofactor_codes_to_show"  # a Fernet token, popped by the page that shows them
CODE_SPENT = "That code was just used. Wait for the app's next code (a new one every 30 s) and enter it."
LOOKS_LIKE_RECOVERY = ("That looks like a recovery code: open “Lost the phone? Use a recovery code” below "
                       "and enter it there.")
WRONG_RECOVERY_CODE = ("That recovery code is not right: it may have been used already, or replaced by "
                       "newer codes.")
SLOW_DOWN_RECOVERY = "Too many wrong recovery codes: wait a few seconds, then try again."
KEY_UNREADABLE = ("This server can no longer read the key of your authenticator app (its encryption "
                  "keys were changed), so no code can be checked. Ask an administrator to reset "
                  "your two-factor sign-in, then set it up again.")


def _next_url(request: HttpRequest, default: str) -> str:
    """``next`` from the query or form when it is a path of this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return default


def _refusal(device) -> str | None:
    """Why a code would be refused before it is even tried: wrong codes just before slow the
    next try down (django-otp's throttle: 1 s, 2 s, 4 s …), or the stored key cannot be
    decrypted (``crypto.SecretDecryptionError``: a key removed from FIELD_ENCRYPTION_KEYS;
    only an administrator's reset helps). None when a code may be tried."""
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return SLOW_DOWN
    return None if device.key_readable else KEY_UNREADABLE


def _try_code(device, code: str) -> str | None:
    """Try ``code`` on ``device`` (a confirmed one); the error to show, or None if accepted.
    A code already used (signing in, then at once another page asking for one) is told
    apart from a wrong one: the person waits for the next, not checks the phone's clock."""
    refusal = _refusal(device)
    if refusal is not None:
        return refusal
    if device.verify_token(code):
        return None
    return CODE_SPENT if device.is_spent(code) else WRONG_CODE


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """The security page: two-factor status, and for each agency the user owns, whether its
    staff must use it."""
    return _overview(request)


def _overview(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    """The security page; with ``status`` 400 when it answers a refused change (its message
    already added), so the audit log does not record a change that was not made."""
    return render(request, "twofactor/overview.html", {
        "device": services.confirmed_device(request.user),
        "required_by": services.requiring_agencies(request.user),
        "owned": access.owned_agencies(request.user),
        "verified": request.user.is_verified(),
        "codes_left": services.recovery_codes_left(request.user),
        "code_count": CODE_COUNT,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }, status=status)


@never_cache  # the page shows the key in clear
@login_required
def enroll(request: HttpRequest) -> HttpResponse:
    """Set up (or replace) the authenticator app: a QR code and the key to type, confirmed
    with a code. A user who already has a device reaches this page only with a verified
    session (the middleware sends them to verify first), and replaces it only with a code of
    the current app too — unless this session signed in with a recovery code (the phone is
    lost)."""
    device = services.pending_device(request.user)
    current = services.confirmed_device(request.user)
    needs_current = current is not None and not services.signed_in_with_recovery_code(request.user)
    form = (ReplaceForm if needs_current else CodeForm)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        refusal = _refusal(device)
        current_error = None
        if needs_current and refusal is None:
            current_error = _try_code(current, form.cleaned_data["current_code"])
        if current_error is not None:
            form.add_error("current_code", current_error)
        elif refusal is None and services.confirm(device, form.cleaned_data["code"]):
            django_otp.login(request, device)
            request.session.cycle_key()  # a new session id for the now stronger sign-in
            _note_set_up(request, moved=current is not None)
            next_url = _next_url(request, reverse("twofactor:overview"))
            # A first set-up (or one after an administrator's reset) gets new recovery codes:
            # old ones may be as lost as the phone. Moving to a new phone keeps the codes held.
            if current is None or not services.recovery_codes_left(request.user):
                had_codes = services.recovery_device(request.user) is not None
                codes = services.recovery_codes_replace(request.user)
                return _show_codes(request, codes, next_url, replaced=had_codes)
            return redirect(next_url)
        else:
            form.add_error("code", refusal or WRONG_CODE)
    # 400 for a refused code: nothing changed (the audit log records answers below 400).
    return render(request, "twofactor/enroll.html", {
        "form": form, "qr_svg": services.qr_svg(device), "secret": services.secret_text(device),
        "required_by": services.requiring_agencies(request.user),
        "replacing": current is not None, "needs_current": needs_current,
        "next": _next_url(request, ""),
    }, status=400 if form.errors else 200)


@never_cache
@sensitive_post_parameters("recovery_code")  # starred in error reports: an unspent code lasts
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The step after the password for a user with a device: the session counts as signed in
    only once a code from the app is accepted."""
    device = services.confirmed_device(request.user)
    if device is None or request.user.is_verified():
        return redirect(_next_url(request, reverse("projects:list")))
    with_recovery = "recovery_code" in request.POST
    form = CodeForm(request.POST if request.method == "POST" and not with_recovery else None)
    recovery_form = RecoveryCodeForm(request.POST if with_recovery else None)
    if form.is_bound and form.is_valid():
        error = _try_code(device, form.cleaned_data["code"])
        if error is None:
            return _signed_in(request, device)
        form.add_error("code", error)
    elif form.is_bound and RecoveryCodeForm({"recovery_code": request.POST.get("code", "")}).is_valid():
        form.errors["code"] = form.error_class([LOOKS_LIKE_RECOVERY])
    if recovery_form.is_bound and recovery_form.is_valid():
        recovery = services.recovery_device(request.user)
        error = _try_recovery_code(recovery, recovery_form.cleaned_data["recovery_code"])
        if error is None:
            left = services.recovery_codes_left(request.user)
            audit_log.note_own(request, action="user.recovery_code_used",
                               summary=f"{request.user.get_username()} signed in with a recovery code "
                                       f"({left} left)")
            messages.warning(request, _after_recovery(left))
            return _signed_in(request, recovery)
        recovery_form.add_error("recovery_code", error)
    return render(request, "twofactor/verify.html", {
        "form": form, "recovery_form": recovery_form, "with_recovery": with_recovery,
        "next": _next_url(request, ""),
    }, status=400 if form.errors or recovery_form.errors else 200)


def _note_set_up(request: HttpRequest, *, moved: bool) -> None:
    """The message and the audit-log entry of a confirmed set-up: a first one, or a move."""
    name = request.user.get_username()
    if moved:
        audit_log.note_own(request, action="user.two_factor_moved",
                           summary=f"{name} moved two-factor sign-in to a new phone")
        messages.success(request, "Moved to the new phone: its app's codes sign you in now, the old "
                                  "phone's no longer do.")
        return
    audit_log.note_own(request, action="user.two_factor_on", summary=f"{name} turned on two-factor sign-in")
    messages.success(request, "Two-factor sign-in is on: each sign-in now asks for a code from the app.")


def _signed_in(request: HttpRequest, device) -> HttpResponse:
    """Log the session in with ``device`` under a new session id, and go on."""
    django_otp.login(request, device)
    request.session.cycle_key()
    return redirect(_next_url(request, reverse("projects:list")))


@sensitive_variables()  # the code in clear, here and in every frame below
def _try_recovery_code(device, code: str) -> str | None:
    """Try recovery ``code`` on the user's set (None when they have none); the error to show,
    or None if accepted (the code is then used up)."""
    if device is None:
        return WRONG_RECOVERY_CODE
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return SLOW_DOWN_RECOVERY
    return None if device.verify_token(code) else WRONG_RECOVERY_CODE


def _after_recovery(left: int) -> str:
    """What a user signed in with a recovery code reads next: set up the app again, and how
    many codes remain."""
    remaining = "no recovery codes left" if not left else f"{left} recovery code{pluralize(left)} left"
    return (f"Signed in with a recovery code: that code no longer works, and you have {remaining}. "
            "If the phone is lost, set up the app on a new one now (Security → Move to a new phone), "
            "then make new recovery codes.")


@sensitive_variables("codes", "shown")
def _show_codes(request: HttpRequest, codes: list[str], next_url: str, *, replaced: bool) -> HttpResponse:
    """Send the browser to the page that shows ``codes`` once (Post/Redirect/Get: a reload
    must not send the form again, which would make other codes or report a spent app code
    as wrong). Until that page is opened the codes wait in the session as a Fernet token
    (``launchready.crypto``), never in clear."""
    shown = json.dumps({"codes": codes, "next": next_url, "replaced": replaced})
    request.session[CODES_SESSION_KEY] = crypto.encrypt(shown)
    return redirect("twofactor:recovery_codes")


@sensitive_variables("shown")
def _codes_page(request: HttpRequest) -> HttpResponse:
    """The codes waiting in the session, shown and forgotten; without any (a reload, a
    bookmark), the security page says where new ones are made."""
    token = request.session.pop(CODES_SESSION_KEY, None)
    try:
        shown = json.loads(crypto.decrypt(token)) if token else None
    except crypto.SecretDecryptionError:
        shown = None
    if shown is None:
        messages.info(request, "Recovery codes are shown once, just after they are made. If you did not "
                               "save them, make new ones below: the old ones then stop working.")
        return redirect(reverse("twofactor:overview") + "#recovery")
    return render(request, "twofactor/recovery_codes.html", shown)


def _without_app_code(request: HttpRequest, device, *, refused: str) -> HttpResponse | None:
    """The security page (400) saying ``refused`` and why, unless the POST carries a right
    current code from ``device``'s app (``templates/twofactor/_app_code_form.html``); None
    when it does, and the action may go on."""
    form = CodeForm(request.POST)
    error = _try_code(device, form.cleaned_data["code"]) if form.is_valid() else BAD_SHAPE
    if error is None:
        return None
    messages.error(request, f"{refused} {error}")
    return _overview(request, status=400)


@never_cache  # the answer shows the new codes in clear
@sensitive_variables("codes")
@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """GET: the codes just made, this once. POST: make new recovery codes (the old ones stop
    working) and go show them. Asks for a current code from the app, as turning two-factor
    off does: a stolen unlocked session alone must not mint itself a way back in."""
    if request.method != "POST":
        return _codes_page(request)
    device = services.confirmed_device(request.user)
    if device is None:
        return redirect("twofactor:overview")
    refused = _without_app_code(request, device, refused="No new recovery codes were made.")
    if refused is not None:
        return refused
    codes = services.recovery_codes_replace(request.user)
    audit_log.note_own(request, action="user.recovery_codes_new",
                       summary=f"{request.user.get_username()} made new recovery codes")
    return _show_codes(request, codes, reverse("twofactor:overview"), replaced=True)


@require_POST
@login_required
def disable(request: HttpRequest) -> HttpResponse:
    """Turn two-factor off, with a current code (a stolen unlocked session alone cannot).
    Refused while an agency the user is staff of requires it."""
    device = services.confirmed_device(request.user)
    if device is None:
        return redirect("twofactor:overview")
    required_by = services.requiring_agencies(request.user)
    if required_by:
        messages.error(request, f"{required_by[0].name} requires two-factor sign-in for its staff: "
                                "it cannot be turned off. Set up a new phone instead.")
        return _overview(request, status=400)
    refused = _without_app_code(request, device, refused="Two-factor sign-in is still on.")
    if refused is not None:
        return refused
    services.disable(request.user)
    audit_log.note_own(request, action="user.two_factor_off",
                       summary=f"{request.user.get_username()} turned off two-factor sign-in")
    request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
    messages.success(request, "Two-factor sign-in is off.")
    return redirect("twofactor:overview")


@require_POST
@login_required
def agency_requirement(request: HttpRequest, agency_id: int) -> HttpResponse:
    """An owner makes two-factor mandatory (or optional) for the agency's staff. To make it
    mandatory the owner must be signed in with two-factor themselves: no one is made to
    depend on a step its owner has not taken."""
    agency = access.agency_for_owner(request.user, agency_id)
    required = request.POST.get("required") == "on"
    if required and not request.user.is_verified():
        messages.error(request, "Turn on two-factor sign-in for yourself first.")
        return _overview(request, status=400)
    changed = services.set_requirement(agency, required=required)
    state = "mandatory" if required else "optional"
    audit_log.note(request, agency=agency, obj=agency,
                   action="agency.two_factor_required" if required else "agency.two_factor_optional",
                   summary=f"Two-factor sign-in made {state} for staff" + ("" if changed else " (no change)"))
    if changed:
        messages.success(request, f"Two-factor sign-in is now {'mandatory' if required else 'optional'} "
                                  f"for the staff of {agency.name}.")
    return redirect("twofactor:overview")
