"""Sign-up pages: the form, "check your inbox", and the confirmation link (``projects.signup``).

Throttle (django-ratelimit, counters in the cache, as ``launchready/password_reset.py``): each
sign-up POST counts against the client's address and against the typed address; past
``SIGNUP_RATE`` (e.g. ``5/h``) on either, the page answers 429 and sends nothing.

The confirmation link opens a page with a button: the account is confirmed by the POST, so a
mail scanner that fetches links does not use up the single-use link.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from launchready.password_reset import rate_text
from projects import audit_log, signup

GROUP = "signup"


class SignupForm(forms.Form):
    agency_name = forms.CharField(
        label="Agency name", max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "organization", "autofocus": True}))
    email = forms.EmailField(label="Your email", max_length=254,
                             help_text="You will be the agency's owner. We send a link to confirm it.",
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(label="Choose a password", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label="Type it again", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from django.contrib.auth import password_validation

        self.fields["password1"].help_text = " ".join(password_validation.password_validators_help_texts())

    def clean_agency_name(self) -> str:
        name = " ".join(self.cleaned_data["agency_name"].split())
        if not name:
            raise ValidationError("Give your agency a name.")
        return name

    @sensitive_variables("first", "second")
    def clean(self) -> dict:
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first and cleaned.get("email"):
            try:
                signup.validate_password(first, cleaned["email"].strip().lower())
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


def _email_key(group: str, request: HttpRequest) -> str:
    return request.POST.get("email", "").strip().lower()


def signup_throttled(request: HttpRequest) -> bool:
    """Count this POST against the client's address and the typed address; True when either
    is past ``settings.SIGNUP_RATE``."""
    by_client = is_ratelimited(request, group=GROUP, key="ip", rate=settings.SIGNUP_RATE,
                               method="POST", increment=True)
    by_address = is_ratelimited(request, group=GROUP + ":email", key=_email_key,
                                rate=settings.SIGNUP_RATE, method="POST", increment=True)
    return by_client or by_address


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def signup_page(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: throttle, then the same "check your inbox" page whether the
    address is new, unconfirmed or already has an account."""
    if request.user.is_authenticated:
        return redirect("projects:list")
    if request.method == "POST" and signup_throttled(request):
        return render(request, "registration/signup_throttled.html",
                      {"rate": rate_text(settings.SIGNUP_RATE)}, status=429)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            signup.sign_up(agency_name=form.cleaned_data["agency_name"], email=form.cleaned_data["email"],
                           password=form.cleaned_data["password1"])
        except signup.SignupMailNotSent:
            form.add_error(None, "We could not send the confirmation mail just now. "
                                 "Try again in a few minutes.")
        else:
            return render(request, "registration/signup_sent.html", {
                "email": form.cleaned_data["email"].strip().lower(),
                "ttl_hours": settings.SIGNUP_CONFIRM_TTL_HOURS,
            })
    return render(request, "registration/signup.html", {"form": form})


@sensitive_variables("token")
@never_cache
@require_http_methods(["GET", "POST"])
def signup_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a button to confirm (the link is single use). POST: activate, sign in, and land
    in the (empty) project list with its first-project guide."""
    try:
        user = signup.pending_user(token)
    except signup.ConfirmationInvalid:
        return render(request, "registration/signup_invalid.html", status=410)
    if request.method == "GET":
        return render(request, "registration/signup_confirm.html", {"email": user.email})
    try:
        user = signup.confirm(token)
    except signup.ConfirmationInvalid:
        return render(request, "registration/signup_invalid.html", status=410)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    membership = user.memberships.select_related("agency").first()
    if membership is not None:
        audit_log.note(request, agency=membership.agency, obj=membership.agency,
                       summary=f"Confirmed the sign-up of {user.email} (owner)")
    messages.success(request, "Your address is confirmed. Welcome to Launch Ready.")
    return redirect("projects:list")
