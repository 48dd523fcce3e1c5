"""The secret scan's records: the repository to scan (a URL or an uploaded archive) and the
secret findings the agency accepted. Writes here; views call nothing else to change them.

An archive is checked on upload with the audit's own intake rules
(``checks.engine.secrets.archive.check_archive``: size caps, no path escapes, no links or
devices, no zip bombs), so a refusal is said at once, not at the next audit.
"""

from __future__ import annotations

import hashlib
import os

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from checks.engine.secrets.archive import ArchiveLimits, IntakeError, check_archive
from checks.engine.secrets.clone import validate_repository_url
from checks.models import AuditRun, CheckResult
from projects.models import RepositoryArchive, SecretAcceptance

SECRET_CHECKS = ("hardening.secrets_repo", "hardening.secrets_bundle")
ARCHIVE_LIMITS = ArchiveLimits()
MAX_REASON_CHARS = 2000


def repository_url_set(project, url: str) -> str:
    """Store ``url`` (validated; blank clears it). Raises ``ValidationError`` on ``url``."""
    url = (url or "").strip()
    if url:
        try:
            url = validate_repository_url(url)
        except IntakeError as exc:
            raise ValidationError({"url": str(exc)}) from None
    project.repository_url = url
    project.save(update_fields=["repository_url", "updated_at"])
    return url


def archive_store(project, *, filename: str, data: bytes, user) -> RepositoryArchive:
    """Check ``data`` as the audit will, then store it as the project's archive (replacing
    the previous one). Raises ``ValidationError`` on ``file`` with the intake's reason."""
    try:
        check_archive(data, ARCHIVE_LIMITS)
    except IntakeError as exc:
        raise ValidationError({"file": f"This archive was refused: {exc}."}) from None
    name = os.path.basename(filename.replace("\\", "/"))[:255] or "repository"
    with transaction.atomic():
        RepositoryArchive.objects.filter(project=project).delete()
        return RepositoryArchive.objects.create(
            project=project, filename=name, data=data, size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(), uploaded_by=user,
        )


def archive_remove(project) -> bool:
    """Remove the project's archive; ``False`` when there was none."""
    deleted, _ = RepositoryArchive.objects.filter(project=project).delete()
    return bool(deleted)


def latest_secret_results(project) -> list[CheckResult]:
    """The newest result of each secret check of ``project`` (from a finished run that ran
    it, a full audit or a single check), newest first."""
    results = []
    for check_id in SECRET_CHECKS:
        result = (CheckResult.objects.filter(run__project=project, run__state=AuditRun.State.DONE,
                                             check_id=check_id)
                  .select_related("run").order_by("-run__finished_at", "-run_id").first())
        if result is not None:
            results.append(result)
    return results


def place_of(entry: dict) -> str:
    """Where a finding entry of the evidence is, in words: ``src/app.js line 2 of commit
    0123456789ab``, or a bundle's ``https://…/app.js offset 120``."""
    if entry.get("file"):
        commit = str(entry.get("commit") or "")
        return f"{entry['file']} line {entry.get('line')}" + (f" of commit {commit[:12]}" if commit else "")
    if entry.get("url"):
        return f"{entry['url']} offset {entry.get('offset', 0)}"
    return ""


def secret_entries(project) -> list[dict]:
    """The secret findings of the latest results, one per fingerprint (its first place):
    ``{"fingerprint", "rule", "level", "redacted", "place", "places", "check_id", "accepted"}``."""
    accepted = set(project.secret_acceptances.values_list("fingerprint", flat=True))
    entries: dict[str, dict] = {}
    for result in latest_secret_results(project):
        for entry in (result.evidence or {}).get("findings") or []:
            fingerprint = str(entry.get("fingerprint") or "")
            if not fingerprint:
                continue
            if fingerprint in entries:
                entries[fingerprint]["places"] += 1
                continue
            entries[fingerprint] = {
                "fingerprint": fingerprint, "rule": str(entry.get("rule") or ""),
                "level": str(entry.get("level") or ""), "redacted": str(entry.get("redacted") or ""),
                "place": place_of(entry), "places": 1, "check_id": result.check_id,
                "accepted": fingerprint in accepted,
            }
    return list(entries.values())


def secret_accept(project, *, fingerprint: str, reason: str, user) -> SecretAcceptance:
    """Accept the secret ``fingerprint`` — one found by the latest secret scans of ``project``
    (its rule and place come from there, not from the request) — with ``reason``. Raises
    ``ValidationError`` for an unknown fingerprint, a blank reason or a repeat."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this secret is acceptable (a test key, revoked on …)."})
    entry = next((e for e in secret_entries(project) if e["fingerprint"] == fingerprint), None)
    if entry is None:
        raise ValidationError("This secret is not among the latest scan's findings.")
    try:
        with transaction.atomic():
            return SecretAcceptance.objects.create(
                project=project, fingerprint=fingerprint, rule=entry["rule"][:100],
                place=entry["place"][:2000], reason=reason[:MAX_REASON_CHARS], accepted_by=user,
            )
    except IntegrityError:
        raise ValidationError("This secret is already accepted.") from None


def acceptance_remove(acceptance: SecretAcceptance) -> None:
    """Withdraw an acceptance (reached through ``projects.access``): the next scan reports the
    secret again."""
    acceptance.delete()
