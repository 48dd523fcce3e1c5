"""Forms of the secret scan page: the repository URL, an archive upload, accepting a secret."""

from __future__ import annotations

from django import forms

from projects.secret_scan import ARCHIVE_LIMITS, MAX_REASON_CHARS

_MB = 1_000_000


class RepositoryUrlForm(forms.Form):
    """The git URL the audit clones (checked by the service with the intake's own rules)."""

    url = forms.CharField(
        label="Repository URL", required=False, max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://github.com/acme/app.git", "autocomplete": "off",
                                     "spellcheck": "false", "inputmode": "url"}),
        help_text="https only, readable without a password (no user or token in it). The audit clones "
                  "every branch and tag with the whole history. Leave blank to scan only an upload.",
    )


class RepositoryArchiveForm(forms.Form):
    """A zip or tar.gz of the repository; its bytes are read here, at most the cap plus one."""

    file = forms.FileField(
        label="Upload a zip or tar.gz",
        help_text=f"At most {ARCHIVE_LIMITS.max_archive_bytes / _MB:g} MB, "
                  f"{ARCHIVE_LIMITS.max_total_bytes / _MB:g} MB unpacked. Include the .git folder and the "
                  "whole history is scanned too. An upload is scanned instead of the URL.",
        widget=forms.FileInput(attrs={"accept": ".zip,.tar.gz,.tgz"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > ARCHIVE_LIMITS.max_archive_bytes:
            raise forms.ValidationError(
                f"This archive is larger than {ARCHIVE_LIMITS.max_archive_bytes / _MB:g} MB: leave out "
                "build output and dependencies (node_modules, vendor), or give the repository's URL.")
        upload.seek(0)
        self.cleaned_data["data"] = upload.read(ARCHIVE_LIMITS.max_archive_bytes + 1)
        return upload


class AcceptSecretForm(forms.Form):
    """Accept one secret of the latest scan, by fingerprint, with a reason."""

    fingerprint = forms.CharField(max_length=200, widget=forms.HiddenInput)
    reason = forms.CharField(
        label="Why it is acceptable", max_length=MAX_REASON_CHARS,
        widget=forms.TextInput(attrs={"placeholder": "Stripe test key / revoked on 2026-11-30 …"}),
    )
