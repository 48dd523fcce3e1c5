"""An uploaded repository archive (zip or tar.gz), checked and extracted into a folder.

Hostile input is the normal case here: the bytes come from an upload. ``check_archive`` reads
only the member list and refuses, with a sentence naming the member:

- an archive over ``max_archive_bytes``, or one that is neither zip nor gzip'd tar;
- absolute paths, ``..`` components, NUL or backslash in a name (a Windows path), so nothing is
  written outside the extraction folder (the "zip slip" of CVE-2018-1002200 and friends);
- symbolic links, hard links, devices, FIFOs: only regular files and folders are extracted;
- two members of one name, or a file that another member needs as a folder (``a`` then
  ``a/b``): extraction could not write both;
- a tar header record (pax ``x``/``g``, GNU long name ``L``/``K``) over ``MAX_TAR_HEADER_BYTES``:
  tarfile reads such a record whole into memory, so a 1.5 MB upload declaring one of 1.5 GB
  would ask for 1.5 GB (POSIX.1-2017 pax "pax Header Block"; GNU tar manual "Standard");
- more than ``max_files`` members, a member over ``max_file_bytes`` uncompressed, more than
  ``max_total_bytes`` in all, or a declared size more than ``max_ratio`` times the archive's
  (a zip bomb: 42.zip expands ~10^6 times; source code ~5-10 times).

``extract_archive`` then writes the members, counting the bytes really written (a zip's
declared sizes can lie): over a cap it stops with the same refusal. Tar members go through
tarfile's ``data`` extraction filter (PEP 706) as a second line of defence. A failure to
write (a disk error) or to allocate is an ``IntakeError`` too, never a crash.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass

CHUNK_BYTES = 64 * 1024
_MB = 1_000_000
# tarfile reads file data in 16 KiB pieces and headers in 512-byte blocks; only a pax or GNU
# long-name record is read in one piece of its declared size. 1 MB holds any real one.
MAX_TAR_HEADER_BYTES = _MB


class IntakeError(Exception):
    """The repository could not be brought in: the message says why, for a person."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps, in bytes and counts, on an uploaded archive and what it expands to."""

    max_archive_bytes: int = 25 * _MB
    max_total_bytes: int = 250 * _MB
    max_file_bytes: int = 50 * _MB
    max_files: int = 20_000
    max_ratio: int = 100


@dataclass(frozen=True)
class ArchiveSummary:
    """What a checked archive holds: ``kind`` (``zip`` / ``tar.gz``), regular ``files``,
    ``total_bytes`` uncompressed, and ``has_git`` (a ``.git`` folder: history is scanned)."""

    kind: str
    files: int
    total_bytes: int
    has_git: bool


@dataclass(frozen=True)
class _Member:
    name: str
    size: int
    is_dir: bool


def archive_kind(data: bytes) -> str:
    """``zip`` or ``tar.gz`` by magic number (PKWARE APPNOTE §4.3.7; RFC 1952 §2.3.1)."""
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if data[:2] == b"\x1f\x8b":
        return "tar.gz"
    raise IntakeError("not a zip or tar.gz archive")


def check_archive(data: bytes, limits: ArchiveLimits = ArchiveLimits()) -> ArchiveSummary:
    """Refuse what the module's rules refuse (``IntakeError``); else say what it holds."""
    if len(data) > limits.max_archive_bytes:
        raise IntakeError(f"the archive is larger than {limits.max_archive_bytes / _MB:g} MB")
    kind = archive_kind(data)
    try:
        members = _zip_members(data, limits) if kind == "zip" else _tar_members(data, limits)
    except MemoryError:
        raise IntakeError("the archive needs too much memory to read") from None
    _check_layout(members)
    files = [m for m in members if not m.is_dir]
    total = sum(m.size for m in files)
    if total > limits.max_ratio * max(len(data), 1) and total > _MB:
        raise IntakeError(f"the archive would expand {total // max(len(data), 1)} times "
                          f"(more than {limits.max_ratio}): refused as a zip bomb")
    has_git = any(".git" in m.name.strip("/").split("/") for m in members)
    return ArchiveSummary(kind, len(files), total, has_git)


def extract_archive(data: bytes, dest: str, limits: ArchiveLimits = ArchiveLimits()) -> ArchiveSummary:
    """Check, then extract into the existing empty folder ``dest``. Raises ``IntakeError``."""
    summary = check_archive(data, limits)
    try:
        _extract(data, summary.kind, dest, limits)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError) as exc:
        # A zip's CRC or size not matching its data, a truncated stream: found only on reading.
        raise IntakeError(f"the archive is damaged: {exc}") from None
    except MemoryError:
        raise IntakeError("the archive needs too much memory to extract") from None
    except OSError as exc:
        # A full disk, or a layout check_archive let through: the reason, not our folder's path.
        raise IntakeError(f"the archive could not be extracted: {exc.strerror or exc}") from None
    return summary


