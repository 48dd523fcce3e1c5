"""The project form: hosts and endpoints typed by a consultant, validated before saving."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from checks.engine.email.providers import InvalidMailSetting, mail_providers, sending_networks
from checks.engine.hostnames import InvalidHostname, dkim_selector, normalize_hostname, subdomain_label
from checks.engine.spec import (
    ENDPOINT_KINDS,
    MAX_DKIM_SELECTORS,
    MAX_ENDPOINTS,
    MAX_SUBDOMAINS,
    InvalidEndpoint,
    SmtpSettings,
    endpoint_from,
)
from checks.network import scenario_path
from launchready.crypto import MASK
from projects.finding_services import (
    MAX_ACCEPTANCE,
    allowed_statuses,
    finding_accept,
    finding_comment,
    finding_set_due,
    finding_set_owner,
    finding_set_status,
    staff_of,
)
from projects.models import Endpoint, Project

# The form's SMTP section, in display order (templates/projects/form.html shows it apart).
SMTP_FIELDS = (
    "smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password", "smtp_password_clear",
    "mail_from",
)
# Which field an ``InvalidMailSetting`` from ``SmtpSettings`` belongs to, by its message's start;
# the prefix that only repeats the field's label is dropped.
_SMTP_ERROR_FIELDS = (
    ("SMTP host: ", "smtp_host", True),
    ("SMTP security", "smtp_security", False),
    ("SMTP port", "smtp_port", False),
    ("From address", "mail_from", False),
)

REAL_NETWORK = ("", "Real network")


def scenario_choices() -> list[tuple[str, str]]:
    """``[("", "Real network"), ("demo.yaml", "demo.yaml"), …]``: the ``*.yaml`` files directly
    in ``SCENARIOS_DIR``, by name. The only scenario values the form accepts."""
    directory = Path(settings.SCENARIOS_DIR)
    names = sorted(p.name for p in directory.glob("*.yaml") if p.is_file()) if directory.is_dir() else []
    return [REAL_NETWORK, *((name, name) for name in names)]


class ProjectForm(forms.ModelForm):
    """Create or edit a project. ``agencies`` is the queryset the user is staff of.

    ``subdomains_text`` cleans to a list of labels, ``endpoints_text`` to
    ``[(kind, METHOD, url)]``; ``sandbox_scenario`` (only when ``SANDBOX_ENABLED``) to a file
    name from ``scenario_choices()`` or "" for the real network.
    """

    # Declared, so the model's free-text column is never exposed: only listed names are valid.
    sandbox_scenario = forms.ChoiceField(
        label="Sandbox scenario", choices=[REAL_NETWORK], required=False,
        help_text="Audit a simulated launch surface from a scenario file instead of the real network",
    )
    subdomains_text = forms.CharField(
        label="Subdomains", required=False, initial="www, app, api, admin",
        help_text="Labels under the apex (www, app) or full names (app.example.com), separated by commas",
    )
    endpoints_text = forms.CharField(
        label="Critical endpoints", required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono", "spellcheck": "false"}),
        help_text="One per line: kind [METHOD] URL — kinds: " + ", ".join(ENDPOINT_KINDS),
    )

    dkim_selectors_text = forms.CharField(
        label="DKIM selectors", required=False,
        help_text="The selectors your mail is signed with (s1, google), separated by commas; "
                  "the usual providers' selectors are tried as well",
    )
    mail_provider = forms.ChoiceField(
        label="Sends mail through", required=False,
        help_text="The audit checks that the domain's SPF record authorises this provider",
    )
    mail_sending_ips_text = forms.CharField(
        label="Other sending IPs", required=False,
        help_text="Addresses or networks that also send the domain's mail (192.0.2.10, 2001:db8::/48)",
    )

    # Never rendered back (render_value=False); "new-password" keeps the browser from filling
    # in the consultant's own saved login here.
    smtp_password = forms.CharField(
        label="Password", required=False, strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    smtp_password_clear = forms.BooleanField(label="Clear the stored password", required=False)

    class Meta:
        model = Project
        fields = [
            "agency", "name", "client_name", "apex_domain", "preferred_host", "rollback_notes",
            "sandbox_scenario", "mail_provider",
            "smtp_host", "smtp_port", "smtp_security", "smtp_username", "mail_from",
        ]
        widgets = {
            "rollback_notes": forms.Textarea(attrs={"rows": 4}),
            "smtp_host": forms.TextInput(attrs={"placeholder": "smtp.example.com", "spellcheck": "false"}),
            "smtp_port": forms.NumberInput(attrs={"placeholder": "587", "min": 1, "max": 65535}),
            "smtp_username": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "mail_from": forms.TextInput(attrs={"placeholder": "hello@example.com", "spellcheck": "false"}),
        }
        labels = {
            "apex_domain": "Apex domain", "preferred_host": "Canonical host",
            "smtp_host": "SMTP host", "smtp_port": "Port", "smtp_security": "Security",
            "smtp_username": "User name",
        }
        help_texts = {
            "smtp_host": "The server the app submits its mail to; leave every SMTP field blank to turn "
                         "the mail test off",
            "smtp_port": "Blank: 587, 465 or 25, by security",
            "smtp_security": "STARTTLS (RFC 3207, port 587) or implicit TLS (RFC 8314, port 465); "
                             "with none (port 25) no password is sent",
            "smtp_username": "The login the app uses, if the server asks for one",
            "mail_from": "The sender address of the app's mail, like hello@example.com",
        }

    field_order = [
        "agency", "name", "client_name", "apex_domain", "preferred_host", "subdomains_text",
        "endpoints_text", "mail_provider", "mail_sending_ips_text", "dkim_selectors_text",
        "rollback_notes", "sandbox_scenario", *SMTP_FIELDS,
    ]

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies
        if agencies.count() == 1:
            # Nothing to choose: keep the field (so it is validated) but do not show it.
            self.fields["agency"].initial = agencies.first()
            self.fields["agency"].widget = forms.HiddenInput()
        self._scenario_field()
        self.fields["mail_provider"].choices = [("", "Not set")] + [
            (key, provider.name) for key, provider in mail_providers().items()
        ]
        self.fields["dkim_selectors_text"].initial = ", ".join(self.instance.dkim_selectors or [])
        self.fields["mail_sending_ips_text"].initial = ", ".join(self.instance.mail_sending_ips or [])
        if self.instance.pk:
            self.fields["agency"].disabled = True
            self.fields["subdomains_text"].initial = ", ".join(self.instance.subdomains or [])
            self.fields["endpoints_text"].initial = "\n".join(
                f"{e.kind} {e.method} {e.url}" for e in self.instance.endpoints.all()
            )
        self._smtp_password_fields()

    def clean_name(self) -> str:
        # A line break in a name would end up in mail headers and page titles: one line only.
        return " ".join(self.cleaned_data["name"].split())

    def _smtp_password_fields(self) -> None:
        """Say whether a password is stored (never what it is); offer to clear it only then."""
        # Blank means the mode's default: "" is accepted and cleaned to STARTTLS, so a post
        # without the field (a script, an older form) keeps working.
        self.fields["smtp_security"].required = False
        if self.instance.has_smtp_password:
            self.fields["smtp_password"].help_text = (
                f"Stored: {MASK} (never shown). Leave blank to keep it; type a new one to replace it"
            )
        else:
            del self.fields["smtp_password_clear"]
            self.fields["smtp_password"].help_text = "None stored. Kept encrypted, never shown again"

    def main_fields(self) -> list[forms.BoundField]:
        """The visible fields outside the SMTP section, in order."""
        return [f for f in self.visible_fields() if f.name not in SMTP_FIELDS]

    def smtp_fields(self) -> list[forms.BoundField]:
        """The SMTP section's fields, in ``SMTP_FIELDS`` order."""
        return [self[name] for name in SMTP_FIELDS if name in self.fields]

    def _scenario_field(self) -> None:
        """Add the sandbox scenario choice when the sandbox is enabled.

        A project tied to a scenario outside the listing (by the CLI) keeps it as an extra
        choice, so saving the form does not silently move it to the real network.
        """
        if not settings.SANDBOX_ENABLED:
            del self.fields["sandbox_scenario"]
            return
        choices = scenario_choices()
        current = self.instance.sandbox_scenario if self.instance.pk else ""
        initial = ""
        if current:
            listed = {name for name, _ in choices if name}
            name = Path(current).name
            if name in listed and scenario_path(name) == scenario_path(current):
                initial = name
            else:
                choices.append((current, f"Current: {name} (set outside this form)"))
                initial = current
        self.fields["sandbox_scenario"].choices = choices
        self.initial["sandbox_scenario"] = initial

    def clean_apex_domain(self) -> str:
        return _hostname(self.cleaned_data["apex_domain"])

    def clean_preferred_host(self) -> str:
        value = self.cleaned_data.get("preferred_host", "").strip()
        return _hostname(value) if value else ""

    def clean(self) -> dict:
        cleaned = super().clean()
        apex, preferred = cleaned.get("apex_domain"), cleaned.get("preferred_host")
        if apex and preferred and preferred != apex and not preferred.endswith("." + apex):
            self.add_error("preferred_host", f"The canonical host must be {apex} or a name under it")
        if apex and "subdomains_text" in cleaned:
            cleaned["subdomains_text"] = self._subdomains(cleaned["subdomains_text"], apex)
        self._clean_smtp(cleaned)
        return cleaned

    def clean_smtp_security(self) -> str:
        return self.cleaned_data.get("smtp_security") or Project.SmtpSecurity.STARTTLS

    @sensitive_variables("cleaned", "new_password")
    def _clean_smtp(self, cleaned: dict) -> None:
        """Validate the SMTP section as a whole by building ``SmtpSettings`` from it; store the
        normalised host and From address. All blank: mail sending is off."""
        host = (cleaned.get("smtp_host") or "").strip()
        username = (cleaned.get("smtp_username") or "").strip()
        new_password = cleaned.get("smtp_password") or ""
        clear = bool(cleaned.get("smtp_password_clear"))
        from_address = (cleaned.get("mail_from") or "").strip()
        security = cleaned.get("smtp_security") or Project.SmtpSecurity.STARTTLS
        if not host:
            if cleaned.get("smtp_port") or username or new_password or from_address:
                self.add_error("smtp_host", "Give the SMTP host, or leave every SMTP field blank")
            return
        if new_password and clear:
            self.add_error("smtp_password", "Type a new password or clear the stored one, not both")
        has_password = bool(new_password) or (self.instance.has_smtp_password and not clear)
        if has_password and not username:
            self.add_error("smtp_username", "A password needs the user name it belongs to")
        if username and not has_password:
            self.add_error("smtp_password", "Enter the password of this user")
        if has_password and security == Project.SmtpSecurity.NONE:
            self.add_error("smtp_security", "With no TLS the password would cross the network in clear: "
                                            "choose STARTTLS or implicit TLS, or clear the stored password")
        if not from_address:
            self.add_error("mail_from", "Give the From address the app's mail carries")
            return
        if cleaned.get("smtp_port") == 0:  # 0 would silently mean "the usual port"
            self.add_error("smtp_port", "SMTP port 0 is not between 1 and 65535")
            return
        try:
            smtp = SmtpSettings(host=host, from_address=from_address, port=cleaned.get("smtp_port") or 0,
                                security=security, username=username)
        except InvalidMailSetting as exc:
            self._smtp_error(str(exc))
            return
        cleaned.update(smtp_host=smtp.host, mail_from=smtp.from_address, smtp_username=username,
                       smtp_port=cleaned.get("smtp_port") or None)

    def _smtp_error(self, message: str) -> None:
        for prefix, name, drop in _SMTP_ERROR_FIELDS:
            if message.startswith(prefix):
                self.add_error(name, message[len(prefix):] if drop else message)
                return
        self.add_error("smtp_host", message)

    def clean_subdomains_text(self) -> list[str]:
        return [s.strip() for s in self.cleaned_data["subdomains_text"].split(",") if s.strip()]

    def _subdomains(self, values: list[str], apex: str) -> list[str]:
        if len(values) > MAX_SUBDOMAINS:
            self.add_error("subdomains_text", f"At most {MAX_SUBDOMAINS} subdomains")
            return []
        labels, errors = [], []
        for value in values:
            try:
                labels.append(subdomain_label(value, apex))
            except InvalidHostname as exc:
                errors.append(str(exc))
        if errors:
            self.add_error("subdomains_text", errors)
        return list(dict.fromkeys(labels))

    def clean_dkim_selectors_text(self) -> list[str]:
        values = _comma_list(self.cleaned_data["dkim_selectors_text"])
        if len(values) > MAX_DKIM_SELECTORS:
            raise forms.ValidationError(f"At most {MAX_DKIM_SELECTORS} selectors")
        selectors, errors = [], []
        for value in values:
            try:
                selectors.append(dkim_selector(value))
            except InvalidHostname as exc:
                errors.append(str(exc))
        if errors:
            raise forms.ValidationError(errors)
        return list(dict.fromkeys(selectors))

    def clean_mail_sending_ips_text(self) -> list[str]:
        try:
            return list(sending_networks(_comma_list(self.cleaned_data["mail_sending_ips_text"])))
        except InvalidMailSetting as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_endpoints_text(self) -> list[tuple[str, str, str]]:
        endpoints, errors = [], []
        lines = self.cleaned_data["endpoints_text"].splitlines()
        if sum(1 for line in lines if line.strip()) > MAX_ENDPOINTS:
            raise forms.ValidationError(f"At most {MAX_ENDPOINTS} endpoints")
        for number, line in enumerate(lines, 1):
            if not line.split():
                continue
            try:
                endpoints.append(parse_endpoint_line(line))
            except forms.ValidationError as exc:
                errors.append(f"Line {number}: {exc.messages[0]}")
        if errors:
            raise forms.ValidationError(errors)
        return endpoints

    def save(self, commit: bool = True) -> Project:
        project = super().save(commit=False)
        project.subdomains = self.cleaned_data["subdomains_text"]
        project.dkim_selectors = self.cleaned_data["dkim_selectors_text"]
        project.mail_sending_ips = self.cleaned_data["mail_sending_ips_text"]
        self._save_smtp(project)
        if commit:
            project.save()
            project.endpoints.all().delete()
            Endpoint.objects.bulk_create(
                Endpoint(project=project, kind=k, method=m, url=u)
                for k, m, u in self.cleaned_data["endpoints_text"]
            )
        return project

    @sensitive_variables()
    def _save_smtp(self, project: Project) -> None:
        """Apply the password choice; with no SMTP host nothing of the login is kept."""
        if not project.smtp_host:
            project.smtp_port, project.smtp_username = None, ""
            project.smtp_security = Project.SmtpSecurity.STARTTLS
            project.set_smtp_password("")
        elif self.cleaned_data.get("smtp_password"):
            project.set_smtp_password(self.cleaned_data["smtp_password"])
        elif self.cleaned_data.get("smtp_password_clear"):
            project.set_smtp_password("")


