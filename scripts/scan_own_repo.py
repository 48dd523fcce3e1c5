"""The panel's own secret scan: our scanner over this repository's tracked files, for CI.

Scans what ``git ls-files --cached --others --exclude-standard`` lists: the tracked files and
the new ones not yet added but not ignored either (in CI's fresh clone that is exactly the
tracked files; on a developer's machine it also catches a key before its first commit; ignored
files such as ``.env`` and ``var/`` are not the repository's), with
``checks.engine.secrets.scan_text``, the entry point every scan of the product goes through.
A tracked file is skipped when it is a symbolic link, missing from the working tree (deleted
but not yet committed), over ``MAX_FILE_BYTES``, binary (a NUL byte in its first 8 KiB, git's
own test) or not UTF-8 — the same rules as ``scan_path``'s working tree.

``.secrets-allowlist`` (at the top of the repository) names the findings we keep on purpose:
the fake keys of test fixtures and scenarios that must look real to the scanner. One entry a
line, ``<fingerprint> <reason>`` (the fingerprint as printed below, ``rule-id:24 hex``; the
reason is required), ``#`` comments and blank lines ignored. An entry that no longer matches
any finding is stale (``--stale`` lists them; tests/test_own_secret_scan.py fails on one).

Prints each finding not allowlisted redacted (``level: file:line rule prefix...sha256:…
fingerprint``, never the value; ``--verbose`` adds the allowlisted ones, marked), and a summary
on stderr. Exit status: 0 no leak outside the
allowlist (review findings are printed, as ``manage.py scan_secrets`` does), 1 a leak not
allowlisted (or, with ``--stale``, a stale entry), 2 not a git checkout or a bad allowlist.

``.venv/bin/python scripts/scan_own_repo.py [--root DIR] [--allowlist FILE] [--stale] [--verbose]
[--suggest]``
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from checks.engine.secrets import LEAK, SecretFinding, scan_text  # noqa: E402 - after the path

ALLOWLIST_NAME = ".secrets-allowlist"
MAX_FILE_BYTES = 1_000_000  # as ScanLimits.max_file_bytes
BINARY_SNIFF_BYTES = 8192
GIT_TIMEOUT_S = 60.0
ENTRY = re.compile(r"(?P<fingerprint>[a-z0-9-]+:[0-9a-f]{24})\s+(?P<reason>\S.*)")


class ScanSetupError(Exception):
    """Not a git checkout, or an allowlist line that is not ``<fingerprint> <reason>``."""


@dataclass(frozen=True)
class OwnScan:
    """``findings`` of every scanned file (in path order), ``files`` scanned, ``skipped``
    as ``(path, reason)``."""

    findings: list[SecretFinding]
    files: int
    skipped: list[tuple[str, str]]


def tracked_files(root: Path) -> list[str]:
    """Paths (relative, ``/``-separated) of the files git keeps or would add under ``root``
    (tracked, and untracked but not ignored); raises ``ScanSetupError`` when git fails (not a
    checkout, git missing)."""
    command = ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    try:
        done = subprocess.run(command, capture_output=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScanSetupError(f"git ls-files failed: {exc}") from None
    if done.returncode != 0:
        raise ScanSetupError(f"git ls-files failed: {done.stderr.decode(errors='replace').strip()}")
    return sorted({p for p in done.stdout.decode("utf-8", errors="surrogateescape").split("\0") if p})


def read_text(path: Path) -> tuple[str | None, str]:
    """``(text, "")``, or ``(None, reason)`` for a file that is not scanned."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None, "deleted"
    if stat.S_ISLNK(info.st_mode):
        return None, "symlink"
    if not stat.S_ISREG(info.st_mode):
        return None, "not a file"
    if info.st_size > MAX_FILE_BYTES:
        return None, "oversized"
    data = path.read_bytes()
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return None, "binary"
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError:
        return None, "not UTF-8"