def _check_layout(members: list[_Member]) -> None:
    """Refuse two members of one path, and a file where another member needs a folder."""
    files: set[str] = set()
    folders: set[str] = set()
    for m in members:
        parts = [p for p in m.name.split("/") if p not in ("", ".")]
        path = "/".join(parts)
        if not path:
            continue
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if m.is_dir:
            folders.add(path)
        elif path in files:
            raise IntakeError(f"{m.name!r}: the archive holds two files of this name")
        else:
            files.add(path)
    clash = sorted(files & folders)
    if clash:
        raise IntakeError(f"{clash[0]!r}: the archive holds both a file and a folder of this name")


def _extract(data: bytes, kind: str, dest: str, limits: ArchiveLimits) -> None:
    budget = _Budget(limits)
    if kind == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                target = _target(dest, info.filename)
                if info.is_dir():
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with zf.open(info) as src, open(target, "xb") as out:
                    _copy(src, out, info.filename, budget)
    else:
        with _open_tar(data) as tar:
            for member in tar:
                _check_tar_member(member, limits)
                if member.isfile():
                    budget.add(member.name, member.size)
                tar.extract(member, dest, filter="data")


class _Budget:
    """Bytes really written, per file and in all."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.total = 0

    def add(self, name: str, file_bytes: int, delta: int | None = None) -> None:
        if file_bytes > self.limits.max_file_bytes:
            raise _too_big(name, self.limits)
        self.total += file_bytes if delta is None else delta
        if self.total > self.limits.max_total_bytes:
            raise _too_much(self.limits)


def _too_big(name: str, limits: ArchiveLimits) -> IntakeError:
    return IntakeError(f"{name!r} is larger than {limits.max_file_bytes / _MB:g} MB uncompressed")


def _too_much(limits: ArchiveLimits) -> IntakeError:
    return IntakeError(f"the archive holds more than {limits.max_total_bytes / _MB:g} MB uncompressed")


def _copy(src, out, name: str, budget: _Budget) -> None:
    written = 0
    while chunk := src.read(CHUNK_BYTES):
        written += len(chunk)
        budget.add(name, written, len(chunk))
        out.write(chunk)


def _check_name(name: str) -> None:
    if "\0" in name or "\\" in name:
        raise IntakeError(f"{name!r}: a NUL or backslash in a file name is not allowed")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise IntakeError(f"{name!r}: absolute paths are not allowed")
    if ".." in name.split("/"):
        raise IntakeError(f"{name!r}: '..' would leave the extraction folder")


def _target(dest: str, name: str) -> str:
    _check_name(name)
    root = os.path.realpath(dest)
    target = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, target]) != root or target == root:
        raise IntakeError(f"{name!r}: would leave the extraction folder")
    return target


def _zip_members(data: bytes, limits: ArchiveLimits) -> list[_Member]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise IntakeError(f"the archive is damaged: {exc}") from None
    if len(infos) > limits.max_files:
        raise IntakeError(f"the archive holds more than {limits.max_files} files")
    members = []
    for info in infos:
        _check_name(info.filename)
        # Unix zips keep st_mode in the high 16 bits; many writers leave the type bits 0.
        kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
        if kind == stat.S_IFLNK:
            raise IntakeError(f"{info.filename!r}: symbolic links are not allowed")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise IntakeError(f"{info.filename!r}: devices, FIFOs and other special files are not allowed")
        if info.file_size > limits.max_file_bytes:
            raise _too_big(info.filename, limits)
        members.append(_Member(info.filename, info.file_size, info.is_dir()))
    if sum(m.size for m in members) > limits.max_total_bytes:
        raise _too_much(limits)
    return members


class _BoundedReads:
    """A gzip stream for tarfile that refuses any single read over ``MAX_TAR_HEADER_BYTES``:
    the only such read is a pax or GNU long-name record, which tarfile takes whole."""

    def __init__(self, raw: gzip.GzipFile) -> None:
        self.raw = raw

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > MAX_TAR_HEADER_BYTES:
            raise IntakeError(f"a tar header record is larger than {MAX_TAR_HEADER_BYTES / _MB:g} MB "
                              "(a pax or GNU long-name header): refused")
        return self.raw.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


def _open_tar(data: bytes) -> tarfile.TarFile:
    try:
        stream = _BoundedReads(gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb"))
        return tarfile.open(fileobj=stream, mode="r:")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise IntakeError(f"the archive is damaged: {exc}") from None


def _check_tar_member(member: tarfile.TarInfo, limits: ArchiveLimits) -> None:
    _check_name(member.name)
    if member.issym():
        raise IntakeError(f"{member.name!r}: symbolic links are not allowed")
    if member.islnk():
        raise IntakeError(f"{member.name!r}: hard links are not allowed")
    if not (member.isfile() or member.isdir()):
        raise IntakeError(f"{member.name!r}: devices, FIFOs and other special files are not allowed")
    if member.size > limits.max_file_bytes:
        raise _too_big(member.name, limits)


def _tar_members(data: bytes, limits: ArchiveLimits) -> list[_Member]:
    """Walks the headers (the gzip stream is read through, so the caps also stop a bomb
    before it is fully inflated)."""
    members: list[_Member] = []
    total = 0
    try:
        with _open_tar(data) as tar:
            for member in tar:
                _check_tar_member(member, limits)
                members.append(_Member(member.name, member.size, member.isdir()))
                total += member.size
                if len(members) > limits.max_files:
                    raise IntakeError(f"the archive holds more than {limits.max_files} files")
                if total > limits.max_total_bytes:
                    raise _too_much(limits)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise IntakeError(f"the archive is damaged: {exc}") from None
    return members


def scan_root(dest: str) -> str:
    """The folder to scan: ``dest``, or its only entry when that is a folder (GitHub's
    ``repo-main/`` layout), so a ``.git`` one level down is found."""
    entries = os.listdir(dest)
    if len(entries) == 1 and os.path.isdir(os.path.join(dest, entries[0])) and entries[0] != ".git":
        return os.path.join(dest, entries[0])
    return dest


# Files in a git folder that make git read config, objects or refs from elsewhere, or run
# something (gitrepository-layout(5)): removed from an upload, whatever their type.
_GIT_REDIRECTS = ("config", "config.worktree", "commondir", "gitdir", "worktrees", "modules", "hooks",
                  "objects/info/alternates", "objects/info/http-alternates")


def defuse_git(root: str) -> None:
    """Make an uploaded ``.git`` safe to read. Its ``config`` is replaced by a minimal one (a
    crafted ``core.worktree``, ``include.path``, filter, ``extensions.partialClone`` or
    promisor remote must not steer our git); ``commondir`` (git would read config, objects and
    refs from the folder it names), ``config.worktree``, ``worktrees/``, ``modules/``,
    ``hooks`` and ``objects/info/alternates`` (object stores outside the folder) are removed;
    a ``.git`` that is a file (``gitdir: …``) is deleted, and so is any ``.git`` deeper in the
    tree (a nested repository is not the client's history). A SHA-256 repository loses its
    ``extensions.objectFormat`` here, so its history is reported as not scanned (error), never
    misread. Raises ``IntakeError`` when the ``.git`` is damaged (its ``config`` a folder) or
    cannot be changed."""
    try:
        _remove_nested_git(root)
        git_dir = os.path.join(root, ".git")
        if os.path.lexists(git_dir) and (os.path.islink(git_dir) or not os.path.isdir(git_dir)):
            # A ".git" file ("gitdir: /elsewhere", a worktree's) would point git at a repository
            # outside the upload, on our own disk: not the client's history, never read.
            os.unlink(git_dir)
            return
        if not os.path.isdir(git_dir):
            return
        if os.path.isdir(os.path.join(git_dir, "config")):
            raise IntakeError("the uploaded .git folder is damaged: its config is a folder")
        for name in _GIT_REDIRECTS:
            _remove(os.path.join(git_dir, name))
        with open(os.path.join(git_dir, "config"), "x", encoding="ascii") as fh:
            fh.write("[core]\n\trepositoryformatversion = 0\n\tbare = false\n")
    except OSError as exc:
        raise IntakeError(f"the uploaded .git folder could not be made safe: {exc.strerror or exc}") from None


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _remove_nested_git(root: str) -> None:
    """Delete every ``.git`` (file or folder) below ``root``'s own."""
    for dirpath, dirs, files in os.walk(root):
        if dirpath == root:
            dirs[:] = [d for d in dirs if d != ".git"]
            continue
        for name in [*dirs, *files]:
            if name == ".git":
                _remove(os.path.join(dirpath, name))
        dirs[:] = [d for d in dirs if d != ".git"]
