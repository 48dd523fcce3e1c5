"""The two-factor pages: the security overview (status, set-up, turn off, and the owner's
switch that makes it mandatory), the set-up page and the verify step after the password."""

from __future__ import annotations

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from launchready.twofactor import services
from launchready.twofactor.forms import CodeForm
from projects import access, audit_log

WRONG_CODE = "That code is not right. Check the phone's clock and enter the code shown now."
BAD_SHAPE = "Enter the 6 digits the app shows."
SLOW_DOWN = "Too many wrong codes: wait a few seconds, then enter the code shown now."
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
    """Try ``code`` on ``device`` (a confirmed one); the error to show, or None if accepted."""
    refusal = _refusal(device)
    if refusal is not None:
        return refusal
    return None if device.verify_token(code) else WRONG_CODE


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
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }, status=status)


@never_cache  # the page shows the key in clear
@login_required
def enroll(request: HttpRequest) -> HttpResponse:
    """Set up (or replace) the authenticator app: a QR code and the key to type, confirmed
    with a code. A user who already has a device reaches this page only with a verified
    session (the middleware sends them to verify first)."""
    device = services.pending_device(request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        refusal = _refusal(device)
        if refusal is None and services.confirm(device, form.cleaned_data["code"]):
            django_otp.login(request, device)
            request.session.cycle_key()  # a new session id for the now stronger sign-in
            audit_log.note(request, action="user.two_factor_on",
                           summary=f"{request.user.get_username()} turned on two-factor sign-in")
            messages.success(request, "Two-factor sign-in is on: each sign-in now asks for a code "
                                      "from the app.")
            return redirect(_next_url(request, reverse("twofactor:overview")))
        form.add_error("code", refusal or WRONG_CODE)
    # 400 for a refused code: nothing changed (the audit log records answers below 400).
    return render(request, "twofactor/enroll.html", {
        "form": form, "qr_svg": services.qr_svg(device), "secret": services.secret_text(device),
        "required_by": services.requiring_agencies(request.user),
        "replacing": services.confirmed_device(request.user) is not None,
        "next": _next_url(request, ""),
    }, status=400 if form.errors else 200)


@never_cache
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The step after the password for a user with a device: the session counts as signed in
    only once a code from the app is accepted."""
    device = services.confirmed_device(request.user)
    if device is None or request.user.is_verified():
        return redirect(_next_url(request, reverse("projects:list")))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        error = _try_code(device, form.cleaned_data["code"])
        if error is None:
            django_otp.login(request, device)
            request.session.cycle_key()
            return redirect(_next_url(request, reverse("projects:list")))
        form.add_error("code", error)
    return render(request, "twofactor/verify.html", {"form": form, "next": _next_url(request, "")},
                  status=400 if form.errors else 200)


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
    form = CodeForm(request.POST)
    error = _try_code(device, form.cleaned_data["code"]) if form.is_valid() else BAD_SHAPE
    if error is not None:
        messages.error(request, f"Two-factor sign-in is still on. {error}")
        return _overview(request, status=400)
    services.disable(request.user)
    audit_log.note(request, action="user.two_factor_off",
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
