"""Git repositories a scenario serves (``repos:``), for the repository secret scan.

Each repository is built with git when the sandbox starts — one commit per entry of
``commits``, with fixed dates and author so commit ids are the same on every run (unless a
file is generated) — cloned bare, and ``git update-server-info`` writes the files git's "dumb"
HTTP protocol reads (``info/refs``, ``objects/info/packs``; gitprotocol-http(5), "Dumb
Clients"). The bare repository's files are then served as static routes of the host, over
HTTPS, under the repository's ``path``::

    repos:
      app:
        host: git.example.com          # a host of the scenario that serves https
        path: /acme/app.git
        commits:
          - message: add payments
            files:
              app.js: "const k = 1;"
              .env: {fragments: ["STRIPE_KEY=sk_", "live_", "..."]}   # joined with ''
              deploy/key.pem: {generate: ed25519-private-key}        # made at start
          - message: remove the key
            delete: [.env]
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

REPO_KEYS = ("host", "path", "branch", "commits")
COMMIT_KEYS = ("message", "files", "delete")
GENERATED = ("ed25519-private-key",)
MAX_COMMITS = 50
MAX_REPO_FILE_CHARS = 1_000_000
_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Sandbox", "GIT_AUTHOR_EMAIL": "sandbox@example.invalid",
            "GIT_COMMITTER_NAME": "Sandbox", "GIT_COMMITTER_EMAIL": "sandbox@example.invalid"}
_FIRST_COMMIT_EPOCH_S = 1_767_225_600  # 2026-01-01T00:00:00Z; each next commit an hour later


@dataclass(frozen=True)
class CommitSpec:
    """One commit: ``files`` path → content (text, or ``{"generate": kind}``); ``delete``."""

    message: str
    files: dict[str, Any] = field(default_factory=dict)
    delete: tuple[str, ...] = ()


@dataclass(frozen=True)
class RepoSpec:
    """A repository served at ``https://<host><path>`` from branch ``branch``."""

    name: str
    host: str
    path: str
    commits: tuple[CommitSpec, ...]
    branch: str = "main"


def parse_repos(value: Any, hosts: dict, where: str) -> dict[str, RepoSpec]:
    """``repos:`` as ``RepoSpec``s; raises ``ScenarioError`` naming the place."""
    from checks.sandbox.scenario import ScenarioError, _known_keys  # scenario.py imports us

    if not value:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: repos must map a name to a repository")
    repos = {}
    for name, spec in value.items():
        place = f"{where}: repos.{name}"
        if not isinstance(spec, dict):
            raise ScenarioError(f"{place}: must be a mapping")
        _known_keys(spec, REPO_KEYS, place)
        host = str(spec.get("host") or "").lower()
        if host not in hosts or hosts[host].https is None:
            raise ScenarioError(f"{place}: host {host!r} must be a host of the scenario that serves https")
        path = str(spec.get("path") or "")
        if not path.startswith("/") or path.endswith("/") or ".." in path.split("/") or "*" in path:
            raise ScenarioError(f"{place}: path must start with '/', not end with '/', "
                                "and have no '..' or '*'")
        commits = spec.get("commits") or []
        if not isinstance(commits, list) or not 1 <= len(commits) <= MAX_COMMITS:
            raise ScenarioError(f"{place}: commits must be a list of 1 to {MAX_COMMITS} commits")
        repos[str(name)] = RepoSpec(str(name), host, path,
                                    tuple(_commit(c, f"{place}.commits[{i}]") for i, c in enumerate(commits)),
                                    str(spec.get("branch") or "main"))
    return repos


def _commit(spec: Any, place: str) -> CommitSpec:
    from checks.sandbox.scenario import ScenarioError, _known_keys

    if not isinstance(spec, dict):
        raise ScenarioError(f"{place}: must be a mapping")
    _known_keys(spec, COMMIT_KEYS, place)
    files = spec.get("files") or {}
    if not isinstance(files, dict):
        raise ScenarioError(f"{place}: files must map a path to its content")
    for path, content in files.items():
        if str(path).startswith("/") or ".." in str(path).split("/") or str(path).startswith(".git"):
            raise ScenarioError(f"{place}: file path {path!r} must be relative, inside the repository")
        _content(content, f"{place}.files.{path}")  # validate now, build at start
    delete = spec.get("delete") or []
    if not isinstance(delete, list):
        raise ScenarioError(f"{place}: delete must be a list of paths")
    return CommitSpec(str(spec.get("message") or "change"), {str(k): v for k, v in files.items()},
                      tuple(str(d) for d in delete))


def _content(value: Any, place: str) -> str:
    """A file's text: a string, ``{fragments: [...]}`` joined with ``''`` (how shared/cases
    stores credential-shaped strings), or ``{generate: ed25519-private-key}``."""
    from checks.sandbox.scenario import ScenarioError

    if isinstance(value, str):
        text = value
    elif isinstance(value, dict) and isinstance(value.get("fragments"), list):
        text = "".join(str(f) for f in value["fragments"])
    elif isinstance(value, dict) and value.get("generate") in GENERATED:
        text = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode("ascii")
    else:
        raise ScenarioError(f"{place}: content must be text, {{fragments: [...]}} or "
                            f"{{generate: {' | '.join(GENERATED)}}}")
    if len(text) > MAX_REPO_FILE_CHARS:
        raise ScenarioError(f"{place}: longer than {MAX_REPO_FILE_CHARS} characters")
    return text


def build_repo(spec: RepoSpec, workdir: Path) -> tuple[dict[str, bytes], list[str]]:
    """Build ``spec`` under ``workdir``: the bare repository's files (path relative to the
    repository → bytes) and the commit ids, oldest first."""
    work, bare = workdir / spec.name / "work", workdir / spec.name / "bare.git"
    work.mkdir(parents=True)
    _git(work, "init", "-q", "-b", spec.branch)
    commits = []
    for number, commit in enumerate(spec.commits):
        for path, content in commit.files.items():
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_content(content, path), encoding="utf-8")
        for path in commit.delete:
            _git(work, "rm", "-q", "-r", "--ignore-unmatch", "--", path)
        _git(work, "add", "-A")
        date = f"@{_FIRST_COMMIT_EPOCH_S + 3600 * number} +0000"
        _git(work, "commit", "-q", "--allow-empty", "-m", commit.message,
             env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
        commits.append(_git(work, "rev-parse", "HEAD").strip())
    _git(workdir, "clone", "-q", "--bare", "--no-local", str(work), str(bare))
    _git(bare, "update-server-info")
    files = {str(p.relative_to(bare)): p.read_bytes() for p in sorted(bare.rglob("*")) if p.is_file()}
    return files, commits


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **_GIT_ENV, **(env or {})},
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def serve_repos(scenario, workdir: Path) -> tuple[dict, dict[str, list[str]]]:
    """The scenario's hosts with each repository's files as https routes in front of the
    host's own routes, and each repository's commit ids (oldest first) by name."""
    from checks.sandbox.scenario import Route

    hosts = dict(scenario.hosts)
    commits: dict[str, list[str]] = {}
    for spec in getattr(scenario, "repos", {}).values():
        files, commits[spec.name] = build_repo(spec, workdir / "repos")
        routes = [Route(path=f"{spec.path}/{rel}", body=body,
                        headers=[("Content-Type", "text/plain" if rel.startswith("info/") or rel == "HEAD"
                                  else "application/octet-stream")])
                  for rel, body in files.items()]
        host = hosts[spec.host]
        hosts[spec.host] = dataclasses.replace(host, https=routes + list(host.https or []))
    return hosts, commits