def parse_endpoint_line(line: str) -> tuple[str, str, str]:
    """``"login POST https://app.example.com/login"`` → ``("login", "POST", url)``; the method
    defaults to GET. Raises ``ValidationError`` saying which part is wrong."""
    parts = line.split()
    if len(parts) not in (2, 3):
        words = f"{len(parts)} word" + ("s" if len(parts) != 1 else "")
        raise forms.ValidationError(f"write 'kind [METHOD] URL', not {words}")
    method = parts[1] if len(parts) == 3 else "GET"
    try:
        endpoint = endpoint_from(parts[0], method, parts[-1])
        forms.URLField(assume_scheme="https").clean(endpoint.url)
    except InvalidEndpoint as exc:
        raise forms.ValidationError(str(exc)) from None
    except forms.ValidationError:
        raise forms.ValidationError(f"{parts[-1]!r} is not a URL") from None
    return endpoint.kind, endpoint.method, endpoint.url


def _comma_list(text: str) -> list[str]:
    """``"a, b,,c "`` → ``["a", "b", "c"]``; spaces separate too (people paste either)."""
    return [part for part in text.replace(",", " ").split() if part]


def _hostname(value: str) -> str:
    try:
        return normalize_hostname(value)
    except InvalidHostname as exc:
        raise forms.ValidationError(str(exc)) from None


