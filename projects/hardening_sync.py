"""Storing a scenario's test accounts and stage 3 facts in a project's rows (the sandbox's
projects are kept in step with their scenario files, as handover and monitoring are)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone

from checks.engine.hardening_record import environment_variables
from checks.engine.spec import ProjectSpec
from projects.models import DeployEvent, Environment, EnvironmentVariable, SecretAcceptance, TestAccount


def accounts_sync(project, spec: ProjectSpec) -> None:
    """Replace ``project``'s test accounts with ``spec.accounts`` (secrets stored encrypted)."""
    project.test_accounts.all().delete()
    for account in spec.accounts:
        row = TestAccount(
            project=project, label=account.label, login=account.login, username=account.username,
            username_field=account.username_field, password_field=account.password_field,
            cookie_name=account.cookie_name,
        )
        row.set_secret(account.secret)
        row.save()


def hardening_sync(project, data: dict | None) -> None:
    """Replace ``project``'s environments, deploys and accepted secrets with a scenario's
    ``project.hardening`` mapping (already validated by ``spec_from_dict``); set its rollback
    date and repository URL. ``None`` clears them all. The caller saves ``project``."""
    data = data or {}
    now = timezone.now()
    project.environments.all().delete()
    for name, values in (data.get("environments") or {}).items():
        environment = Environment.objects.create(project=project, name=name, variables_posted_at=now)
        EnvironmentVariable.objects.bulk_create(
            EnvironmentVariable(environment=environment, name=var, sha256=digest)
            for var, digest in environment_variables(values or {}, name)
        )
    project.deploys.all().delete()
    DeployEvent.objects.bulk_create(
        DeployEvent(
            project=project, kind=d.get("kind") or "deploy", environment=d.get("environment") or "production",
            version=str(d.get("version") or "")[:100], commit=str(d.get("commit") or "")[:64],
            actor=str(d.get("actor") or "")[:200], deployed_at=now - timedelta(days=d.get("days_ago", 0)),
            signature_sha256=secrets.token_hex(32), smoke_status=d.get("smoke") or "pending",
            smoke_at=None if (d.get("smoke") or "pending") == "pending" else now,
        )
        for d in data.get("deploys") or []
    )
    project.secret_acceptances.all().delete()
    SecretAcceptance.objects.bulk_create(
        SecretAcceptance(project=project, fingerprint=f, rule="", reason="accepted in the scenario file")
        for f in data.get("accepted_secrets") or []
    )
    tried = data.get("rollback_last_tried_days")
    project.rollback_last_tried_at = None if tried is None else now - timedelta(days=tried)
    project.repository_url = (data.get("repository") or {}).get("url", "")
