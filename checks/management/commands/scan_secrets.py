"""``manage.py scan_secrets PATH [--format json|sarif] [--no-history]``: the secret scan for a
client's CI. Needs no database (no model is imported, no system checks run).

Prints the findings on stdout — JSON (a list of ``{"rule", "file", "line", "redacted",
"server_only", "fingerprint", "level", "note", "offset", "commit"}``) or SARIF 2.1.0 — and a
one-line summary on stderr. Exit status: 0 no leak found (review findings, such as a Google
browser API key, are printed but do not fail the build), 1 leaks found, 2 bad path (missing
or not a directory).
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from checks.engine.secrets import ScanPathError, scan_path, to_sarif

EXIT_FOUND = 1
EXIT_BAD_PATH = 2


class Command(BaseCommand):
    help = "Scan a directory and its git history for secrets (exit 1 when a leak is found)."
    requires_system_checks: list[str] = []  # system checks would touch the database settings

    def add_arguments(self, parser):
        parser.add_argument("path", help="directory to scan (a git work tree: its history too)")
        parser.add_argument("--format", choices=["json", "sarif"], default="json")
        parser.add_argument("--no-history", action="store_true",
                            help="scan only the files on disk, not the git history")

    def handle(self, *args, **options):
        try:
            report = scan_path(options["path"], history=not options["no_history"])
        except ScanPathError as exc:
            raise CommandError(str(exc), returncode=EXIT_BAD_PATH) from None
        if options["format"] == "sarif":
            payload = to_sarif(report.findings)
        else:
            payload = [f.as_dict() for f in report.findings]
        self.stdout.write(json.dumps(payload, indent=2))
        self.stderr.write(self._summary(report))
        if any(f.is_leak for f in report.findings):
            sys.exit(EXIT_FOUND)

    @staticmethod
    def _summary(report) -> str:
        skipped = report.skipped
        history = (f"history: {report.commits_scanned} commit(s) with changes scanned"
                   if report.history_scanned else
                   f"history not scanned ({report.history_error})" if report.history_error else
                   "history not scanned")
        leaks = sum(f.is_leak for f in report.findings)
        return (f"{leaks} secret(s) found, {len(report.findings) - leaks} to review; {history}; skipped "
                f"{len(skipped.oversized)} oversized, {len(skipped.binary)} binary, "
                f"{len(skipped.symlink)} symlink(s)")