# ---------------------------------------------------------------------------------------
# Findings: one small form per change a person can make on the finding page. Each form is
# built for one finding (``finding=``) and ``apply(actor)`` hands the cleaned data to
# projects.finding_services, which decides what is allowed (FindingChangeError otherwise).

def _date_input(**attrs) -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date", **attrs}, format="%Y-%m-%d")


class _FindingForm(forms.Form):
    def __init__(self, *args, finding, **kwargs):
        super().__init__(*args, **kwargs)
        self.finding = finding


class FindingStatusForm(_FindingForm):
    """Move the finding to one of the statuses a person may choose from where it is."""

    status = forms.ChoiceField(label="New status")
    note = forms.CharField(
        label="Note", required=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What was done, or why (shown in the history)",
    )

    def __init__(self, *args, finding, **kwargs):
        super().__init__(*args, finding=finding, **kwargs)
        self.fields["status"].choices = [
            (s, finding.Status(s).label) for s in allowed_statuses(finding)
        ]

    def apply(self, actor):
        return finding_set_status(
            self.finding, actor=actor, status=self.cleaned_data["status"], text=self.cleaned_data["note"]
        )


class FindingOwnerForm(_FindingForm):
    """Who fixes it: an owner or consultant of the agency, or nobody."""

    owner = forms.ModelChoiceField(label="Owner", queryset=None, required=False, empty_label="Nobody")

    def __init__(self, *args, finding, **kwargs):
        super().__init__(*args, finding=finding, **kwargs)
        self.fields["owner"].queryset = staff_of(finding)
        self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.get_username()
        self.fields["owner"].initial = finding.owner_id

    def apply(self, actor):
        return finding_set_owner(self.finding, actor=actor, owner=self.cleaned_data["owner"])


