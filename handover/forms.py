"""Forms of the handover record page: the texts (deploy steps, rollback, monitoring links) and
one formset per list (secret locations, access map, owners, runbook).

Every text field refuses a value that looks like a secret (``checks/engine/secretlike.py``):
the handover records where a secret lives, never what it is.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from checks.engine.handover_record import link_lines
from checks.engine.secretlike import secret_like
from handover.models import AccessEntry, AreaOwner, HandoverRecord, RunbookEntry, SecretLocation

NOT_THE_VALUE = "This looks like {what}: record where it lives, not the value."


class NoSecretsMixin:
    """Refuse every text value of the form that looks like a secret (``NOT_THE_VALUE`` on its
    field), after the fields' own cleaning. The refused value is blanked in the form's data, so
    the page that shows the error does not echo the secret back."""

    def clean(self):
        cleaned = super().clean()
        # The submitted values, not only the cleaned ones: a secret that also failed its own
        # field's rule (too long, say) never reaches cleaned_data, and would be echoed back.
        for name in self.fields:
            raw = self.data.get(self.add_prefix(name))
            if isinstance(raw, str) and (what := secret_like(raw)):
                self.add_error(name, ValidationError(NOT_THE_VALUE.format(what=what), code="secret_value"))
                self.data = self.data.copy()
                self.data[self.add_prefix(name)] = ""
        return cleaned


def _text(rows: int, placeholder: str = "") -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "placeholder": placeholder})


class RecordForm(NoSecretsMixin, forms.ModelForm):
    """Deploy steps and monitoring links (the record), plus the project's rollback notes."""

    rollback_notes = forms.CharField(
        label="Rollback", required=False,
        widget=_text(4, "`paas rollback v<N>` restores the previous release …"),
        help_text="How to return to the previous release, how long it takes, what to do about migrations.",
    )

    class Meta:
        model = HandoverRecord
        fields = ["deploy_steps", "rollback_notes", "monitoring_links"]
        labels = {"deploy_steps": "Deploy steps", "monitoring_links": "Monitoring links"}
        help_texts = {
            "deploy_steps": "How a release reaches production: the command or CI job, where it runs, "
                            "who may run it.",
            "monitoring_links": "One per line: a label and its URL, e.g. Uptime https://status.example.com",
        }
        widgets = {
            "deploy_steps": _text(5, "1. Merge into main; CI runs the tests …"),
            "monitoring_links": _text(3, "Uptime https://status.example.com"),
        }

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["rollback_notes"].initial = project.rollback_notes

    def clean_monitoring_links(self) -> str:
        text = self.cleaned_data["monitoring_links"].strip()
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        without = [n for n, line in enumerate(lines, 1) if not link_lines(line)]
        if without:
            raise ValidationError(
                f"Line {without[0]} has no link: write a label and an http(s):// URL on each line."
            )
        return "\n".join(lines)

    def save(self, commit: bool = True) -> HandoverRecord:
        record = super().save(commit=commit)
        if "rollback_notes" in self.changed_data:
            self.project.rollback_notes = self.cleaned_data["rollback_notes"]
            self.project.save(update_fields=["rollback_notes", "updated_at"])
        return record


class SecretLocationForm(NoSecretsMixin, forms.ModelForm):
    class Meta:
        model = SecretLocation
        fields = ["name", "store", "path", "who_can_access"]
        labels = {"name": "What it is", "store": "Store", "path": "Path in the store",
                  "who_can_access": "Who can reach it"}
        help_texts = {"name": "", "store": "1Password, AWS Secrets Manager, the host's config vars …"}
        widgets = {"name": forms.TextInput(attrs={"placeholder": "Stripe live secret key"}),
                   "store": forms.TextInput(attrs={"placeholder": "1Password"}),
                   "path": forms.TextInput(attrs={"placeholder": "Vault Clubhouse / item Stripe"}),
                   "who_can_access": forms.TextInput(attrs={"placeholder": "Priya, Sam"})}


class AccessEntryForm(NoSecretsMixin, forms.ModelForm):
    url = forms.URLField(label="URL", required=False, max_length=500, assume_scheme="https",
                         widget=forms.URLInput(attrs={"placeholder": "https://dashboard.stripe.com/"}))

    class Meta:
        model = AccessEntry
        fields = ["system", "url", "owner", "mfa", "people_with_access"]
        labels = {"people_with_access": "Who can log in", "mfa": "MFA"}
        widgets = {"system": forms.TextInput(attrs={"placeholder": "Hosting, DNS registrar, Stripe …"}),
                   "people_with_access": forms.TextInput(attrs={"placeholder": "Sam, Dana"})}


class AreaOwnerForm(NoSecretsMixin, forms.ModelForm):
    class Meta:
        model = AreaOwner
        fields = ["area", "owner", "contact"]
        widgets = {"area": forms.TextInput(attrs={"placeholder": "Payments"}),
                   "contact": forms.TextInput(attrs={"placeholder": "sam@example.com, +44 …"})}


class RunbookEntryForm(NoSecretsMixin, forms.ModelForm):
    class Meta:
        model = RunbookEntry
        fields = ["title", "steps"]
        labels = {"title": "If this breaks", "steps": "What to do"}
        widgets = {"title": forms.TextInput(attrs={"placeholder": "Stripe webhooks failing"}),
                   "steps": _text(5, "1. …")}


class _ProjectRows(forms.BaseModelFormSet):
    """A formset over one project's rows; new rows join the project (runbook entries last)."""

    def __init__(self, *args, project, **kwargs):
        self.project = project
        kwargs.setdefault("queryset", self.model.objects.filter(project=project))
        super().__init__(*args, **kwargs)

    def save_new(self, form, commit=True):
        form.instance.project = self.project
        if isinstance(form.instance, RunbookEntry):
            last = max((e.position for e in self.project.runbook_entries.all()), default=0)
            form.instance.position = last + 1
        return super().save_new(form, commit=commit)


def _formset(model, form):
    return forms.modelformset_factory(model, form=form, formset=_ProjectRows, extra=1, can_delete=True,
                                      max_num=100, validate_max=True)


SecretLocationFormSet = _formset(SecretLocation, SecretLocationForm)
AccessEntryFormSet = _formset(AccessEntry, AccessEntryForm)
AreaOwnerFormSet = _formset(AreaOwner, AreaOwnerForm)
RunbookEntryFormSet = _formset(RunbookEntry, RunbookEntryForm)
