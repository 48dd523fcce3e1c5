"""Secret scan (issue 5, stage 3): a directory and its git history, with detect-secrets.

Plain Python, no Django. ``scan_path(path)`` → ``ScanReport``; findings hold a redacted value
only (see ``finding.py``); ``to_sarif(findings)`` renders SARIF 2.1.0.
"""

from .finding import Finding, is_server_only, redact
from .sarif import to_sarif
from .scan import ScanLimits, ScanPathError, ScanReport, scan_path

__all__ = ["Finding", "ScanLimits", "ScanPathError", "ScanReport", "is_server_only", "redact",
           "scan_path", "to_sarif"]
