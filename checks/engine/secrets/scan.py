"""Scan text, a directory, and (when it is a git repository) its whole history for secrets.

``scan_text(text, name)`` is the one entry point every scan goes through (files on disk,
history blobs, and other checks' in-memory text such as a client bundle): detect-secrets'
hits, then the rules of ``rules.py``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .detect import detect_in_text
from .finding import SecretFinding
from .history import HistoryError, history_files, is_git_repository
from .rules import classify
from .tree import Skipped, text_files

MAX_TEXT_CHARS = 4_000_000  # ~0.4 s per MB of minified code on one core (benchmarks/secret_scan.py)
MAX_FILE_BYTES = 1_000_000
MAX_COMMITS = 10_000
GIT_TIMEOUT_S = 60.0


class ScanPathError(ValueError):
    """The path to scan does not exist or is not a directory."""


@dataclass(frozen=True)
class ScanLimits:
    """``max_file_bytes`` per file (working tree and history blobs), ``max_commits`` walked,
    ``git_timeout_s`` per git command, ``max_scan_s`` for the whole scan (``None``: no bound;
    over it the scan stops and says so in ``ScanReport.stopped``)."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_commits: int = MAX_COMMITS
    git_timeout_s: float = GIT_TIMEOUT_S
    max_scan_s: float | None = None


@dataclass
class ScanReport:
    """Findings (working tree first, then history newest commit first), what was skipped,
    whether history was scanned, and why not when it failed (``history_error``); ``stopped``
    says why the scan ended early (``""``: it did not)."""

    findings: list[SecretFinding] = field(default_factory=list)
    skipped: Skipped = field(default_factory=Skipped)
    history_scanned: bool = False
    commits_scanned: int = 0
    history_error: str = ""
    stopped: str = ""


def scan_text(text: str, name: str, *, max_chars: int = MAX_TEXT_CHARS) -> list[SecretFinding]:
    """The secrets in ``text`` as if it were a file called ``name`` (a path or a URL: its base
    name feeds detect-secrets' filename heuristics, and it is each finding's ``file``).

    Bounded: only the first ``max_chars`` characters are scanned (callers holding more check
    ``len(text)`` and say so), and of long lines (minified bundles) only the windows around
    candidates are scanned (see ``detect.py``), so the time grows with the length only.
    Thread-safe: detect-secrets' part of each call is serialised (see ``detect.py``), never a
    whole repository.
    Findings are ordered by ``offset``; each has ``line`` and ``offset`` in ``text``.
    """
    text = text[:max_chars]
    # detect_in_text holds detect-secrets' lock for this one text; our rules need no lock.
    return classify(text, name, detect_in_text(text, name))


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
    deadline = _Deadline(limits.max_scan_s, report)
    # Each scan_text takes detect-secrets' lock for one file only, so another check's scan (the
    # client bundle's) is not kept waiting for a whole repository.
    for os_path, rel in text_files(root, limits.max_file_bytes, report.skipped):
        if deadline.passed():
            return report
        text = _read_text(os_path)
        if text is not None:
            report.findings.extend(scan_text(text, rel))
    if history and is_git_repository(root_real, limits.git_timeout_s):
        _scan_history(root_real, limits, report, deadline)
    return report


class _Deadline:
    def __init__(self, max_s: float | None, report: ScanReport) -> None:
        self.max_s, self.report = max_s, report
        self.at = None if max_s is None else time.monotonic() + max_s

    def passed(self) -> bool:
        if self.at is not None and time.monotonic() > self.at:
            self.report.stopped = f"the scan stopped after {self.max_s:g} s"
            return True
        return False


def _scan_history(root: str, limits: ScanLimits, report: ScanReport, deadline: _Deadline) -> None:
    seen_commits: set[str] = set()
    try:
        for added, text in history_files(root, limits.git_timeout_s, limits.max_commits,
                                         limits.max_file_bytes):
            if deadline.passed():
                break
            seen_commits.add(added.commit)
            report.findings.extend(
                dataclasses.replace(finding, commit=added.commit)
                for finding in scan_text(text, added.path)
                if finding.line in added.added_lines
            )
    except HistoryError as exc:
        report.history_error = str(exc)
    report.history_scanned = not report.history_error and not report.stopped
    report.commits_scanned = len(seen_commits)


def _read_text(os_path: str) -> str | None:
    """The file's text; ``None`` when it is not UTF-8 (detect-secrets skips such files)."""
    try:
        with open(os_path, encoding="utf-8") as fh:
            return fh.read()
    except (UnicodeDecodeError, OSError):
        return None
