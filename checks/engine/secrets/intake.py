"""Repository intake: a project's ``RepositorySource`` → a temporary folder to scan.

An uploaded archive wins over a URL when both are given (the agency uploaded it on purpose,
often because the URL needs credentials the panel does not hold). The folder is always
removed when the block ends, whatever happened inside.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from checks.engine.net.session import Net
from checks.engine.spec import RepositorySource

from .archive import ArchiveLimits, IntakeError, defuse_git, extract_archive, scan_root
from .clone import CloneLimits, clone_repository


@dataclass(frozen=True)
class IntakeLimits:
    """Caps for both ways in."""

    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    clone: CloneLimits = field(default_factory=CloneLimits)


@dataclass(frozen=True)
class Intake:
    """Where the repository was put: ``root`` to scan, ``kind`` (``git`` / ``zip`` /
    ``tar.gz``), and ``source`` for people (the URL, or the archive's file name)."""

    root: str
    kind: str
    source: str


@contextmanager
def repository_folder(source: RepositorySource, net: Net,
                      limits: IntakeLimits = IntakeLimits()) -> Iterator[Intake]:
    """Clone or extract ``source`` into a temporary folder, yield an ``Intake``, then remove
    the folder. Raises ``IntakeError`` (the reason) when neither works or neither is given."""
    with tempfile.TemporaryDirectory(prefix="lr-repo-") as workdir:
        if source.load_archive is not None:
            data = source.load_archive()
            dest = os.path.join(workdir, "archive")
            os.mkdir(dest)
            summary = extract_archive(data, dest, limits.archive)
            root = scan_root(dest)
            defuse_git(root)
            yield Intake(root, summary.kind, source.archive_name or "archive")
        elif source.url:
            dest = os.path.join(workdir, "clone")
            clone_repository(source.url, net, dest, limits.clone)
            yield Intake(dest, "git", source.url)
        else:
            raise IntakeError("no repository given: set a repository URL or upload an archive")
