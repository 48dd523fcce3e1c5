"""The project form: hosts and endpoints typed by a consultant, validated before saving."""

from __future__ import annotations

from django import forms

from checks.engine.hostnames import InvalidHostname, normalize_hostname
from checks.engine.spec import ENDPOINT_KINDS
from projects.models import Endpoint, Project

METHODS = {m for m, _ in Endpoint.METHODS}


class ProjectForm(forms.ModelForm):
    subdomains_text = forms.CharField(
        label="Subdomains", required=False, initial="www, app, api, admin",
        help_text="Labels under the apex, separated by commas",
    )
    endpoints_text = forms.CharField(
        label="Critical endpoints", required=False, widget=forms.Textarea(attrs={"rows": 5}),
        help_text="One per line: kind [METHOD] URL — kinds: " + ", ".join(ENDPOINT_KINDS),
    )

    class Meta:
        model = Project
        fields = ["agency", "name", "client_name", "apex_domain", "preferred_host", "rollback_notes"]
        widgets = {"rollback_notes": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies
        if agencies.count() == 1:
            self.fields["agency"].initial = agencies.first()
        if self.instance.pk:
            self.fields["agency"].disabled = True
            self.fields["subdomains_text"].initial = ", ".join(self.instance.subdomains or [])
            self.fields["endpoints_text"].initial = "\n".join(
                f"{e.kind} {e.method} {e.url}" for e in self.instance.endpoints.all()
            )

    def clean_apex_domain(self) -> str:
        return _hostname(self.cleaned_data["apex_domain"])

    def clean_preferred_host(self) -> str:
        value = self.cleaned_data.get("preferred_host", "").strip()
        return _hostname(value) if value else ""

    def clean_subdomains_text(self) -> list[str]:
        labels = [s.strip().lower() for s in self.cleaned_data["subdomains_text"].split(",") if s.strip()]
        for label in labels:
            _hostname(f"{label}.example.com")
        return list(dict.fromkeys(labels))

    def clean_endpoints_text(self) -> list[tuple[str, str, str]]:
        endpoints = []
        url_field = forms.URLField()
        for number, line in enumerate(self.cleaned_data["endpoints_text"].splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            kind, method = parts[0].lower(), "GET"
            if len(parts) == 3:
                method = parts[1].upper()
            if len(parts) not in (2, 3) or kind not in ENDPOINT_KINDS or method not in METHODS:
                raise forms.ValidationError(
                    f"Line {number}: write 'kind [METHOD] URL', kind one of {', '.join(ENDPOINT_KINDS)}"
                )
            try:
                url = url_field.clean(parts[-1])
            except forms.ValidationError:
                raise forms.ValidationError(f"Line {number}: {parts[-1]!r} is not a URL") from None
            if not url.startswith(("http://", "https://")):
                raise forms.ValidationError(f"Line {number}: the URL must start with http:// or https://")
            endpoints.append((kind, method, url))
        return endpoints

    def save(self, commit: bool = True) -> Project:
        project = super().save(commit=False)
        project.subdomains = self.cleaned_data["subdomains_text"]
        if commit:
            project.save()
            project.endpoints.all().delete()
            Endpoint.objects.bulk_create(
                Endpoint(project=project, kind=k, method=m, url=u)
                for k, m, u in self.cleaned_data["endpoints_text"]
            )
        return project


def _hostname(value: str) -> str:
    try:
        return normalize_hostname(value)
    except InvalidHostname as exc:
        raise forms.ValidationError(str(exc)) from None
