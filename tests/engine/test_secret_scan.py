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
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from checks.engine.secrets import ScanLimits, fingerprint, scan_path, scan_text, to_sarif
from checks.engine.secrets import scan as scan_module

REPO = Path(__file__).resolve().parents[2]

STRIPE_KEY = "sk_" + "live_" + "0Fake" + "Key0For0Tests0Only0"
AWS_KEY_ID = "AKIA" + "FAKE0TEST0KEY" + "007"
AWS_SECRET = ("Fake" + "AwsSecret/" + "KeyForLaunchReady+" + "Tests012345")[:40]
AWS_PAIR = f"{AWS_KEY_ID}:{AWS_SECRET}"  # what the pair's fingerprint and redaction are taken from
GIT_ID = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid"]


def new_private_key() -> tuple[str, str]:
    """A throwaway Ed25519 key in PKCS #8 PEM, and its base64 body (what a finding hashes)."""
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return pem, "".join(pem.splitlines()[1:-1])


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


def summary_line(done: subprocess.CompletedProcess) -> str:
    """The command's summary: the last line on stderr (start-up logging may come before it)."""
    return done.stderr.strip().splitlines()[-1]


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
    pem, body = new_private_key()
    (repo / "deploy.pem").write_text(pem)
    (repo / "clean.txt").write_text("Nothing to see here.\n")
    (repo / "logo.bin").write_bytes(b"\x89PNG\0\0" + f'key = "{STRIPE_KEY}"\n'.encode())
    (repo / "big.js").write_text(f'var k = "{STRIPE_KEY}";\n' + "// padding\n" * 100_000)
    second = commit_all(repo, "remove key, add config")
    outside = tmp_path / "outside.js"
    outside.write_text(f'var k = "{STRIPE_KEY}";\n')
    os.symlink("/etc/passwd", repo / "passwd-link")
    os.symlink(outside, repo / "outside-link.js")
    return {"repo": repo, "first": first, "second": second, "pem_body": body}


