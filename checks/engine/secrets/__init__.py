"""Secret scan (issue 5, stage 3): text, a directory and its git history, with detect-secrets.

Plain Python, no Django. ``scan_text(text, name)`` → ``[SecretFinding]`` (other checks use it
for in-memory text); ``scan_path(path)`` → ``ScanReport``; findings hold a redacted value and a
fingerprint only (see ``finding.py``), classified by ``rules.py``; ``to_sarif(findings)``
renders SARIF 2.1.0; ``intake.py`` brings a repository (git URL or archive) to a folder.
"""

from .finding import LEAK, REVIEW, Finding, SecretFinding, fingerprint, redact
from .rules import is_placeholder, is_server_only
from .sarif import to_sarif
from .scan import MAX_TEXT_CHARS, ScanLimits, ScanPathError, ScanReport, scan_path, scan_text

__all__ = ["LEAK", "MAX_TEXT_CHARS", "REVIEW", "Finding", "ScanLimits", "ScanPathError", "ScanReport",
           "SecretFinding", "fingerprint", "is_placeholder", "is_server_only", "redact", "scan_path",
           "scan_text", "to_sarif"]
