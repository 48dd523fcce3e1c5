"""The panel's own secret scan (scripts/scan_own_repo.py): on a small git repository made here,
and the repository's allowlist against the repository itself (no stale entry)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import scan_own_repo  # noqa: E402 - scripts/ is not a package

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

# A GitHub token shape, joined here so that no key is written in this file.
FAKE_TOKEN = "gh" + "p_" + "Zq7Lr2Vx9K" + "p4Nw8Bt3Hc" + "6Jm1Fd5Gs0" + "Ya2Ue4X"


def git_repo(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    return root


def run(root: Path, *extra: str, capsys) -> tuple[int, str, str]:
    status = scan_own_repo.main(["--root", str(root), *extra])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_leak_in_a_tracked_file_fails_redacted(tmp_path, capsys):
    root = git_repo(tmp_path, {"app/settings.py": f'GITHUB = "{FAKE_TOKEN}"\n', "README.md": "hello\n"})

    status, out, err = run(root, capsys=capsys)

    found = scan_own_repo.scan_text(FAKE_TOKEN, "x")[0]
    assert status == 1
    assert out.splitlines() == [f"leak: app/settings.py:1 GitHub Token {found.redacted} {found.fingerprint}"]
    assert FAKE_TOKEN not in out + err
    assert err.startswith("own secret scan: 2 tracked file(s) scanned, 0 skipped; 1 finding(s), "
                          "1 leak(s) not allowlisted, 0 stale allowlist entries\n")


def test_an_allowlisted_key_passes_and_a_stale_entry_is_named(tmp_path, capsys):
    fingerprint = scan_own_repo.scan_text(FAKE_TOKEN, "x")[0].fingerprint
    stale = "slack-token:" + "0" * 24
    root = git_repo(tmp_path, {
        "tests/fixture.py": f'TOKEN = "{FAKE_TOKEN}"\n',
        ".secrets-allowlist": f"# fakes\n{fingerprint} fake token of a test\n\n{stale} removed fixture\n",
    })

    status, out, _ = run(root, "--verbose", capsys=capsys)
    assert status == 0
    assert out.splitlines()[0].startswith("allowlisted leak: tests/fixture.py:1 GitHub Token ")
    assert out.splitlines()[1] == f"stale allowlist entry: {stale} (removed fixture)"

    assert run(root, capsys=capsys)[:2] == (0, f"stale allowlist entry: {stale} (removed fixture)\n")
    assert run(root, "--stale", capsys=capsys)[0] == 1


def test_ignored_binary_and_untracked_ignored_files_are_not_scanned(tmp_path, capsys):
    root = git_repo(tmp_path, {".gitignore": ".env\n", "logo.png": b"\x89PNG\0" + FAKE_TOKEN.encode()})
    (root / ".env").write_text(f"TOKEN={FAKE_TOKEN}\n")  # ignored: not the repository's

    status, out, err = run(root, capsys=capsys)

    assert (status, out) == (0, "")
    assert err.startswith("own secret scan: 1 tracked file(s) scanned, 1 skipped; 0 finding(s)")


def test_a_malformed_allowlist_or_no_checkout_exits_2(tmp_path, capsys):
    root = git_repo(tmp_path, {".secrets-allowlist": "# fakes\ngithub-token:abc no hex\n"})
    status, _, err = run(root, capsys=capsys)
    assert status == 2
    assert err == "scan_own_repo: .secrets-allowlist:2: expected '<rule-id>:<24 hex> <reason>'\n"

    plain = tmp_path / "plain"
    plain.mkdir()
    status, _, err = run(plain, capsys=capsys)
    assert status == 2 and err.startswith("scan_own_repo: git ls-files failed")


def test_the_repositorys_allowlist_has_no_stale_entry():
    allowlist = scan_own_repo.read_allowlist(REPO / scan_own_repo.ALLOWLIST_NAME)
    scan = scan_own_repo.scan_repository(REPO)

    assert scan_own_repo.stale_entries(scan, allowlist) == []


def test_the_recovery_code_alphabet_is_allowlisted_as_no_secret():
    """Crockford's base32 digits read as a high-entropy string (32 distinct characters: 5.0 bits
    each, over detect-secrets' base64 limit of 4.5, and not one of its known sequences): a review
    finding for every scan, kept quiet for this repository by its allowlist entry alone."""
    (found,) = scan_own_repo.scan_text('ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"\n',
                                       "projects/recovery_models.py")
    assert (found.level, found.rule, found.line, found.fingerprint) == (
        "review", "Base64 High Entropy String", 1, "base64-high-entropy-string:7b66ff8e21bee524e87c064b")
    allowlist = scan_own_repo.read_allowlist(REPO / scan_own_repo.ALLOWLIST_NAME)
    assert allowlist[found.fingerprint] == (
        "not a secret: projects/recovery_models.py's ALPHABET, Crockford's base32 digits (no i, l, o, u) "
        "that recovery codes are drawn from; 32 distinct characters measure 5.0 bits of entropy each, "
        "over the base64 rule's 4.5")
