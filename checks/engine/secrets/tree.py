"""The working tree: which files of a directory are scanned.

Symbolic links are never followed (neither to files nor to directories), ``.git`` is not
walked (history is scanned from git objects, see ``history.py``), installed dependencies and
tool caches (``VENDORED_DIRS``: ``node_modules``, a ``.venv`` …) are not walked — they are
other people's code, hundreds of megabytes of it in a developer's checkout — files over the size cap
and binary files (a NUL byte in the first 8 KiB, git's own test) are skipped, and a path whose
real location is outside the root is refused — so nothing outside the tree given is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BINARY_SNIFF_BYTES = 8192
VENDORED_DIRS = frozenset({
    "node_modules", "bower_components", ".venv", "venv", "__pycache__", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache",
})


@dataclass
class Skipped:
    """Files left out of a scan, by reason; relative paths, sorted on output."""

    oversized: list[str] = field(default_factory=list)
    binary: list[str] = field(default_factory=list)
    symlink: list[str] = field(default_factory=list)


def is_binary(head: bytes) -> bool:
    """Git's heuristic: a NUL byte in the first ``BINARY_SNIFF_BYTES`` bytes."""
    return b"\0" in head[:BINARY_SNIFF_BYTES]


def _inside(root_real: str, path: str) -> bool:
    real = os.path.realpath(path)
    return os.path.commonpath([root_real, real]) == root_real


def text_files(root: Path, max_file_bytes: int, skipped: Skipped) -> Iterator[tuple[str, str]]:
    """``(os_path, relative_path)`` of each regular text file under ``root`` of at most
    ``max_file_bytes`` bytes, in sorted order; the others are recorded in ``skipped``."""
    root_real = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root_real, followlinks=False):
        # Prune .git and symlinked directories (os.walk lists them but, with followlinks=False,
        # does not descend; recording them here reports them as skipped).
        kept = []
        for name in sorted(dirnames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                skipped.symlink.append(os.path.relpath(full, root_real))
            elif name != ".git" and name not in VENDORED_DIRS:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root_real)
            if os.path.islink(full):
                skipped.symlink.append(rel)
                continue
            if not _inside(root_real, full) or not os.path.isfile(full):
                continue  # sockets, fifos, devices: not files to read
            if os.path.getsize(full) > max_file_bytes:
                skipped.oversized.append(rel)
                continue
            with open(full, "rb") as fh:
                if is_binary(fh.read(BINARY_SNIFF_BYTES)):
                    skipped.binary.append(rel)
                    continue
            yield full, rel
