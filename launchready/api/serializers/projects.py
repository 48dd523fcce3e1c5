"""Projects in and out. A write is validated by the project form itself (``ProjectForm``:
the engine's hostname, endpoint and mail validators), so the API and the page accept and
refuse exactly the same projects."""

from __future__ import annotations

from pathlib import Path

from django.core.validators import RegexValidator
from rest_framework import serializers

from checks.engine.spec import (
    ENDPOINT_KINDS,
    ENDPOINT_METHODS,
    MAX_DKIM_SELECTORS,
    MAX_ENDPOINTS,
    MAX_SUBDOMAINS,
)
from projects.models import Project

# Values are joined into the form's text fields (commas, spaces, lines): a value holding a
# separator would split into several, so none may.
_ONE_TOKEN = RegexValidator(r"^[^\s,]+$", "One value without spaces or commas.")
# One field for every date written out (a field per call cost more than the rest of the row).
_DATETIME = serializers.DateTimeField()


class EndpointSerializer(serializers.Serializer):
    """A critical endpoint: ``kind`` (login, feed …), ``method``, ``url``."""

    kind = serializers.ChoiceField(choices=list(ENDPOINT_KINDS))
    method = serializers.ChoiceField(choices=list(ENDPOINT_METHODS), default="GET")
    url = serializers.CharField(max_length=2000, validators=[_ONE_TOKEN])
    target_p95_ms = serializers.IntegerField(read_only=True)


class ProjectSerializer(serializers.Serializer):
    """A project as the API shows it (and, for the writable fields, takes it)."""

    id = serializers.IntegerField(read_only=True)
    agency = serializers.SlugField(
        required=False, help_text="The agency's slug; on create only, needed when you are staff of several"
    )
    name = serializers.CharField(max_length=200)
    client_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    apex_domain = serializers.CharField(max_length=253, help_text="The registrable domain, e.g. example.com")
    preferred_host = serializers.CharField(max_length=253, required=False, allow_blank=True)
    subdomains = serializers.ListField(
        child=serializers.CharField(max_length=253, validators=[_ONE_TOKEN]), required=False,
        max_length=MAX_SUBDOMAINS, help_text="Labels under the apex (www, app) or full names",
    )
    endpoints = EndpointSerializer(many=True, required=False, max_length=MAX_ENDPOINTS)
    dkim_selectors = serializers.ListField(
        child=serializers.CharField(max_length=63, validators=[_ONE_TOKEN]), required=False,
        max_length=MAX_DKIM_SELECTORS,
    )
    mail_provider = serializers.CharField(max_length=40, required=False, allow_blank=True)
    mail_sending_ips = serializers.ListField(
        child=serializers.CharField(max_length=50, validators=[_ONE_TOKEN]), required=False, max_length=100,
    )
    rollback_notes = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    sandbox_scenario = serializers.CharField(
        required=False, allow_blank=True, max_length=200,
        help_text="A scenario file name from the server's scenarios folder; blank: the real network",
    )
    has_smtp = serializers.BooleanField(read_only=True, help_text="SMTP sending is set up (on the form)")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, project: Project) -> dict:
        return {
            "id": project.pk,
            "agency": project.agency.slug,
            "name": project.name,
            "client_name": project.client_name,
            "apex_domain": project.apex_domain,
            "preferred_host": project.preferred_host,
            "subdomains": list(project.subdomains or []),
            "endpoints": [
                {"kind": e.kind, "method": e.method, "url": e.url, "target_p95_ms": e.target_p95_ms}
                for e in project.endpoints.all()
            ],
            "dkim_selectors": list(project.dkim_selectors or []),
            "mail_provider": project.mail_provider,
            "mail_sending_ips": list(project.mail_sending_ips or []),
            "rollback_notes": project.rollback_notes,
            # The name only: a path set by the CLI says where the server keeps its files.
            "sandbox_scenario": Path(project.sandbox_scenario).name if project.sandbox_scenario else "",
            "has_smtp": bool(project.smtp_host),
            "created_at": _DATETIME.to_representation(project.created_at),
            "updated_at": _DATETIME.to_representation(project.updated_at),
        }


# API field → the form field that validates it (the others have the same name).
FORM_FIELD = {
    "subdomains": "subdomains_text", "endpoints": "endpoints_text",
    "dkim_selectors": "dkim_selectors_text", "mail_sending_ips": "mail_sending_ips_text",
}
API_FIELD = {form: api for api, form in FORM_FIELD.items()}


def form_data(project: Project | None, changes: dict) -> dict:
    """The project form's POST data: ``project``'s current values (nothing for a new one)
    with ``changes`` (validated API fields) laid over. SMTP settings are kept as they are
    (the stored password too: a blank password field keeps it)."""
    current = {} if project is None else {
        "name": project.name, "client_name": project.client_name, "apex_domain": project.apex_domain,
        "preferred_host": project.preferred_host, "subdomains": project.subdomains or [],
        "endpoints": [{"kind": e.kind, "method": e.method, "url": e.url} for e in project.endpoints.all()],
        "dkim_selectors": project.dkim_selectors or [], "mail_provider": project.mail_provider,
        "mail_sending_ips": project.mail_sending_ips or [], "rollback_notes": project.rollback_notes,
        "sandbox_scenario": project.sandbox_scenario,
    }
    values = {**current, **changes}
    data = {
        name: values.get(name, "")
        for name in ("name", "client_name", "apex_domain", "preferred_host", "mail_provider",
                     "rollback_notes", "sandbox_scenario")
    }
    data["subdomains_text"] = ", ".join(values.get("subdomains", []))
    data["endpoints_text"] = "\n".join(
        f"{e['kind']} {e.get('method', 'GET')} {e['url']}" for e in values.get("endpoints", [])
    )
    data["dkim_selectors_text"] = ", ".join(values.get("dkim_selectors", []))
    data["mail_sending_ips_text"] = ", ".join(values.get("mail_sending_ips", []))
    if project is not None:
        data.update(
            smtp_host=project.smtp_host, smtp_port=project.smtp_port or "",
            smtp_security=project.smtp_security, smtp_username=project.smtp_username,
            mail_from=project.mail_from,
        )
    return data
