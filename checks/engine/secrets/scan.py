"""Scan a directory (and, when it is a git repository, its whole history) for secrets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .detect import detect_in_file, detect_settings
from .finding import Finding
from .history import HistoryError, history_files, is_git_repository
from .tree import Skipped, text_files

MAX_FILE_BYTES = 1_000_000
MAX_COMMITS = 10_000
GIT_TIMEOUT_S = 60.0


class ScanPathError(ValueError):
    """The path to scan does not exist or is not a directory."""


@dataclass(frozen=True)
class ScanLimits:
    """``max_file_bytes`` per file (working tree and history blobs), ``max_commits`` walked,
    ``git_timeout_s`` per git command."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_commits: int = MAX_COMMITS
    git_timeout_s: float = GIT_TIMEOUT_S


@dataclass
class ScanReport:
    """Findings (working tree first, then history newest commit first), what was skipped,
    whether history was scanned, and why not when it failed (``history_error``)."""

    findings: list[Finding] = field(default_factory=list)
    skipped: Skipped = field(default_factory=Skipped)
    history_scanned: bool = False
    commits_scanned: int = 0
    history_error: str = ""


def scan_path(path: str | os.PathLike, *, history: bool = True,
              limits: ScanLimits = ScanLimits()) -> ScanReport:
    """Scan the directory ``path``; with ``history`` and a git repository at ``path``, also
    every line any commit on any ref added. Raises ``ScanPathError`` for a missing path or a
    non-directory. A git failure does not raise: it is reported in ``history_error``."""
    root = Path(path)
    if not root.is_dir():
        raise ScanPathError(f"not a directory: {path}")
    root_real = os.path.realpath(root)
    report = ScanReport()
    with detect_settings():
        for os_path, rel in text_files(root, limits.max_file_bytes, report.skipped):
            report.findings.extend(
                Finding.from_value(rule, rel, line, value) for rule, line, value in detect_in_file(os_path)
            )
        if history and is_git_repository(root_real, limits.git_timeout_s):
            _scan_history(root_real, limits, report)
    return report


def _scan_history(root: str, limits: ScanLimits, report: ScanReport) -> None:
    seen_commits: set[str] = set()
    try:
        for added, os_path in history_files(root, limits.git_timeout_s, limits.max_commits,
                                            limits.max_file_bytes):
            seen_commits.add(added.commit)
            report.findings.extend(
                Finding.from_value(rule, added.path, line, value, commit=added.commit)
                for rule, line, value in detect_in_file(os_path)
                if line in added.added_lines
            )
    except HistoryError as exc:
        report.history_error = str(exc)
    report.history_scanned = not report.history_error
    report.commits_scanned = len(seen_commits)
