"""hardening.secrets_repo on scenarios/faults/secrets-repo.yaml: the sandbox serves the client's
repository over HTTPS (git's dumb protocol), the check clones it through the outbound policy
and scans the working tree and every commit; an uploaded archive is built here."""

from __future__ import annotations

import copy
import io
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from checks.engine.audit import spec_from_dict
from checks.engine.registry import Context, all_checks
from checks.engine.secrets import fingerprint, redact
from checks.engine.secrets.archive import IntakeError
from checks.engine.secrets.clone import CloneLimits, clone_repository
from checks.engine.spec import HardeningFacts, ProjectSpec, RepositorySource
from tests.conftest import SCENARIOS

STRIPE_KEY = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
URL = "https://git.secrets-repo.test/acme/app.git"
APEX = "secrets-repo.test"
SKIPPED_NONE = {"oversized": 0, "binary": 0, "symlink": 0}
STRIPE_ENTRY = {"rule": "Stripe Access Key", "level": "leak", "file": "src/payments.js", "line": 2,
                "redacted": redact(STRIPE_KEY), "fingerprint": fingerprint("Stripe Access Key", STRIPE_KEY),
                "server_only": True, "note": ""}
GIT_ID = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid"]


def scenario() -> dict:
    return yaml.safe_load((SCENARIOS / "faults" / "secrets-repo.yaml").read_text(encoding="utf-8"))


def run(net, spec: ProjectSpec):
    check = {c.id: c for c in all_checks()}["hardening.secrets_repo"]
    return check.run(APEX, Context(net, spec))


def with_repository(repository: RepositorySource | None,
                    accepted: frozenset[str] = frozenset()) -> ProjectSpec:
    facts = HardeningFacts(repository=repository, accepted_secrets=accepted)
    return ProjectSpec(name="t", apex=APEX, hardening=facts)


def test_a_key_committed_then_deleted_fails_at_the_commit_that_added_it(sandbox):
    data = scenario()
    box, net = sandbox(data)
    first, second = box.repo_commits["leaky"]

    result = run(net, spec_from_dict(data["project"]))

    assert result.status == "fail"
    assert result.summary == (f"1 leaked secret: Stripe Access Key in src/payments.js line 2 "
                              f"of commit {first[:12]}")
    assert result.evidence == {
        "source": URL, "kind": "git", "history_scanned": True, "commits_scanned": 2,
        "leaks": 1, "review": 0, "accepted": 0, "places": 1,
        "findings": [{**STRIPE_ENTRY, "commit": first}], "skipped": SKIPPED_NONE,
    }
    assert result.metrics == {"leaks": 1, "review": 0, "accepted": 0, "commits_scanned": 2}
    assert STRIPE_KEY not in repr(result)
    assert result.remediation.startswith("Rotate each leaked key at its provider now")


def test_the_scenario_expects_fail_and_the_clean_repository_passes(sandbox):
    data = scenario()
    assert data["expect"] == {"hardening.secrets_repo": {APEX: "fail"}}
    box, net = sandbox(data)
    clean = "https://git.secrets-repo.test/acme/clean.git"

    result = run(net, with_repository(RepositorySource(url=clean)))

    assert (result.status, result.summary) == ("pass", "no secrets found; working tree and 1 commit with "
                                                       "changes scanned")
    assert result.evidence == {"source": clean, "kind": "git", "history_scanned": True, "commits_scanned": 1,
                               "leaks": 0, "review": 0, "accepted": 0, "places": 0, "findings": [],
                               "skipped": SKIPPED_NONE}


def test_an_accepted_secret_does_not_come_back(sandbox):
    _, net = sandbox(scenario())
    accepted = frozenset({STRIPE_ENTRY["fingerprint"]})

    result = run(net, with_repository(RepositorySource(url=URL), accepted))

    assert (result.status, result.summary) == (
        "pass", "no secrets found; working tree and 2 commits with changes scanned; "
                "1 accepted secret left out")
    assert (result.evidence["accepted"], result.evidence["findings"]) == (1, [])
    assert result.metrics == {"leaks": 0, "review": 0, "accepted": 1, "commits_scanned": 2}


