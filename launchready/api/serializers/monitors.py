"""Uptime monitors in and out. A write is validated by the page's monitor form (``MonitorForm``)
and then by the monitoring service (``checks.monitoring.services``: no credentials in the URL,
no address the outbound policy refuses, GET or HEAD only …), as the page does, so the API and
the page accept and refuse exactly the same monitors, with the same messages."""

from __future__ import annotations

from rest_framework import serializers

from checks.forms import INTERVAL_CHOICES, MonitorForm
from checks.models import Monitor
from checks.monitoring import services as monitoring

_INTERVALS = ", ".join(str(seconds) for seconds, _ in INTERVAL_CHOICES)


class MonitorSerializer(serializers.ModelSerializer):
    """A monitor as the API shows it (and, for the writable fields, takes it). The writable
    fields only check types here: their values are judged by the form and the service."""

    name = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False,
        help_text="At most 200 characters; blank or left out: the URL's host and path",
    )
    url = serializers.CharField(
        trim_whitespace=False,
        help_text=f"http:// or https:// (assumed when left out), at most {monitoring.MAX_URL_CHARS} "
                  "characters; no user name or password; not an address the outbound policy refuses",
    )
    method = serializers.CharField(required=False,
                                   help_text="GET (default) or HEAD: probes never change anything")
    interval_s = serializers.IntegerField(
        required=False, help_text=f"Seconds between probes: one of {_INTERVALS} (default 60)"
    )
    timeout_s = serializers.FloatField(required=False,
                                       help_text="1 to 30 s, shorter than the interval (default 10)")
    expected_status = serializers.IntegerField(required=False, help_text="100 to 599 (default 200)")
    keyword = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False,
        help_text=f"Down unless the page contains it (case-sensitive, at most {monitoring.MAX_KEYWORD_CHARS} "
                  "characters, GET only)",
    )
    down_after = serializers.IntegerField(
        required=False, help_text="Consecutive failed probes before an incident opens: 1 to 10 (default 2)"
    )
    enabled = serializers.BooleanField(required=False,
                                       help_text="false: paused, not probed (default true)")

    class Meta:
        model = Monitor
        fields = ["id", "name", "url", "method", "interval_s", "timeout_s", "expected_status", "keyword",
                  "down_after", "enabled", "state", "consecutive_failures", "last_probe_at", "created_at"]
        read_only_fields = ["id", "state", "consecutive_failures", "last_probe_at", "created_at"]


def form_data(monitor: Monitor | None, changes: dict) -> dict:
    """The monitor form's POST data: ``monitor``'s current values (for a new one, what the
    page's form starts with) with ``changes`` (validated API fields) laid over. ``enabled``
    stays a boolean (the checkbox reads it as such; a POST leaves an unticked box out)."""
    if monitor is None:
        current = {name: field.initial for name, field in MonitorForm.base_fields.items()
                   if field.initial is not None}
    else:
        current = {name: getattr(monitor, name) for name in MonitorForm.FIELDS}
    values = {**current, **changes}
    data = {name: "" if values.get(name) is None else str(values[name])
            for name in MonitorForm.FIELDS if name != "enabled"}
    data["enabled"] = bool(values.get("enabled"))
    return data
