"""Writes to projects that do not come from a form: the CLI's and the demo's."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from checks.engine.audit import spec_from_dict
from checks.sandbox import Scenario
from projects.models import Agency, Endpoint, Project

SANDBOX_AGENCY = ("sandbox", "Sandbox")


def agency_get_or_create(*, slug: str, name: str) -> Agency:
    agency, _ = Agency.objects.get_or_create(slug=slug, defaults={"name": name})
    return agency


@transaction.atomic
def project_sync_from_scenario(scenario: Scenario, *, agency: Agency | None = None) -> Project:
    """The project a scenario describes, created or updated, tied to that scenario's sandbox.

    Raises ``ValueError`` (or ``InvalidHostname``) when the scenario's project is unusable.
    """
    spec = spec_from_dict(scenario.project)  # validates before anything is written
    agency = agency or agency_get_or_create(slug=SANDBOX_AGENCY[0], name=SANDBOX_AGENCY[1])
    path = str(Path(scenario.source).resolve()) if scenario.source else ""
    project, _ = Project.objects.get_or_create(
        agency=agency, sandbox_scenario=path, apex_domain=spec.apex,
        defaults={"name": spec.name},
    )
    project.name = spec.name
    project.client_name = str(scenario.project.get("client_name") or "")
    project.preferred_host = spec.preferred_host
    project.subdomains = list(spec.subdomains)
    project.dkim_selectors = list(spec.dkim_selectors)
    project.mail_provider = spec.mail_provider
    project.mail_sending_ips = list(spec.mail_sending_ips)
    project.rollback_notes = str(scenario.project.get("rollback_notes") or "")
    project.save()
    project.endpoints.all().delete()
    Endpoint.objects.bulk_create(
        Endpoint(project=project, kind=e.kind, url=e.url, method=e.method) for e in spec.endpoints
    )
    return project