def scan_repository(root: Path) -> OwnScan:
    """Scan the tracked files of the checkout at ``root``. Raises ``ScanSetupError``."""
    findings: list[SecretFinding] = []
    skipped: list[tuple[str, str]] = []
    files = 0
    for relative in tracked_files(root):
        text, reason = read_text(root / relative)
        if text is None:
            skipped.append((relative, reason))
            continue
        files += 1
        findings.extend(scan_text(text, relative))
    return OwnScan(findings, files, skipped)


def read_allowlist(path: Path) -> dict[str, str]:
    """``{fingerprint: reason}`` of the allowlist at ``path`` (empty when there is none);
    raises ``ScanSetupError`` naming the first malformed line."""
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        match = ENTRY.fullmatch(text)
        if match is None:
            raise ScanSetupError(f"{path.name}:{number}: expected '<rule-id>:<24 hex> <reason>'")
        entries[match["fingerprint"]] = match["reason"]
    return entries


def stale_entries(scan: OwnScan, allowlist: dict[str, str]) -> list[str]:
    """Allowlisted fingerprints that no finding of ``scan`` has, sorted."""
    found = {f.fingerprint for f in scan.findings}
    return sorted(set(allowlist) - found)


def suggestions(scan: OwnScan, allowlist: dict[str, str]) -> list[str]:
    """``<fingerprint> <rule> in <files>``, one per fingerprint not allowlisted: a draft for
    the allowlist whose reason a person must check and complete (is it really fake?)."""
    places: dict[str, tuple[str, set[str]]] = {}
    for finding in scan.findings:
        if finding.fingerprint not in allowlist:
            places.setdefault(finding.fingerprint, (finding.rule, set()))[1].add(finding.file)
    return [f"{fp} fake {rule.lower()} in {', '.join(sorted(files))}"
            for fp, (rule, files) in sorted(places.items())]


def describe(finding: SecretFinding, allowed: bool) -> str:
    """One line for a person; the value only redacted."""
    mark = "allowlisted " if allowed else ""
    return (f"{mark}{finding.level}: {finding.file}:{finding.line} {finding.rule} "
            f"{finding.redacted} {finding.fingerprint}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO, help="the checkout (default: this one)")
    parser.add_argument("--allowlist", type=Path, help=f"default: ROOT/{ALLOWLIST_NAME}")
    parser.add_argument("--stale", action="store_true", help="also fail on allowlist entries nothing matches")
    parser.add_argument("--verbose", action="store_true", help="also print the allowlisted findings")
    parser.add_argument("--suggest", action="store_true",
                        help="print an allowlist line per finding not allowlisted (write its reason)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        allowlist = read_allowlist(args.allowlist or root / ALLOWLIST_NAME)
        scan = scan_repository(root)
    except ScanSetupError as exc:
        print(f"scan_own_repo: {exc}", file=sys.stderr)
        return 2
    leaks = 0
    for finding in scan.findings:
        allowed = finding.fingerprint in allowlist
        leaks += finding.level == LEAK and not allowed
        if args.verbose or not allowed:
            print(describe(finding, allowed))
    if args.suggest:
        for line in suggestions(scan, allowlist):
            print(line)
    stale = stale_entries(scan, allowlist)
    for entry in stale:
        print(f"stale allowlist entry: {entry} ({allowlist[entry]})")
    print(f"own secret scan: {scan.files} tracked file(s) scanned, {len(scan.skipped)} skipped; "
          f"{len(scan.findings)} finding(s), {leaks} leak(s) not allowlisted, {len(stale)} stale "
          f"allowlist entr{'y' if len(stale) == 1 else 'ies'}", file=sys.stderr)
    if leaks:
        print(f"Leaked secrets in tracked files: remove them (and rotate them), or, for a fake key a "
              f"test needs, build it from fragments or add its fingerprint to {ALLOWLIST_NAME} "
              f"with a reason.", file=sys.stderr)
    return 1 if leaks or (args.stale and stale) else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