class FindingDueForm(_FindingForm):
    """By when it should be fixed; blank removes the date."""

    due_date = forms.DateField(label="Due date", required=False, widget=_date_input())

    def __init__(self, *args, finding, **kwargs):
        super().__init__(*args, finding=finding, **kwargs)
        self.fields["due_date"].initial = finding.due_date
        self.fields["due_date"].widget.attrs["min"] = timezone.localdate().isoformat()

    def apply(self, actor):
        return finding_set_due(self.finding, actor=actor, due_date=self.cleaned_data["due_date"])


class FindingAcceptForm(_FindingForm):
    """Accept the risk: why, and until when (at most a year)."""

    reason = forms.CharField(
        label="Why is this risk accepted?", max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
    )
    until = forms.DateField(
        label="Accepted until", widget=_date_input(),
        help_text="At most a year ahead. After this date the next failing audit opens it again.",
    )

    def __init__(self, *args, finding, **kwargs):
        super().__init__(*args, finding=finding, **kwargs)
        self.fields["reason"].initial = finding.accepted_reason
        self.fields["until"].initial = finding.accepted_until
        today = timezone.localdate()  # the browser's date picker offers only what is allowed
        self.fields["until"].widget.attrs.update(
            min=(today + timedelta(days=1)).isoformat(), max=(today + MAX_ACCEPTANCE).isoformat()
        )

    def apply(self, actor):
        return finding_accept(
            self.finding, actor=actor, reason=self.cleaned_data["reason"], until=self.cleaned_data["until"]
        )


