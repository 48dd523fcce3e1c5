"""Git history: the lines every commit added, on every ref (``git rev-list --all``).

How: ``git rev-list --all --parents`` lists the commits; for each one, a single
``git diff-tree`` against its first parent (or ``--root`` for a root commit) gives both the
changed files (raw, NUL-separated, so any file name is safe) and a zero-context patch whose
``@@ … +start,count @@`` headers are exactly the added lines. The file's blob at that commit
is then written, under its own name, into a private temporary folder and scanned whole with
detect-secrets (so plugins see the real context and filename heuristics see the real name);
only secrets on added lines are kept. A key committed and later deleted is therefore reported
once, at the commit that added it.

Every git call has a timeout, uses no user or system configuration, and disables external
diff drivers, textconv filters, hooks and fsmonitor: the repository may be a client's, and its
``.git/config`` must not make us run anything.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from .tree import is_binary

_HUNK = re.compile(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", re.M)
_NULL_OID = "0" * 40
_REGULAR_MODES = {"100644", "100755"}

_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
}
_GIT_SAFE = ["-c", "core.fsmonitor=false", "-c", "core.hooksPath=" + os.devnull]


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
    """True when ``root`` is the top of a git work tree (or a bare repository)."""
    try:
        out = git(root, ["rev-parse", "--show-toplevel"], timeout_s)
    except HistoryError:
        return False
    return os.path.realpath(out.decode().strip()) == os.path.realpath(root)


def git(root: str, args: list[str], timeout_s: float, stdin: bytes | None = None) -> bytes:
    """Run ``git -C root args`` and return stdout; raise ``HistoryError`` on failure/timeout."""
    env = {**os.environ, **_GIT_ENV}
    try:
        done = subprocess.run(["git", "-C", root, *_GIT_SAFE, *args], input=stdin, env=env,
                              capture_output=True, timeout=timeout_s, check=False)
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


def materialise(root: str, added: AddedFile, workdir: str, timeout_s: float,
                max_file_bytes: int) -> str | None:
    """Write the blob to ``workdir/<commit>/<path>`` and return that path; ``None`` when the
    blob is over ``max_file_bytes``, binary, or its path would leave ``workdir``."""
    if blob_size(root, added.blob, timeout_s) > max_file_bytes:
        return None
    content = git(root, ["cat-file", "blob", added.blob], timeout_s)
    if is_binary(content):
        return None
    base = os.path.realpath(os.path.join(workdir, added.commit))
    target = os.path.realpath(os.path.join(base, added.path))
    if os.path.commonpath([base, target]) != base or target == base:
        return None  # git forbids ".." in trees; a crafted object must still not escape
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as fh:
        fh.write(content)
    return target


def history_files(root: str, timeout_s: float, max_commits: int,
                  max_file_bytes: int) -> Iterator[tuple[AddedFile, str]]:
    """``(added_file, os_path_of_its_blob_copy)`` for every file every commit added or changed.
    Each copy is deleted once the caller moves on to the next one."""
    with tempfile.TemporaryDirectory(prefix="lr-secret-history-") as workdir:
        for commit, parent in commits(root, timeout_s, max_commits):
            for added in changed_files(root, commit, parent, timeout_s):
                path = materialise(root, added, workdir, timeout_s, max_file_bytes)
                if path is None:
                    continue
                try:
                    yield added, path
                finally:
                    os.unlink(path)
