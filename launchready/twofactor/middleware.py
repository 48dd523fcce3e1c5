"""Holds a signed-in user at the two-factor step until it is done.

After ``django_otp.middleware.OTPMiddleware`` (which gives ``request.user.is_verified()``): a
signed-in user whose session is not verified with a device is sent

- to the verify page when they have a confirmed device (the password alone is not enough);
- to the set-up page when they have none but an agency they are staff of requires one.

Only that one page, the login page and logout stay open meanwhile, so every other page, the
admin and any session-authenticated API call are behind the second factor; a held session
calling the API (``/api/``) gets 403 with a JSON ``detail`` naming that page, not a redirect to
HTML. Requests without a signed-in user (anonymous pages, API keys) pass untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from launchready.twofactor import services

API_PREFIX = "/api/"


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not user.is_verified():
            # CurrentAgencyMiddleware (before this one) loaded every membership with its agency.
            target = self._target(user, getattr(request, "memberships", None))
            # Half signed in: the pages left open show no menu of pages that would send back here.
            request.two_factor_pending = target is not None
            if target is not None and request.path_info not in self._open_paths(target):
                if request.path_info.startswith(API_PREFIX):  # a program: JSON it can read, not a page
                    return JsonResponse({"detail": f"Finish two-factor sign-in first: {reverse(target)}"},
                                        status=403)
                return HttpResponseRedirect(self._redirect_url(request, target))
        return self.get_response(request)

    @staticmethod
    def _target(user, memberships) -> str | None:
        has_device, required = services.gate(user, memberships)
        if has_device:
            return "twofactor:verify"
        if required:
            return "twofactor:enroll"
        return None

    @staticmethod
    def _open_paths(target: str) -> set[str]:
        return {reverse(target), reverse("login"), reverse("logout")}

    @staticmethod
    def _redirect_url(request: HttpRequest, target: str) -> str:
        """The two-factor page, with ``next`` = the page asked for (GET only: a POST's target
        is not a page to come back to)."""
        url = reverse(target)
        if request.method == "GET":
            url += "?" + urlencode({"next": request.get_full_path()})
        return url