class FindingCommentForm(_FindingForm):
    """A comment; internal ones stay inside the agency."""

    text = forms.CharField(label="Comment", max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    internal = forms.BooleanField(
        label="Internal: only the agency sees it (the founder does not)", required=False, initial=True,
    )

    def apply(self, actor):
        return finding_comment(
            self.finding, actor=actor, text=self.cleaned_data["text"], internal=self.cleaned_data["internal"]
        )


# The finding page's forms by the ``action`` its submit buttons send (also the forms' prefix).
FINDING_FORMS: dict[str, type[_FindingForm]] = {
    "status": FindingStatusForm,
    "owner": FindingOwnerForm,
    "due": FindingDueForm,
    "accept": FindingAcceptForm,
    "comment": FindingCommentForm,
}


# ---------------------------------------------------------------------------------------
# Invites (projects/invites.py decides what an invite does; these only take the input).

class InviteForm(forms.Form):
    """The founder's address, on the project page."""

    email = forms.EmailField(
        label="Founder's email", max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "founder@example.com"}),
    )

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        granted = self.project.founders.filter(Q(email__iexact=email) | Q(username__iexact=email))
        if granted.exists():
            raise forms.ValidationError(
                f"{email} can already see this project. Forgot the password? "
                "The sign-in page sends a reset link."
            )
        return email


class InviteSetPasswordForm(forms.Form):
    """A new account's password, typed twice; its strength is checked by the invite service
    against AUTH_PASSWORD_VALIDATORS (errors land on ``password1``)."""

    password1 = forms.CharField(
        label="Choose a password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
    password2 = forms.CharField(
        label="Type it again", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password1"].help_text = " ".join(password_validation.password_validators_help_texts())

    @sensitive_variables("first", "second")
    def clean(self) -> dict:
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class InviteSignInForm(forms.Form):
    """The current password of an existing account, to attach the invite to it."""

    password = forms.CharField(
        label="Your Launch Ready password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
