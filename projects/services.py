"""Writes to projects that do not come from a form: the CLI's and the demo's."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from checks.engine.audit import spec_from_dict
from checks.engine.handover_record import handover_from_dict
from checks.engine.spec import SMTP_DEFAULT_PORTS, SmtpSettings
from checks.monitoring_facts import monitoring_sync
from checks.sandbox import Scenario
from handover.records import record_sync
from projects.hardening_sync import accounts_sync, hardening_sync
from projects.models import Agency, Endpoint, Project

SANDBOX_AGENCY = ("sandbox", "Sandbox")


def agency_get_or_create(*, slug: str, name: str) -> Agency:
    agency, _ = Agency.objects.get_or_create(slug=slug, defaults={"name": name})
    return agency


@transaction.atomic
def project_sync_from_scenario(scenario: Scenario, *, agency: Agency | None = None) -> Project:
    """The project a scenario describes, created or updated, tied to that scenario's sandbox.
    Its ``project.smtp`` mapping ``{host, port, security, username, password, from}`` becomes
    the project's SMTP sending (the password stored encrypted); no mapping clears it. Its
    ``project.handover`` mapping becomes the project's handover record (rows replaced), its
    ``project.monitoring`` mapping its monitors, alert channels and log scan (rows replaced),
    its ``project.accounts`` and ``project.hardening`` the test accounts, environments,
    deploys, accepted secrets, rollback date and repository URL (rows replaced).

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
    _copy_smtp(project, spec.smtp)
    hardening_sync(project, scenario.project.get("hardening"))
    project.save()
    accounts_sync(project, spec)
    project.endpoints.all().delete()
    Endpoint.objects.bulk_create(
        Endpoint(project=project, kind=e.kind, url=e.url, method=e.method,
                 target_p95_ms=e.target_p95_ms, personal=e.personal)
        for e in spec.endpoints
    )
    # The handover record as the scenario writes it (validated by spec_from_dict above); no
    # ``handover:`` mapping leaves an empty record, as a new project has.
    record_sync(project, handover_from_dict(scenario.project.get("handover") or {}))
    # Monitoring as the scenario writes it (monitors, alert channels, the log scan), rows
    # replaced; no ``monitoring:`` mapping leaves none, as a new project has.
    monitoring_sync(project, scenario.project.get("monitoring"), spec)
    return project


def _copy_smtp(project: Project, smtp: SmtpSettings | None) -> None:
    """Store ``smtp`` (already validated by ``spec_from_dict``) in the project's fields; the
    port is stored only when it is not the security mode's default (blank on the form)."""
    if smtp is None:
        project.smtp_host, project.mail_from, project.smtp_username = "", "", ""
        project.smtp_port, project.smtp_security = None, Project.SmtpSecurity.STARTTLS
        project.set_smtp_password("")
        return
    project.smtp_host = smtp.host
    project.smtp_port = None if smtp.port == SMTP_DEFAULT_PORTS[smtp.security] else smtp.port
    project.smtp_security = smtp.security
    project.smtp_username = smtp.username
    project.mail_from = smtp.from_address
    project.set_smtp_password(smtp.password)
