"""The password-reset request page: throttled, and its mail's link built on ``SITE_URL``.

Throttle (django-ratelimit, counters in the cache — Redis when ``REDIS_URL`` is set): each
POST counts once against the client's address and once against the address typed in the form
(lower-cased); past ``PASSWORD_RESET_RATE`` (e.g. ``5/h``) on either, the page answers 429 and
sends nothing. The per-address limit stops anyone from flooding one person's inbox; the
per-client limit stops one client from walking a list of addresses. The answer is the same
whether or not an account uses the address, so the throttle reveals nothing about accounts.

Link: Django builds it from ``domain_override`` and ``use_https``; both come from
``settings.SITE_URL``, never from the request's Host header (which a client chooses: with it,
a reset mail for a victim could carry a link to the attacker's host, and the token with it).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django_ratelimit.core import is_ratelimited

GROUP = "password-reset"
PERIODS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


def rate_text(rate: str) -> str:
    """``"5/h"`` → ``"5 per hour"`` (the rate's shape is checked in settings)."""
    count, period = rate.split("/")
    return f"{count} per {PERIODS[period]}"


def _email_key(group: str, request: HttpRequest) -> str:
    """The rate-limit key of the address typed in the form: stripped and lower-cased, so
    ``Alice@Example.com`` and ``alice@example.com`` share one counter."""
    return request.POST.get("email", "").strip().lower()


def reset_throttled(request: HttpRequest) -> bool:
    """Count this POST against the client's address and the typed address; True when either
    is past ``settings.PASSWORD_RESET_RATE``. Both counters are always incremented."""
    by_client = is_ratelimited(request, group=GROUP, key="ip", rate=settings.PASSWORD_RESET_RATE,
                               method="POST", increment=True)
    by_address = is_ratelimited(request, group=GROUP + ":email", key=_email_key,
                                rate=settings.PASSWORD_RESET_RATE, method="POST", increment=True)
    return by_client or by_address


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request page with the throttle above and ``SITE_URL`` links."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if reset_throttled(request):
            return render(request, "registration/password_reset_throttled.html",
                          {"rate": rate_text(settings.PASSWORD_RESET_RATE)}, status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form) -> HttpResponse:
        """Django's ``form_valid`` with the link's host and scheme taken from ``SITE_URL``
        (Django's own takes the scheme from the request and the host from ``Host``)."""
        site = urlsplit(settings.SITE_URL)
        form.save(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            token_generator=self.token_generator,
            from_email=self.from_email,
            email_template_name=self.email_template_name,
            subject_template_name=self.subject_template_name,
            request=self.request,
            html_email_template_name=self.html_email_template_name,
            extra_email_context={"site_name": "Launch Ready", "site_url": settings.SITE_URL},
        )
        return HttpResponseRedirect(self.get_success_url())