def test_nothing_is_planned_without_a_repository():
    check = {c.id: c for c in all_checks()}["hardening.secrets_repo"]
    assert check.targets(ProjectSpec(name="t", apex=APEX)) == []
    assert check.targets(with_repository(None)) == []
    assert check.targets(with_repository(RepositorySource(url=URL))) == [APEX]
    assert (check.stage, check.impact, check.timeout_s) == ("hardening", "blocker", 150.0)


def test_a_repository_that_is_not_there_is_an_error_with_the_reason(sandbox):
    _, net = sandbox(scenario())
    missing = "https://git.secrets-repo.test/acme/none.git"

    result = run(net, with_repository(RepositorySource(url=missing)))

    assert result.status == "error"
    assert result.summary == ("the repository could not be read: git clone failed: fatal: repository "
                              "'https://git.secrets-repo.test/acme/none.git/' not found")
    assert result.evidence == {"source": missing}


@pytest.fixture
def hostile(sandbox):
    """The scenario plus a redirecting path, a slow path and a host on a private address."""
    data = copy.deepcopy(scenario())
    routes = data["hosts"]["git.secrets-repo.test"]["https"]
    routes.insert(0, {"path": "/moved.git/*", "status": 301,
                      "headers": [["Location", "https://git.secrets-repo.test/acme/app.git/{rest}"]]})
    routes.insert(0, {"path": "/slow.git/*", "status": 404, "latency_ms": 3000})
    data["hosts"]["inside.secrets-repo.test"] = {"https": [{"path": "/*", "status": 404}]}
    data["dns"] = {"inside.secrets-repo.test": {"A": ["10.1.2.3"]}}
    return sandbox(data)[1]


@pytest.mark.parametrize(("url", "limits", "message"), [
    ("https://git.secrets-repo.test/moved.git", CloneLimits(),
     "git clone failed: fatal: unable to access 'https://git.secrets-repo.test/moved.git/': "
     "The requested URL returned error: 301"),
    ("https://git.secrets-repo.test/slow.git", CloneLimits(timeout_s=1), "git clone timed out after 1 s"),
    ("https://inside.secrets-repo.test/app.git", CloneLimits(), "outbound policy refused 10.1.2.3: private"),
    ("https://nowhere.secrets-repo.test/app.git", CloneLimits(),
     "the repository host does not resolve: nowhere.secrets-repo.test does not exist (NXDOMAIN)"),
    (URL, CloneLimits(max_bytes=2000), "the repository is larger than 0.002 MB"),
])
def test_clone_refuses_redirects_slowness_private_addresses_and_size(hostile, tmp_path, url, limits, message):
    dest = tmp_path / "clone"
    with pytest.raises(IntakeError) as raised:
        clone_repository(url, hostile, str(dest), limits)
    assert str(raised.value) == message


def test_clone_verifies_tls_against_the_sandbox_ca_only(sandbox, tmp_path):
    # Without the sandbox's CA in the profile the certificate is not trusted: no clone.
    from dataclasses import replace

    from checks.engine.net.session import Net

    box, _ = sandbox(scenario())
    with Net(replace(box.profile, extra_ca_pem=None)) as untrusting, pytest.raises(IntakeError) as raised:
        clone_repository(URL, untrusting, str(tmp_path / "clone"))
    assert str(raised.value).startswith("git clone failed: fatal: unable to access "
                                        "'https://git.secrets-repo.test/acme/app.git/': ")