def test_engine_finds_head_and_history(leaky_repo):
    repo, first = leaky_repo["repo"], leaky_repo["first"]
    report = scan_path(repo)
    got = sorted((f.rule, f.file, f.line, f.commit, f.redacted, f.server_only, f.level, f.fingerprint)
                 for f in report.findings)
    second, body = leaky_repo["second"], leaky_repo["pem_body"]
    aws = (redacted(AWS_PAIR), True, "leak", fingerprint("AWS Access Key", AWS_PAIR))
    pem = (redacted(body), True, "leak", fingerprint("Private Key", body))
    assert got == sorted([
        # HEAD: the key ID and its secret are one finding, at the secret's line
        ("AWS Access Key", "settings.py", 3, "", *aws),
        ("Private Key", "deploy.pem", 1, "", *pem),
        # history: the deleted Stripe key, at the commit that added it
        ("Stripe Access Key", "app.js", 1, first, redacted(STRIPE_KEY), True, "leak",
         fingerprint("Stripe Access Key", STRIPE_KEY)),
        # history: the second commit's additions (the same secrets as HEAD, same fingerprints)
        ("AWS Access Key", "settings.py", 3, second, *aws),
        ("Private Key", "deploy.pem", 1, second, *pem),
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
    assert len(findings) == 5
    stripe = [f for f in findings if f["rule"] == "Stripe Access Key"]
    assert stripe == [{"rule": "Stripe Access Key", "file": "app.js", "line": 1, "offset": 16,
                       "redacted": redacted(STRIPE_KEY), "server_only": True, "level": "leak",
                       "note": "", "fingerprint": fingerprint("Stripe Access Key", STRIPE_KEY),
                       "commit": leaky_repo["first"]}]
    for secret in (STRIPE_KEY, AWS_SECRET, AWS_KEY_ID, leaky_repo["pem_body"]):
        assert secret not in done.stdout
        assert secret not in done.stderr
    assert summary_line(done) == ("5 secret(s) found, 0 to review; history: 2 commit(s) with changes "
                                   "scanned; skipped 1 oversized, 1 binary, 2 symlink(s)")


def test_cli_no_history_and_sarif(leaky_repo):
    done = scan_cli(leaky_repo["repo"], "--no-history", "--format", "sarif")
    assert done.returncode == 1
    sarif = json.loads(done.stdout)
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    assert run["tool"]["driver"]["name"] == "launchready-scan-secrets"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["aws-access-key", "private-key"]
    assert len(run["results"]) == 2
    assert "stripe-access-key" not in {r["ruleId"] for r in run["results"]}
    pem = next(r for r in run["results"] if r["ruleId"] == "private-key")
    body = leaky_repo["pem_body"]
    assert pem["level"] == "error"
    assert pem["message"] == {"text": f"Private Key: {redacted(body)}"}
    assert pem["locations"] == [{"physicalLocation": {"artifactLocation": {"uri": "deploy.pem"},
                                                      "region": {"startLine": 1}}}]
    assert pem["partialFingerprints"] == {"secretFingerprint/v1": fingerprint("Private Key", body)}
    assert pem["properties"] == {"commit": "", "serverOnly": True, "level": "leak"}
    assert AWS_SECRET not in done.stdout and AWS_SECRET not in done.stderr


def test_cli_review_only_findings_exit_0_with_a_sarif_warning(tmp_path):
    google_key = "AI" + "za" + ("Sy0Fake0Browser0Key0For0Tests" + "0" * 10)[:35]
    (tmp_path / "firebase.js").write_text(f'const config = {{apiKey: "{google_key}"}};\n')
    done = scan_cli(tmp_path, "--format", "sarif")
    assert done.returncode == 0
    (result,) = json.loads(done.stdout)["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("google-api-key", "warning")
    assert result["message"]["text"] == (
        f"Google API Key: {redacted(google_key)} (Google API key: public by design in a browser app; "
        "verify key restrictions (HTTP referrers and APIs) in the Google Cloud console)")
    assert google_key not in done.stdout
    assert summary_line(done) == ("0 secret(s) found, 1 to review; history not scanned; "
                                   "skipped 0 oversized, 0 binary, 0 symlink(s)")


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


def test_a_repository_scan_lets_a_bundle_scan_in_between_two_files(tmp_path, monkeypatch):
    """detect-secrets' lock is held per file, never across the repository: while the
    repository scan is between its second and third file, a bundle scan in another thread
    runs to the end. (Counted, not timed: with the lock held across the repository the bundle
    scan could not finish and the wait below gives up.)"""
    for number in range(3):
        (tmp_path / f"f{number}.py").write_text(f'value_{number} = {number}\n', encoding="utf-8")
    order: list[str] = []
    bundle_findings: list = []
    bundle_done = threading.Event()

    def bundle_scan() -> None:
        bundle_findings.extend(scan_text(f'x="{STRIPE_KEY}";', "https://shop.test/app.js"))
        order.append("bundle scanned")
        bundle_done.set()

    read_text = scan_module._read_text

    def read_and_let_the_bundle_in(os_path: str) -> str | None:
        name = os.path.basename(os_path)
        if name == "f2.py":
            threading.Thread(target=bundle_scan, daemon=True).start()
            assert bundle_done.wait(timeout=60), "the bundle scan was kept waiting"
        order.append(name)
        return read_text(os_path)

    monkeypatch.setattr(scan_module, "_read_text", read_and_let_the_bundle_in)
    report = scan_path(tmp_path, history=False)

    assert order == ["f0.py", "f1.py", "bundle scanned", "f2.py"]
    assert report.findings == []
    assert [(f.rule, f.offset, f.fingerprint) for f in bundle_findings] == [
        ("Stripe Access Key", 3, "stripe-access-key:" + hashlib.sha256(STRIPE_KEY.encode()).hexdigest()[:24])]


def test_installed_dependencies_and_caches_are_not_walked(tmp_path):
    from checks.engine.secrets.tree import Skipped, text_files

    for folder in ("node_modules/pkg", ".venv/lib", "src"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "a.js").write_text("x = 1\n")

    assert [rel for _, rel in text_files(tmp_path, 1_000_000, Skipped())] == ["src/a.js"]


def test_configuration_examples_with_placeholder_passwords_are_no_finding():
    from checks.engine.secrets import scan_text

    examples = ("# DATABASE_URL=postgres://launchready:secret@db:5432/launchready\n"
                "EMAIL_URL=smtp+tls://user:password@smtp.example.com:587\n"
                'db_password = "${DB_PASSWORD}"\n')
    real = "DATABASE_URL=postgres://app:" + "Zq8kd93" + "Lm2xQ@db.internal:5432/app\n"  # built: no key here

    assert scan_text(examples, ".env.example") == []
    found = [(f.rule, f.level, f.line) for f in scan_text(real, ".env")]
    assert found == [("Basic Auth Credentials", "leak", 1)]
