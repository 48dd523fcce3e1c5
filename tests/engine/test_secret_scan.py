"""Secret scan (issue 5, stage 3): a real git repository built in the test, scanned by the
engine and by ``manage.py scan_secrets`` as a subprocess with no reachable database.

Every key below is fake and assembled at run time, so this file holds no key-shaped literal.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from checks.engine.secrets import ScanLimits, scan_path, to_sarif

REPO = Path(__file__).resolve().parents[2]

STRIPE_KEY = "sk_" + "live_" + "0Fake" + "Key0For0Tests0Only0"
AWS_KEY_ID = "AKIA" + "FAKE0TEST0KEY" + "007"
AWS_SECRET = ("Fake" + "AwsSecret/" + "KeyForLaunchReady+" + "Tests012345")[:40]
PEM_HEAD = "-----BEGIN " + "RSA PRIVATE KEY-----"
PEM_NAME = "BEGIN " + "RSA PRIVATE KEY"  # what detect-secrets reports as the value
GIT_ID = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid"]


def redacted(value: str) -> str:
    return f"{value[:4]}...sha256:{hashlib.sha256(value.encode()).hexdigest()[:12]}"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *GIT_ID, *args], capture_output=True,
                          text=True, check=True)
    return done.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def scan_cli(path: Path, *args: str) -> subprocess.CompletedProcess:
    # A database URL that points nowhere: the command must not need one.
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere", "REDIS_URL": ""}
    return subprocess.run([sys.executable, "manage.py", "scan_secrets", str(path), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def leaky_repo(tmp_path: Path) -> dict:
    """A git repo: commit 1 adds a Stripe live key in app.js, commit 2 deletes that line and
    adds an AWS key pair, a private key, a clean file, a binary and an oversized file holding
    the Stripe key, and symlinks to /etc/passwd and to a key file outside the repository."""
    repo = tmp_path / "client"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.js").write_text(f'const stripe = "{STRIPE_KEY}";\nconsole.log("hi");\n')
    first = commit_all(repo, "add payments")
    (repo / "app.js").write_text('console.log("hi");\n')
    (repo / "settings.py").write_text(
        f'DEBUG = False\naws_access_key_id = "{AWS_KEY_ID}"\naws_secret_access_key = "{AWS_SECRET}"\n')
    (repo / "deploy.pem").write_text(f"{PEM_HEAD}\nMIIEfake\n-----END RSA PRIVATE KEY-----\n")
    (repo / "clean.txt").write_text("Nothing to see here.\n")
    (repo / "logo.bin").write_bytes(b"\x89PNG\0\0" + f'key = "{STRIPE_KEY}"\n'.encode())
    (repo / "big.js").write_text(f'var k = "{STRIPE_KEY}";\n' + "// padding\n" * 100_000)
    second = commit_all(repo, "remove key, add config")
    outside = tmp_path / "outside.js"
    outside.write_text(f'var k = "{STRIPE_KEY}";\n')
    os.symlink("/etc/passwd", repo / "passwd-link")
    os.symlink(outside, repo / "outside-link.js")
    return {"repo": repo, "first": first, "second": second}


def test_engine_finds_head_and_history(leaky_repo):
    repo, first = leaky_repo["repo"], leaky_repo["first"]
    report = scan_path(repo)
    got = sorted((f.rule, f.file, f.line, f.commit, f.redacted, f.server_only) for f in report.findings)
    second = leaky_repo["second"]
    assert got == sorted([
        # HEAD
        ("AWS Access Key", "settings.py", 2, "", redacted(AWS_KEY_ID), False),
        ("AWS Access Key", "settings.py", 3, "", redacted(AWS_SECRET), True),
        ("Secret Keyword", "settings.py", 3, "", redacted(AWS_SECRET), False),
        ("Private Key", "deploy.pem", 1, "", redacted(PEM_NAME), True),
        # history: the deleted Stripe key, at the commit that added it
        ("Stripe Access Key", "app.js", 1, first, redacted(STRIPE_KEY), True),
        # history: the second commit's additions (the same secrets as HEAD)
        ("AWS Access Key", "settings.py", 2, second, redacted(AWS_KEY_ID), False),
        ("AWS Access Key", "settings.py", 3, second, redacted(AWS_SECRET), True),
        ("Secret Keyword", "settings.py", 3, second, redacted(AWS_SECRET), False),
        ("Private Key", "deploy.pem", 1, second, redacted(PEM_NAME), True),
    ])
    assert report.history_scanned is True
    assert report.commits_scanned == 2
    assert report.skipped.binary == ["logo.bin"]
    assert report.skipped.oversized == ["big.js"]
    assert sorted(report.skipped.symlink) == ["outside-link.js", "passwd-link"]


def test_no_history_misses_the_deleted_key(leaky_repo):
    report = scan_path(leaky_repo["repo"], history=False)
    assert report.history_scanned is False
    assert [f for f in report.findings if f.rule == "Stripe Access Key"] == []
    assert {f.commit for f in report.findings} == {""}


def test_size_cap_applies_to_files(tmp_path):
    (tmp_path / "small.js").write_text(f'var k = "{STRIPE_KEY}";\n')
    assert [f.rule for f in scan_path(tmp_path, limits=ScanLimits(max_file_bytes=10)).findings] == []
    assert scan_path(tmp_path, limits=ScanLimits(max_file_bytes=10)).skipped.oversized == ["small.js"]
    assert [f.rule for f in scan_path(tmp_path).findings] == ["Stripe Access Key"]


def test_cli_json_exit_1_and_never_prints_the_secret(leaky_repo):
    done = scan_cli(leaky_repo["repo"])
    assert done.returncode == 1
    findings = json.loads(done.stdout)
    assert len(findings) == 9
    stripe = [f for f in findings if f["rule"] == "Stripe Access Key"]
    assert stripe == [{"rule": "Stripe Access Key", "file": "app.js", "line": 1,
                       "redacted": redacted(STRIPE_KEY), "server_only": True,
                       "commit": leaky_repo["first"]}]
    for secret in (STRIPE_KEY, AWS_SECRET, AWS_KEY_ID, "MIIEfake"):
        assert secret not in done.stdout
        assert secret not in done.stderr
    assert done.stderr.strip() == ("9 secret(s) found; history: 2 commit(s) with changes scanned; "
                                   "skipped 1 oversized, 1 binary, 2 symlink(s)")


def test_cli_no_history_and_sarif(leaky_repo):
    done = scan_cli(leaky_repo["repo"], "--no-history", "--format", "sarif")
    assert done.returncode == 1
    sarif = json.loads(done.stdout)
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    assert run["tool"]["driver"]["name"] == "launchready-scan-secrets"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [
        "aws-access-key", "private-key", "secret-keyword"]
    assert len(run["results"]) == 4
    assert "stripe-access-key" not in {r["ruleId"] for r in run["results"]}
    pem = next(r for r in run["results"] if r["ruleId"] == "private-key")
    assert pem["message"] == {"text": f"Private Key: {redacted(PEM_NAME)}"}
    assert pem["locations"] == [{"physicalLocation": {"artifactLocation": {"uri": "deploy.pem"},
                                                      "region": {"startLine": 1}}}]
    assert pem["properties"] == {"commit": "", "serverOnly": True}
    assert AWS_SECRET not in done.stdout and AWS_SECRET not in done.stderr


def test_cli_clean_directory_exits_0(tmp_path):
    (tmp_path / "clean.txt").write_text("Nothing to see here.\n")
    done = scan_cli(tmp_path)
    assert (done.returncode, json.loads(done.stdout)) == (0, [])


def test_cli_bad_path_exits_2(tmp_path):
    done = scan_cli(tmp_path / "missing")
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"not a directory: {tmp_path / 'missing'}" in done.stderr


def test_sarif_of_no_findings_has_required_fields():
    assert to_sarif([])["runs"] == [{"tool": {"driver": {
        "name": "launchready-scan-secrets", "informationUri": "https://github.com/Yelp/detect-secrets",
        "rules": []}}, "results": []}]


def test_history_covers_every_ref_not_only_the_checked_out_branch(tmp_path):
    repo = tmp_path / "client"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("hello\n")
    commit_all(repo, "init")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "pay.js").write_text(f'// checkout\nconst k = "{STRIPE_KEY}";\n')
    side = commit_all(repo, "wip payments")
    git(repo, "checkout", "-q", "main")
    report = scan_path(repo)
    assert [(f.rule, f.file, f.line, f.commit, f.server_only) for f in report.findings] == [
        ("Stripe Access Key", "pay.js", 2, side, True)]
    assert report.commits_scanned == 2
