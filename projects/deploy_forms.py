"""The test account form of the Deploys pages. The secret is write-only: the form never
renders it back (``PasswordInput(render_value=False)``)."""

from __future__ import annotations

from django import forms

from projects.hardening_models import TestAccount


class TestAccountForm(forms.Form):
    """A new test account: label, login kind, user name, secret and the form's field names or
    the cookie's name. ``account_create`` validates the combinations."""

    label = forms.CharField(max_length=100, help_text="How the account is named in results: alice, member-1.")
    login = forms.ChoiceField(choices=TestAccount.Login.choices, initial="form", widget=forms.RadioSelect)
    username = forms.CharField(max_length=254, required=False, label="User name",
                               help_text="What the login form's user field gets (often an email address).")
    secret = forms.CharField(
        max_length=4000, strip=False, label="Password, cookie value or token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted; never shown again.",
    )
    username_field = forms.CharField(max_length=100, initial="username", required=False,
                                     label="Form's user field")
    password_field = forms.CharField(max_length=100, initial="password", required=False,
                                     label="Form's password field")
    cookie_name = forms.CharField(max_length=100, required=False, label="Session cookie name",
                                  help_text="For a session cookie login: sessionid, _app_session …")
