"""Attacks on the repository intake of issue 5 (uploaded zip / tar.gz, git URLs): path
escapes, links, devices, bombs, a hostile ``.git``. The problems found are fixed; each has its test."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from checks.engine.registry import Context, all_checks
from checks.engine.secrets import scan_path
from checks.engine.secrets.archive import ArchiveLimits, IntakeError, check_archive, extract_archive
from checks.engine.secrets.clone import validate_repository_url
from checks.engine.spec import HardeningFacts, ProjectSpec, RepositorySource

GIT_ID = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid"]
STRIPE_KEY = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _info(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, **extra) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    for k, v in extra.items():
        setattr(info, k, v)
    return info


def _run_check(archive: bytes, name: str = "repo.zip"):
    check = {c.id: c for c in all_checks()}["hardening.secrets_repo"]
    source = RepositorySource(archive_name=name, load_archive=lambda: archive)
    spec = ProjectSpec(name="t", apex="attack.test", hardening=HardeningFacts(repository=source))
    return check.run("attack.test", Context(None, spec))


# --- refused as they should be ----------------------------------------------------------------


def _symlink_zip() -> bytes:
    info = zipfile.ZipInfo("link")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip([(info, b"/etc/passwd")])


@pytest.mark.parametrize("archive, message", [
    (_zip([("../evil.txt", b"x")]), "'../evil.txt': '..' would leave the extraction folder"),
    (_zip([("a/../../evil.txt", b"x")]), "'a/../../evil.txt': '..' would leave the extraction folder"),
    (_zip([("/etc/evil", b"x")]), "'/etc/evil': absolute paths are not allowed"),
    (_zip([("C:/evil", b"x")]), "'C:/evil': absolute paths are not allowed"),
    (_zip([("a\\..\\evil", b"x")]), "'a\\\\..\\\\evil': a NUL or backslash in a file name is not allowed"),
    (_symlink_zip(), "'link': symbolic links are not allowed"),
    (_tar([(_info("link", tarfile.SYMTYPE, linkname="/etc/passwd"), None)]),
     "'link': symbolic links are not allowed"),
    (_tar([(_info("hard", tarfile.LNKTYPE, linkname="/etc/passwd"), None)]),
     "'hard': hard links are not allowed"),
    (_tar([(_info("dev", tarfile.CHRTYPE, devmajor=1, devminor=3), None)]),
     "'dev': devices, FIFOs and other special files are not allowed"),
    (_tar([(_info("fifo", tarfile.FIFOTYPE), None)]),
     "'fifo': devices, FIFOs and other special files are not allowed"),
    (_tar([(_info("../x", size=1), b"x")]), "'../x': '..' would leave the extraction folder"),
    (b"Rar!\x1a\x07\x00", "not a zip or tar.gz archive"),
])
def test_path_escapes_links_and_devices_are_refused(archive, message, tmp_path):
    with pytest.raises(IntakeError) as refused:
        extract_archive(archive, str(tmp_path))
    assert str(refused.value) == message
    assert os.listdir(tmp_path) == []


def test_a_zip_bomb_is_refused_before_it_is_inflated():
    bomb = _zip([("zeros.txt", b"\0" * 40_000_000)])  # ~40 kB compressed, 1000x
    with pytest.raises(IntakeError) as refused:
        check_archive(bomb)
    assert "refused as a zip bomb" in str(refused.value)


def test_too_many_files_are_refused():
    archive = _zip([(f"f{n}", b"") for n in range(51)])
    with pytest.raises(IntakeError, match="more than 50 files"):
        check_archive(archive, ArchiveLimits(max_files=50))


def test_a_zip_whose_header_lies_about_its_size_stops_at_the_cap(tmp_path):
    archive = bytearray(_zip([("big.txt", b"a" * 2_000_000)]))
    # Shrink the declared size in the central directory: the check passes, the bytes do not.
    limits = ArchiveLimits(max_file_bytes=1_000_000, max_ratio=10_000)
    with zipfile.ZipFile(io.BytesIO(bytes(archive))) as zf:
        assert zf.infolist()[0].file_size == 2_000_000
    with pytest.raises(IntakeError):
        extract_archive(bytes(archive), str(tmp_path), limits)


def test_a_filename_with_a_newline_is_extracted_inside_the_folder(tmp_path):
    summary = extract_archive(_zip([("a\nb.txt", b"x")]), str(tmp_path))
    assert summary.files == 1
    assert os.listdir(tmp_path) == ["a\nb.txt"]


def test_a_gitdir_file_pointing_at_our_own_repository_is_not_followed():
    repo_root = Path(__file__).resolve().parents[2]
    archive = _zip([(".git", f"gitdir: {repo_root}/.git\n".encode()), ("README.md", b"hi\n")])
    result = _run_check(archive)
    assert (result.status, result.summary) == (
        "pass", "no secrets found; working tree scanned; no git history in the zip")


@pytest.mark.parametrize("url, words", [
    ("https://user:pw@git.example.com/a.git", "must not contain a user name or password"),
    ("https://tok@git.example.com/a.git", "must not contain a user name or password"),
    ("ssh://git@git.example.com/a.git", "must start with https://"),
    ("git@git.example.com:a.git", "must start with https://"),
    ("file:///etc/passwd", "must start with https://"),
    ("http://git.example.com/a.git", "must start with https://"),
    ("ext::sh -c touch% /tmp/x", "spaces or control characters"),
    ("https://git.example.com/a.git?x=1", "query or fragment"),
    ("https://git.example.com:99999/a.git", "not valid"),
    ("https://git.example.com/a\n.git", "spaces or control characters"),
])
def test_git_urls_outside_the_rules_are_refused(url, words):
    with pytest.raises(IntakeError) as refused:
        validate_repository_url(url)
    assert words in str(refused.value)


# --- problems found and fixed -----------------------------------------------------------------


def _hostile_commondir_archive(tmp_path: Path, marker: Path) -> bytes:
    """A zip whose ``.git`` holds only ``HEAD`` and a ``commondir`` file naming a second git
    folder in the upload; that folder's ``config`` (never rewritten by ``defuse_git``) makes the
    repository a partial clone whose promisor remote's ``uploadpack`` is a shell command, and
    one blob is missing so git lazily "fetches" it."""
    src = tmp_path / "src"
    subprocess.run(["git", "init", "-q", "-b", "main", str(src)], check=True)
    (src / "a.txt").write_text("hello\n")
    subprocess.run(["git", "-C", str(src), "add", "a.txt"], check=True)
    subprocess.run(["git", "-C", str(src), *GIT_ID, "commit", "-qm", "one"], check=True)
    blob = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD:a.txt"], check=True,
                          capture_output=True, text=True).stdout.strip()
    common = tmp_path / "up" / "gitcommon"
    shutil.copytree(src / ".git", common)
    (common / "objects" / blob[:2] / blob[2:]).unlink()
    (common / "config").write_text(
        "[core]\n\trepositoryformatversion = 1\n\tbare = false\n"
        "[extensions]\n\tpartialClone = origin\n"
        f'[remote "origin"]\n\turl = file://{tmp_path}/nowhere\n\tpromisor = true\n'
        f'\tuploadpack = "touch {marker};"\n')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(".git/HEAD", "ref: refs/heads/main\n")
        zf.writestr(".git/commondir", "../gitcommon\n")
        for path in sorted(common.rglob("*")):
            if path.is_file():
                zf.write(path, str(path.relative_to(tmp_path / "up")))
    return buf.getvalue()


def test_an_uploaded_git_commondir_cannot_run_a_command(tmp_path):
    marker = tmp_path / "PWNED"
    archive = _hostile_commondir_archive(tmp_path, marker)

    _run_check(archive)

    assert not marker.exists(), "the upload ran a shell command on the audit worker"


def test_history_reads_never_fetch_even_from_a_hostile_git_config(tmp_path):
    # Second line of defence, without defuse_git: the hostile config as the repository's own.
    marker = tmp_path / "PWNED"
    _hostile_commondir_archive(tmp_path, marker)
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(tmp_path / "up" / "gitcommon", root / ".git")

    report = scan_path(root)

    assert not marker.exists(), "a history read ran the promisor remote's uploadpack"
    assert (report.history_scanned, report.history_error) == (False, "git diff-tree exited 128")


_PAX_BOMB_CHILD = r"""
import io, resource, sys, tarfile, zlib
sys.path.insert(0, sys.argv[1])
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "launchready.settings")
from checks.engine.secrets.archive import IntakeError, check_archive
# A pax extended header declaring 1.5 GB: tarfile reads a pax header whole into memory.
size = 1_500_000_000
header = tarfile.TarInfo("././@PaxHeader")
header.type, header.size = tarfile.XHDTYPE, size
block = header.tobuf(format=tarfile.USTAR_FORMAT)
comp = zlib.compressobj(9, zlib.DEFLATED, 31)
parts = [comp.compress(block)]
zero = b"\0" * (1 << 20)
for _ in range(size // len(zero) + 1):
    parts.append(comp.compress(zero))
parts.append(comp.flush())
data = b"".join(parts)
print("archive bytes", len(data), file=sys.stderr)
resource.setrlimit(resource.RLIMIT_AS, (1_200_000_000, 1_200_000_000))
try:
    check_archive(data)
except IntakeError as exc:
    print("REFUSED", exc)
except MemoryError:
    print("MEMORYERROR")
"""


def test_a_pax_header_bomb_is_refused_without_reading_it_into_memory():
    repo_root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-c", _PAX_BOMB_CHILD, repo_root], capture_output=True, text=True,
                          timeout=120, cwd=repo_root)
    assert done.stdout.startswith("REFUSED"), (done.stdout, done.stderr[-500:])


def test_a_zip_with_a_duplicate_member_is_a_clear_intake_error(tmp_path):
    with pytest.warns(UserWarning, match="Duplicate name"):
        archive = _zip([("a.txt", b"one"), ("a.txt", b"two")])
    with pytest.raises(IntakeError) as refused:
        check_archive(archive)  # refused on upload
    assert str(refused.value) == "'a.txt': the archive holds two files of this name"
    with pytest.raises(IntakeError):
        extract_archive(archive, str(tmp_path))


def test_a_zip_with_a_file_and_a_folder_of_one_name_is_a_clear_intake_error(tmp_path):
    archive = _zip([("a", b"one"), ("a/b", b"two")])
    with pytest.raises(IntakeError) as refused:
        check_archive(archive)  # refused on upload
    assert str(refused.value) == "'a': the archive holds both a file and a folder of this name"
    with pytest.raises(IntakeError):
        extract_archive(archive, str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_a_git_config_folder_gives_a_clear_error():
    archive = _zip([(".git/config/x", b"x"), (".git/HEAD", b"ref: refs/heads/main\n"), ("a.txt", b"hi")])
    result = _run_check(archive)
    assert (result.status, result.summary) == (
        "error",
        "the repository could not be read: the uploaded .git folder is damaged: its config is a folder")
