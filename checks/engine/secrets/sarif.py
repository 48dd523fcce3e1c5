"""SARIF 2.1.0 output (OASIS SARIF v2.1.0, §3.13 sarifLog, §3.14 run, §3.27 result).

One rule per detect-secrets plugin type found; each result carries the redacted value in its
message, the file and line as a physical location (§3.29), and, for a history finding, the
commit in ``properties`` and in the message. The raw value is never included.
"""

from __future__ import annotations

import re

from .finding import Finding

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "launchready-scan-secrets"


def rule_id(rule: str) -> str:
    """A stable SARIF ruleId from a plugin type: ``"Stripe Access Key"`` → ``"stripe-access-key"``."""
    return re.sub(r"[^a-z0-9]+", "-", rule.lower()).strip("-")


def _result(finding: Finding) -> dict:
    where = f" in commit {finding.commit}" if finding.commit else ""
    return {
        "ruleId": rule_id(finding.rule),
        "level": "error",
        "message": {"text": f"{finding.rule}{where}: {finding.redacted}"},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": finding.file},
                "region": {"startLine": finding.line},
            },
        }],
        "partialFingerprints": {"secretSha256/v1": finding.redacted.rsplit(":", 1)[1]},
        "properties": {"commit": finding.commit, "serverOnly": finding.server_only},
    }


def to_sarif(findings: list[Finding]) -> dict:
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
