"""A stored project's stage 3 and 4 facts as the engine's ``HardeningFacts`` and
``TestAccount`` tuples."""

from __future__ import annotations

from django.utils import timezone

from checks.engine.spec import (
    DeployFacts,
    EnvironmentFacts,
    HardeningFacts,
    RepositorySource,
    TestAccount,
)
from launchready import crypto

RECENT_DEPLOYS = 10
UNREADABLE_SECRET = ("the test account's stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS: "
                     "enter it again")


def hardening_facts(project) -> HardeningFacts:
    """Environments with their variable fingerprints, the latest deploys, the rollback record,
    accepted secrets and the repository source of ``project``. Five small queries (none for a
    project not saved yet); the archive's bytes load only when the scan asks."""
    now = timezone.now()
    tried = project.rollback_last_tried_at
    base = dict(
        rollback_steps=bool((project.rollback_notes or "").strip()),
        rollback_tried_age_s=(now - tried).total_seconds() if tried else None,
    )
    if project.pk is None:
        return HardeningFacts(**base, repository=_repository(project, None))
    environments = tuple(
        EnvironmentFacts(name=env.name, variables=tuple((v.name, v.sha256) for v in env.variables.all()))
        for env in project.environments.prefetch_related("variables")
    )
    deploys = tuple(
        DeployFacts(kind=d.kind, environment=d.environment, version=d.version or d.commit[:12],
                    age_s=(now - d.deployed_at).total_seconds(), smoke_status=d.smoke_status)
        for d in project.deploys.all()[:RECENT_DEPLOYS]
    )
    accepted = frozenset(project.secret_acceptances.values_list("fingerprint", flat=True))
    archive = project.repository_archive_meta()
    return HardeningFacts(
        **base, environments=environments, deploys=deploys, accepted_secrets=accepted,
        repository=_repository(project, archive),
    )


def _repository(project, archive) -> RepositorySource | None:
    if archive is not None:
        pk = archive["pk"]

        def load() -> bytes:
            from projects.models import RepositoryArchive

            return bytes(RepositoryArchive.objects.values_list("data", flat=True).get(pk=pk))

        return RepositorySource(
            url=project.repository_url, archive_name=archive["filename"], load_archive=load,
        )
    if project.repository_url:
        return RepositorySource(url=project.repository_url)
    return None


def test_accounts(project, *, secrets: bool) -> tuple[TestAccount, ...]:
    """The project's test accounts; their secrets decrypted only with ``secrets`` (the audit
    that logs in). One no key decrypts gets a ``problem`` instead."""
    if project.pk is None:
        return ()
    accounts = []
    for account in project.test_accounts.all():
        secret, problem = "", ""
        if secrets:
            try:
                secret = account.secret
            except crypto.SecretDecryptionError:
                problem = UNREADABLE_SECRET
        accounts.append(TestAccount(
            label=account.label, login=account.login, username=account.username, secret=secret,
            username_field=account.username_field, password_field=account.password_field,
            cookie_name=account.cookie_name, problem=problem,
        ))
    return tuple(accounts)
