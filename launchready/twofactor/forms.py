"""The fields of the two-factor pages: a 6-digit code from the authenticator app, or one of
the recovery codes."""

from __future__ import annotations

from django import forms

from projects.recovery_models import ALPHABET, CODE_LENGTH, normalise


class CodeForm(forms.Form):
    """A 6-digit TOTP code; spaces and dashes the user types between groups are dropped."""

    code = forms.CharField(
        label="Code from the app", max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                      "pattern": "[0-9 -]*", "autofocus": True}),
        help_text="The 6 digits the authenticator app shows now.",
    )

    def clean_code(self) -> str:
        return six_digits(self.cleaned_data["code"])


def six_digits(typed: str) -> str:
    """``typed`` without the spaces and dashes people put between groups; raises
    ``ValidationError`` unless 6 digits remain."""
    code = typed.replace(" ", "").replace("-", "")
    if len(code) != 6 or not code.isdigit():
        raise forms.ValidationError("Enter the 6 digits the app shows.")
    return code


class ReplaceForm(CodeForm):
    """Moving to a new phone: the new app's code, and a code of the app on the current phone,
    so an unlocked session alone cannot put a stranger's phone in (a session signed in with
    a recovery code, the lost-phone path, uses ``CodeForm``)."""

    current_code = forms.CharField(
        label="Code from the app on your current phone", max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "pattern": "[0-9 -]*",
                                      "autofocus": True}),
        help_text="Lost it? Sign out, sign in with a recovery code, then come back here.",
    )
    field_order = ["current_code", "code"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].label = "Code from the app on the new phone"
        self.fields["code"].widget.attrs.pop("autofocus", None)

    def clean_current_code(self) -> str:
        return six_digits(self.cleaned_data["current_code"])


class RecoveryCodeForm(forms.Form):
    """One recovery code (projects/recovery_models.py): 10 characters, as printed
    ``xxxxx-xxxxx``; case, spaces, dashes and Crockford's look-alikes (o, i, l) do not matter."""

    recovery_code = forms.CharField(
        label="Recovery code", max_length=24,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none",
                                      "spellcheck": "false"}),
        help_text="One of the codes you saved when you set up two-factor sign-in, e.g. 7k2mq-x9d4f. "
                  "Each works once.",
    )

    def clean_recovery_code(self) -> str:
        code = normalise(self.cleaned_data["recovery_code"])
        if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
            raise forms.ValidationError("A recovery code is 10 letters and digits, e.g. 7k2mq-x9d4f.")
        return code
