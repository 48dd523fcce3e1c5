"""SARIF 2.1.0 output (OASIS SARIF v2.1.0, §3.13 sarifLog, §3.14 run, §3.27 result).

One rule per rule name found; each result carries the redacted value in its message, the file
and line as a physical location (§3.29), its level (§3.27.10: ``error`` for a leak, ``warning``
for a review finding), the finding's fingerprint in ``partialFingerprints`` (§3.27.17), and in
``properties`` the commit of a history finding, ``serverOnly`` and our ``level``. The raw value
is never included.
"""

from __future__ import annotations

from .finding import LEAK, SecretFinding, rule_id

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "launchready-scan-secrets"


def _result(finding: SecretFinding) -> dict:
    where = f" in commit {finding.commit}" if finding.commit else ""
    return {
        "ruleId": rule_id(finding.rule),
        "level": "error" if finding.level == LEAK else "warning",
        "message": {"text": f"{finding.rule}{where}: {finding.redacted}"
                            + (f" ({finding.note})" if finding.note else "")},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": finding.file},
                "region": {"startLine": finding.line},
            },
        }],
        "partialFingerprints": {"secretFingerprint/v1": finding.fingerprint},
        "properties": {"commit": finding.commit, "serverOnly": finding.server_only,
                       "level": finding.level},
    }


def to_sarif(findings: list[SecretFinding]) -> dict:
    """A SARIF log with one run: ``{"version", "$schema", "runs": [{"tool", "results"}]}``."""
    rules = sorted({f.rule for f in findings})
    return {
        "version": SARIF_VERSION,
        "$schema": SARIF_SCHEMA,
        "runs": [{
            "tool": {"driver": {
                "name": TOOL_NAME,
                "informationUri": "https://github.com/Yelp/detect-secrets",
                "rules": [{"id": rule_id(r), "name": r, "shortDescription": {"text": r}} for r in rules],
            }},
            "results": [_result(f) for f in findings],
        }],
    }