def leaky_git_repo(root: Path) -> list[str]:
    """A git repo with the Stripe key in its first commit, deleted in its second."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *GIT_ID, *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    root.mkdir()
    git("init", "-q", "-b", "main")
    (root / "src").mkdir()
    payments = root / "src" / "payments.js"
    payments.write_text(f"// charge a card\nconst stripe = require('stripe')('{STRIPE_KEY}');\n")
    git("add", "-A")
    git("commit", "-q", "-m", "add payments")
    first = git("rev-parse", "HEAD")
    payments.write_text("// charge a card\nconst stripe = require('stripe')(process.env.K);\n")
    git("commit", "-q", "-am", "use the environment")
    return [first, git("rev-parse", "HEAD")]


def tar_gz(root: Path, top: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(root, arcname=top)
    return out.getvalue()


def test_an_uploaded_tar_gz_with_git_history_is_scanned_whole(sandbox, tmp_path):
    commits = leaky_git_repo(tmp_path / "app")
    data = tar_gz(tmp_path / "app", "app-main")  # GitHub's layout: one top folder
    _, net = sandbox(scenario())

    result = run(net, with_repository(RepositorySource(url=URL, archive_name="app.tar.gz",
                                                       load_archive=lambda: data)))

    assert result.status == "fail"
    assert result.summary == (f"1 leaked secret: Stripe Access Key in src/payments.js line 2 of commit "
                              f"{commits[0][:12]}")
    assert result.evidence["source"] == "app.tar.gz"
    assert result.evidence["kind"] == "tar.gz"
    assert result.evidence["findings"] == [{**STRIPE_ENTRY, "commit": commits[0]}]
    assert result.evidence["commits_scanned"] == 2


def test_an_uploaded_zip_without_git_scans_the_files_only(sandbox):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("src/payments.js", "const stripe = require('stripe')(process.env.K);\n")
    data = out.getvalue()
    _, net = sandbox(scenario())

    result = run(net, with_repository(RepositorySource(archive_name="app.zip", load_archive=lambda: data)))

    assert (result.status, result.summary) == ("pass", "no secrets found; working tree scanned; no git "
                                                       "history in the zip")
    assert result.evidence["history_scanned"] is False


def test_a_refused_archive_is_an_error_with_the_reason(sandbox):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("../evil.sh", "echo hi\n")
    data = out.getvalue()
    _, net = sandbox(scenario())

    result = run(net, with_repository(RepositorySource(archive_name="evil.zip", load_archive=lambda: data)))

    assert (result.status, result.summary, result.evidence) == (
        "error", "the repository could not be read: '../evil.sh': '..' would leave the extraction folder",
        {"source": "evil.zip"})


def test_the_temporary_folder_is_always_removed(sandbox, tmp_path, monkeypatch):
    import tempfile

    _, net = sandbox(scenario())
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    run(net, spec_from_dict(scenario()["project"]))
    run(net, with_repository(RepositorySource(url="https://git.secrets-repo.test/acme/none.git")))
    assert [p for p in os.listdir(tmp_path) if p.startswith("lr-")] == []


def test_a_scan_out_of_time_is_an_error_not_a_pass(sandbox, monkeypatch):
    from checks.engine.checks import secrets_repo
    from checks.engine.secrets import ScanLimits

    monkeypatch.setattr(secrets_repo, "SCAN_LIMITS", ScanLimits(max_scan_s=0))
    _, net = sandbox(scenario())

    result = run(net, with_repository(RepositorySource(url="https://git.secrets-repo.test/acme/clean.git")))

    assert (result.status, result.summary) == (
        "error", "the scan stopped after 0 s; no leak found in what was scanned")


@pytest.mark.parametrize(("repo", "message"), [
    ({"host": "nowhere.test", "path": "/a.git", "commits": [{"message": "m"}]},
     "scenario: repos.app: host 'nowhere.test' must be a host of the scenario that serves https"),
    ({"host": "git.secrets-repo.test", "path": "a.git", "commits": [{"message": "m"}]},
     "scenario: repos.app: path must start with '/', not end with '/', and have no '..' or '*'"),
    ({"host": "git.secrets-repo.test", "path": "/a.git", "commits": []},
     "scenario: repos.app: commits must be a list of 1 to 50 commits"),
    ({"host": "git.secrets-repo.test", "path": "/a.git", "commits": [{"files": {"../x": "y"}}]},
     "scenario: repos.app.commits[0]: file path '../x' must be relative, inside the repository"),
    ({"host": "git.secrets-repo.test", "path": "/a.git", "commits": [{"files": {"x": {"generate": "rsa"}}}]},
     "scenario: repos.app.commits[0].files.x: content must be text, {fragments: [...]} or "
     "{generate: ed25519-private-key}"),
    ({"host": "git.secrets-repo.test", "path": "/a.git", "commits": [{"message": "m"}], "branh": "x"},
     "scenario: repos.app: unknown key 'branh' (known: host, path, branch, commits)"),
])
def test_a_bad_repos_entry_is_refused_with_the_place(repo, message):
    from checks.sandbox import ScenarioError, parse_scenario

    data = {**scenario(), "repos": {"app": repo}}
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(data)
    assert str(raised.value) == message
