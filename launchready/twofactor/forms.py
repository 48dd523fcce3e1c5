"""The one field of every two-factor page: a 6-digit code from the authenticator app."""

from __future__ import annotations

from django import forms


class CodeForm(forms.Form):
    """A 6-digit TOTP code; spaces and dashes the user types between groups are dropped."""

    code = forms.CharField(
        label="Code from the app", max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                      "pattern": "[0-9 -]*", "autofocus": True}),
        help_text="The 6 digits the authenticator app shows now.",
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].replace(" ", "").replace("-", "")
        if len(code) != 6 or not code.isdigit():
            raise forms.ValidationError("Enter the 6 digits the app shows.")
        return code
