"""Secrets in the client's repository, working tree and whole history (hardening stage).

A key committed once is leaked for good: deleting it in the next commit leaves it in every
clone. The repository comes from the project (``spec.hardening.repository``): an uploaded zip
or tar.gz (its ``.git``, if any, gives the history), or an ``https://`` git URL cloned through
the audit's outbound-address policy (``checks/engine/secrets/intake.py``). The scan is
``checks.engine.secrets.scan_path``: detect-secrets with the rules of
``checks/engine/secrets/rules.py`` (what is a leak, what is for review, examples and
placeholders left out). No RFC governs this; the sources of each rule are in ``rules.py``.
"""

from __future__ import annotations

from checks.engine.registry import Context, check
from checks.engine.result import Impact, Result, Stage
from checks.engine.secrets import LEAK, ScanLimits, ScanReport, SecretFinding, scan_path
from checks.engine.secrets.archive import IntakeError
from checks.engine.secrets.intake import Intake, IntakeLimits, repository_folder
from checks.engine.spec import ProjectSpec

MAX_LISTED = 20  # findings in the evidence; the metrics count them all
# Clone (60 s) + scan (80 s) stay inside the check's 150 s.
SCAN_LIMITS = ScanLimits(max_scan_s=80.0)
INTAKE_LIMITS = IntakeLimits()
REMEDIATION_LEAK = (
    "Rotate each leaked key at its provider now: removing it from the code does not help, it "
    "stays in every clone's history. Then move it to the server's environment or secret store. "
    "A key that is a test key or already revoked can be accepted with a reason from this "
    "finding, and later scans leave it out."
)
REMEDIATION_REVIEW = (
    "Look at each finding: a Google browser key needs HTTP-referrer and API restrictions; an "
    "AWS key ID without its secret says where the secret lives; accept what is harmless."
)


def repository_apex(project: ProjectSpec) -> list[str]:
    """Target: the apex, once, when the project gives a repository (none: nothing planned)."""
    if project.hardening is None or project.hardening.repository is None:
        return []
    return [project.apex]


@check("hardening.secrets_repo", stage=Stage.HARDENING, impact=Impact.BLOCKER,
       title="No secrets in the repository or its history", targets=repository_apex, timeout_s=150.0)
def secrets_repo(target: str, ctx: Context) -> Result:
    """Scans the client's repository — every file of the working tree and every line any commit
    on any branch or tag added — for secrets. Findings whose fingerprint the agency accepted
    (``spec.hardening.accepted_secrets``) are left out and counted. Rules: detect-secrets'
    plugins and ours in ``checks/engine/secrets/rules.py``; a private key is a PEM block
    (RFC 7468 §10–11) with a real base64 body; git is read over HTTPS (RFC 9110, git's
    http-protocol documentation) only; no RFC defines which strings are credentials.

    - fail: at least one leak (a working credential: Stripe secret key, AWS key pair, private
      key with a real body, tokens …), including a key in an old commit since deleted.
    - warn: only review findings (a Google browser API key: "verify key restrictions"; an AWS
      key ID without its secret; a high-entropy string no rule names).
    - pass: nothing found (an archive without ``.git`` has no history: the summary says so).
    - error: the clone or extraction failed (the reason), or the scan could not finish (git
      failed on the history, or the time bound ran out) before finding a leak.
    Evidence: ``{"source", "kind", "history_scanned", "commits_scanned", "leaks", "review",
    "accepted"`` (distinct secrets, by fingerprint), ``"places"`` (findings kept: one secret in
    the working tree and in the commit that added it is two places), ``"findings": [{"rule",
    "level", "file", "line", "commit", "redacted", "fingerprint", "server_only", "note"}]``
    (at most 20 places, leaks first; never a value), ``"skipped": {…}}``.
    Metrics: ``leaks``, ``review``, ``accepted``, ``commits_scanned``.
    """
    hardening = ctx.project.hardening
    if hardening is None or hardening.repository is None:
        return Result.skipped("no repository given")
    try:
        with repository_folder(hardening.repository, ctx.net, INTAKE_LIMITS) as intake:
            report = scan_path(intake.root, limits=SCAN_LIMITS)
    except IntakeError as exc:
        return Result.error(f"the repository could not be read: {exc}",
                            {"source": _source(hardening.repository)})
    return _verdict(intake, report, hardening.accepted_secrets)


def _source(repository) -> str:
    return repository.archive_name if repository.load_archive is not None else repository.url


def _verdict(intake: Intake, report: ScanReport, accepted: frozenset[str]) -> Result:
    # One secret is often in several places (the working tree and the commit that added it):
    # counts are of distinct secrets (fingerprints), the list is of places.
    kept = [f for f in report.findings if f.fingerprint not in accepted]
    leaks = [f for f in kept if f.level == LEAK]
    review = [f for f in kept if f.level != LEAK]
    counts = {"leaks": _distinct(leaks), "review": _distinct(review),
              "accepted": _distinct([f for f in report.findings if f.fingerprint in accepted])}
    evidence = {
        "source": intake.source, "kind": intake.kind,
        "history_scanned": report.history_scanned, "commits_scanned": report.commits_scanned,
        **counts, "places": len(kept),
        "findings": [_entry(f) for f in (leaks + review)[:MAX_LISTED]],
        "skipped": {"oversized": len(report.skipped.oversized), "binary": len(report.skipped.binary),
                    "symlink": len(report.skipped.symlink)},
    }
    metrics = {**counts, "commits_scanned": report.commits_scanned}
    if leaks:
        return Result.fail(_leak_summary(leaks), evidence, metrics=metrics, remediation=REMEDIATION_LEAK)
    unfinished = report.stopped or (f"the history could not be scanned ({report.history_error})"
                                    if report.history_error else "")
    if unfinished:
        return Result.error(f"{unfinished}; no leak found in what was scanned", evidence, metrics=metrics)
    history = _history_words(intake, report)
    if counts["accepted"]:
        history += f"; {_n(counts['accepted'], 'accepted secret')} left out"
    if review:
        return Result.warn(f"{_n(counts['review'], 'finding')} to review, no leak; {history}", evidence,
                           metrics=metrics, remediation=REMEDIATION_REVIEW)
    return Result.passed(f"no secrets found; {history}", evidence, metrics=metrics)


def _entry(finding: SecretFinding) -> dict:
    return {"rule": finding.rule, "level": finding.level, "file": finding.file, "line": finding.line,
            "commit": finding.commit, "redacted": finding.redacted, "fingerprint": finding.fingerprint,
            "server_only": finding.server_only, "note": finding.note}


def _distinct(findings: list[SecretFinding]) -> int:
    return len({f.fingerprint for f in findings})


def _leak_summary(leaks: list[SecretFinding]) -> str:
    first, count = leaks[0], _distinct(leaks)
    where = f"{first.file} line {first.line}" + (f" of commit {first.commit[:12]}" if first.commit else "")
    more = f" and {count - 1} more" if count > 1 else ""
    return f"{_n(count, 'leaked secret')}: {first.rule} in {where}{more}"


def _history_words(intake: Intake, report: ScanReport) -> str:
    if report.history_scanned:
        return f"working tree and {_n(report.commits_scanned, 'commit')} with changes scanned"
    if intake.kind == "git":
        return "working tree scanned; the clone has no commits"
    return f"working tree scanned; no git history in the {intake.kind}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
