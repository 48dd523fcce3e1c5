"""Monitoring forms: monitors, alert channels, a log sample. The rules live in the services
(``checks.monitoring.services``) and the engine; these forms collect and show them."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from checks.engine.loghygiene import DEFAULT_PHONE_REGION, MAX_LOG_BYTES
from checks.models import AlertChannel
from checks.monitoring import services as monitoring

INTERVAL_CHOICES = [(30, "30 s"), (60, "1 min"), (120, "2 min"), (300, "5 min"), (600, "10 min"),
                    (900, "15 min"), (1800, "30 min"), (3600, "1 h")]


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ``ValidationError`` on ``form``: per field where it names one the form
    has, the rest above the form."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error)


class MonitorForm(forms.Form):
    """A monitor: what to probe, how often and what counts as up (``monitor_create`` /
    ``monitor_update`` keyword arguments, from ``cleaned_data``)."""

    name = forms.CharField(max_length=200, required=False, help_text="Blank: the URL's host and path")
    url = forms.URLField(label="URL", max_length=monitoring.MAX_URL_CHARS, assume_scheme="https",
                         widget=forms.URLInput(attrs={"placeholder": "https://example.com/health",
                                                      "autocomplete": "off"}))
    method = forms.ChoiceField(
        choices=[(m, m) for m in monitoring.PROBE_METHODS], initial="GET",
        help_text="Probes never change anything: GET or HEAD only",
        error_messages={"invalid_choice": "Monitors probe with GET or HEAD only (a probe must not change "
                                          "anything)."},
    )
    interval_s = forms.TypedChoiceField(
        label="Every", choices=INTERVAL_CHOICES, coerce=int, initial=60,
        error_messages={"invalid_choice": "Probe every " + ", ".join(str(s) for s, _ in INTERVAL_CHOICES[:-1])
                                          + f" or {INTERVAL_CHOICES[-1][0]} s."},
    )
    timeout_s = forms.FloatField(
        label="Timeout (s)", min_value=monitoring.TIMEOUT_RANGE_S[0], max_value=monitoring.TIMEOUT_RANGE_S[1],
        initial=10, help_text="1 to 30 s, shorter than the interval",
    )
    expected_status = forms.IntegerField(label="Expected status", min_value=100, max_value=599, initial=200,
                                         help_text="405 for a POST-only route such as a webhook")
    keyword = forms.CharField(max_length=monitoring.MAX_KEYWORD_CHARS, required=False,
                              help_text="Down unless the page contains it (case-sensitive)")
    down_after = forms.IntegerField(label="Down after", min_value=1, max_value=10, initial=2,
                                    help_text="Consecutive failed probes before an incident opens (1 to 10)")
    enabled = forms.BooleanField(required=False, initial=True, help_text="Paused monitors are not probed")

    FIELDS = ("name", "url", "method", "interval_s", "timeout_s", "expected_status", "keyword", "down_after",
              "enabled")

    @classmethod
    def for_monitor(cls, monitor, data=None) -> MonitorForm:
        """The form filled with ``monitor``'s values (bound to ``data`` on POST); an interval
        not among the usual ones (set by a scenario, 45 s) stays a choice."""
        form = cls(data, initial={name: getattr(monitor, name) for name in cls.FIELDS})
        field = form.fields["interval_s"]
        if monitor.interval_s not in dict(INTERVAL_CHOICES):
            field.choices = sorted([*INTERVAL_CHOICES, (monitor.interval_s, f"{monitor.interval_s} s")])
        return form


class MonitorEndpointsForm(forms.Form):
    """Which of the project's endpoints to monitor (those without a monitor yet)."""

    endpoints = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="Endpoints")

    def __init__(self, *args, endpoints=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint_objects = {str(e.pk): e for e in endpoints}
        self.fields["endpoints"].choices = [
            (str(e.pk), f"{e.kind.replace('_', ' ').capitalize()}: {e.method} {e.url}") for e in endpoints
        ]
        # The kinds stage 5 asks a monitor for start ticked (the page says so).
        self.fields["endpoints"].initial = [
            str(e.pk) for e in endpoints if e.kind in monitoring.DEFAULT_KINDS
        ]

    def chosen(self) -> list:
        return [self.endpoint_objects[pk] for pk in self.cleaned_data["endpoints"]]


class AlertChannelForm(forms.Form):
    """An alert channel. The webhook URL is write-only: never rendered back (not even after
    a failed submit), blank on edit keeps the stored one."""

    kind = forms.ChoiceField(choices=AlertChannel.Kind.choices, widget=forms.RadioSelect, initial="email")
    name = forms.CharField(max_length=200, required=False, help_text="For your own reading, e.g. On-call")
    email = forms.EmailField(required=False, help_text="Email channels: where the alerts go")
    webhook_url = forms.CharField(
        label="Webhook URL", required=False, max_length=monitoring.MAX_URL_CHARS, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Slack: Apps → Incoming Webhooks; Discord: Channel settings → Integrations → Webhooks. "
                  "Stored encrypted and never shown again.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, channel: AlertChannel | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel
        if channel is not None:
            # A channel keeps its kind: a Slack URL must not become an address, nor the reverse.
            del self.fields["kind"]
            self.initial.update(name=channel.name, email=channel.email, enabled=channel.enabled)
            if channel.kind == AlertChannel.Kind.EMAIL:
                del self.fields["webhook_url"]
            else:
                del self.fields["email"]
                hint = monitoring.webhook_hint(channel)
                self.fields["webhook_url"].help_text = (
                    f"Stored: {hint}. Leave blank to keep it; paste a new one to replace it." if hint
                    else "None stored: paste the webhook URL.")

    def channel_kind(self) -> str:
        """The channel's kind: the stored one on edit, the chosen one on create."""
        return self.channel.kind if self.channel is not None else self.cleaned_data.get("kind", "")

    def clean(self):
        data = super().clean()
        kind = self.channel_kind()
        if self.channel is None and kind == AlertChannel.Kind.EMAIL and not data.get("email"):
            self.add_error("email", "Enter the address the alerts go to.")
        if self.channel is None and kind in (AlertChannel.Kind.SLACK, AlertChannel.Kind.DISCORD) \
                and not data.get("webhook_url"):
            self.add_error("webhook_url", "Paste the webhook URL.")
        return data


class LogSampleForm(forms.Form):
    """A slice of the app's logs, pasted or uploaded (one of the two), at most
    ``MAX_LOG_BYTES``; cleans to ``text`` and ``source`` ("pasted" or the file's name)."""

    text = forms.CharField(
        label="Paste log lines", required=False, strip=False,
        widget=forms.Textarea(attrs={
            "rows": 10, "class": "mono", "spellcheck": "false", "autocomplete": "off",
            "maxlength": MAX_LOG_BYTES,  # the browser stops a paste past the limit
            "placeholder": "2026-11-30T07:40:01Z INFO GET /v1/feed 200 14 ms …",
        }),
    )
    file = forms.FileField(label="…or upload a log file", required=False,
                           help_text=f"Plain text, at most {MAX_LOG_BYTES // 1024:,} KB")
    phone_region = forms.CharField(
        label="Country of national phone numbers", max_length=2, min_length=2, initial=DEFAULT_PHONE_REGION,
        help_text="Two letters (US, GB, DE …): numbers written without +country code are read as this "
                  "country's",
    )

    def full_clean(self) -> None:
        super().full_clean()
        if self.errors and self.is_bound:
            # The pasted log may hold the very secrets the scan looks for: never echo it back.
            self.data = self.data.copy()
            self.data[self.add_prefix("text")] = ""

    def clean_phone_region(self) -> str:
        from phonenumbers import SUPPORTED_REGIONS

        code = self.cleaned_data["phone_region"].strip().upper()
        if code not in SUPPORTED_REGIONS:
            raise ValidationError("Enter a two-letter country code, such as US or GB.")
        return code

    def clean(self):
        data = super().clean()
        upload, text = data.get("file"), data.get("text") or ""
        if upload and text.strip():
            raise ValidationError("Paste lines or upload a file, not both.")
        if upload:
            if upload.size > MAX_LOG_BYTES:
                raise ValidationError(f"The file is {upload.size:,} bytes; at most {MAX_LOG_BYTES:,} are "
                                      "scanned. Upload a slice of it.")
            raw = upload.read(MAX_LOG_BYTES + 1)
            data["text"] = raw.decode("utf-8", errors="replace")
            data["source"] = (upload.name or "upload")[:255]
        elif text.strip():
            if len(text.encode("utf-8")) > MAX_LOG_BYTES:
                raise ValidationError(f"The pasted text is over {MAX_LOG_BYTES:,} bytes. Paste a slice of "
                                      "it.")
            data["source"] = "pasted"
        else:
            raise ValidationError("Paste some log lines or choose a file.")
        return data
