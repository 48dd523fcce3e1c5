"""Git history: the lines every commit added, on every ref (``git rev-list --all``).

How: ``git rev-list --all --parents`` lists the commits; for each one, a single
``git diff-tree`` against its first parent (or ``--root`` for a root commit) gives both the
changed files (raw, NUL-separated, so any file name is safe) and a zero-context patch whose
``@@ … +start,count @@`` headers are exactly the added lines. The file's blob at that commit
is then read and scanned whole (so rules see the real context, e.g. an AWS key ID and its
secret, and filename heuristics see the real name); only secrets on added lines are kept.
A key committed and later deleted is therefore reported once, at the commit that added it.

Every git call has a timeout, uses no user or system configuration, and disables external
diff drivers, textconv filters, hooks and fsmonitor: the repository may be a client's, and its
``.git/config`` must not make us run anything. The git folder is named explicitly
(``GIT_DIR`` = ``GIT_COMMON_DIR`` = ``<root>/.git``), so a ``commondir`` file cannot send git
to a second, unchecked config (git's gitrepository-layout documentation), and no transport
may run: ``protocol.allow=never`` and ``GIT_NO_LAZY_FETCH=1`` (git 2.45+) stop a partial
clone's promisor remote from "fetching" a missing object with an uploaded command. Only a
``.git`` folder is read: a ``.git`` file (``gitdir: …``, a linked worktree or submodule) is not
followed.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from .tree import is_binary

_HUNK = re.compile(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", re.M)
_NULL_OID = "0" * 40
_REGULAR_MODES = {"100644", "100755"}

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
}
GIT_SAFE = ["-c", "core.fsmonitor=false", "-c", "core.hooksPath=" + os.devnull]
# History reads need no transport at all: a lazy fetch or submodule fetch must fail.
GIT_NO_TRANSPORT = ["-c", "protocol.allow=never"]


def clean_environ() -> dict[str, str]:
    """The process environment without any ``GIT_*`` variable (``GIT_DIR``, ``GIT_CONFIG_*``,
    ``GIT_ALTERNATE_OBJECT_DIRECTORIES`` … would steer git), plus ``GIT_ENV``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("GIT_")}
    return {**env, **GIT_ENV, "GIT_NO_LAZY_FETCH": "1"}


class HistoryError(Exception):
    """git failed or timed out; the message says which command (no file contents)."""


@dataclass(frozen=True)
class AddedFile:
    """A file a commit added or changed: its path, blob id and 1-based added line numbers."""

    commit: str
    path: str
    blob: str
    added_lines: frozenset[int]


def is_git_repository(root: str, timeout_s: float) -> bool:
    """True when ``root/.git`` is a folder (not a link or a ``gitdir:`` file) git reads as a
    repository."""
    git_dir = os.path.join(root, ".git")
    if os.path.islink(git_dir) or not os.path.isdir(git_dir):
        return False
    try:
        git(root, ["rev-parse", "--git-dir"], timeout_s)
    except HistoryError:
        return False
    return True


def git(root: str, args: list[str], timeout_s: float, stdin: bytes | None = None) -> bytes:
    """Run ``git args`` on the repository ``root/.git`` (``GIT_DIR`` and ``GIT_COMMON_DIR``
    set to it, no transport) and return stdout; raise ``HistoryError`` on failure/timeout."""
    git_dir = os.path.join(root, ".git")
    env = {**clean_environ(), "GIT_DIR": git_dir, "GIT_COMMON_DIR": git_dir}
    try:
        done = subprocess.run(["git", *GIT_SAFE, *GIT_NO_TRANSPORT, *args], input=stdin, env=env,
                              cwd=root, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise HistoryError(f"git {args[0]} timed out after {timeout_s:g} s") from None
    except OSError as exc:
        raise HistoryError(f"git could not run: {exc.strerror}") from None
    if done.returncode != 0:
        raise HistoryError(f"git {args[0]} exited {done.returncode}")
    return done.stdout


def commits(root: str, timeout_s: float, max_commits: int) -> list[tuple[str, str]]:
    """``(commit, first_parent or "")`` for every commit reachable from any ref, newest first;
    at most ``max_commits``."""
    out = git(root, ["rev-list", "--all", "--parents", f"--max-count={max_commits}"], timeout_s)
    pairs = []
    for line in out.decode().splitlines():
        ids = line.split()
        pairs.append((ids[0], ids[1] if len(ids) > 1 else ""))
    return pairs


def added_lines(patch_section: str) -> frozenset[int]:
    """Target line numbers of a zero-context patch section's hunks (``+start,count``)."""
    lines: set[int] = set()
    for match in _HUNK.finditer(patch_section):
        start, count = int(match[1]), int(match[2] if match[2] is not None else 1)
        lines.update(range(start, start + count))
    return frozenset(lines)


def changed_files(root: str, commit: str, parent: str, timeout_s: float) -> Iterator[AddedFile]:
    """The regular files ``commit`` added or modified relative to ``parent`` (first parent;
    ``""`` for a root commit), with their added lines. Deletions, submodules and symlinks are
    left out."""
    base = [parent, commit] if parent else ["--root", commit]
    out = git(root, ["diff-tree", "-r", "--no-commit-id", "--raw", "-p", "-z", "-U0", "--full-index",
                     "--no-renames", "--no-ext-diff", "--no-textconv", "--no-color", *base], timeout_s)
    raw, _, patch = out.partition(b"\0\0")
    fields = raw.split(b"\0")
    entries = [(fields[i], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]
    # Patch sections come in the same order as the raw entries; body lines always start with
    # "+", "-", " " or "\", so "diff --git " at a line start opens a section.
    sections = re.split(r"^diff --git ", patch.decode("utf-8", "replace"), flags=re.M)[1:]
    if len(sections) != len(entries):
        raise HistoryError(f"git diff-tree of {commit[:12]} did not parse")
    for (meta, path), section in zip(entries, sections, strict=True):
        _, new_mode, _, new_blob, status = meta.decode().lstrip(":").split(" ")
        if status == "D" or new_mode not in _REGULAR_MODES or new_blob == _NULL_OID:
            continue
        lines = added_lines(section)
        if lines:
            yield AddedFile(commit, path.decode("utf-8", "surrogateescape"), new_blob, lines)


def blob_size(root: str, blob: str, timeout_s: float) -> int:
    """Size in bytes of a blob (``git cat-file -s``)."""
    return int(git(root, ["cat-file", "-s", blob], timeout_s))


def blob_text(root: str, added: AddedFile, timeout_s: float, max_file_bytes: int) -> str | None:
    """The blob's text; ``None`` when it is over ``max_file_bytes``, binary or not UTF-8
    (detect-secrets skips such files too)."""
    if blob_size(root, added.blob, timeout_s) > max_file_bytes:
        return None
    content = git(root, ["cat-file", "blob", added.blob], timeout_s)
    if is_binary(content):
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def history_files(root: str, timeout_s: float, max_commits: int,
                  max_file_bytes: int) -> Iterator[tuple[AddedFile, str]]:
    """``(added_file, text_of_its_blob)`` for every text file every commit added or changed."""
    for commit, parent in commits(root, timeout_s, max_commits):
        for added in changed_files(root, commit, parent, timeout_s):
            text = blob_text(root, added, timeout_s, max_file_bytes)
            if text is not None:
                yield added, text
