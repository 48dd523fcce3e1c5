"""Repository intake: uploaded archives refused for each hostile shape with a clear reason,
extracted safely otherwise; repository URLs validated (no credentials, https, DNS name)."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import zipfile

import pytest

from checks.engine.secrets.archive import (
    ArchiveLimits,
    IntakeError,
    check_archive,
    defuse_git,
    extract_archive,
)
from checks.engine.secrets.clone import validate_repository_url


def make_zip(*entries: tuple[str, bytes], unix_mode: int | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if unix_mode is not None:
                info.create_system = 3
                info.external_attr = unix_mode << 16
            zf.writestr(info, data)
    return out.getvalue()


def make_tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(("data", "message"), [
    (b"hello", "not a zip or tar.gz archive"),
    (b"PK\x03\x04garbage", "the archive is damaged: File is not a zip file"),
    (make_zip(("/etc/cron.d/x", b"x")), "'/etc/cron.d/x': absolute paths are not allowed"),
    (make_zip(("C:/x", b"x")), "'C:/x': absolute paths are not allowed"),
    (make_zip(("a/../../x", b"x")), "'a/../../x': '..' would leave the extraction folder"),
    (make_zip(("a\\..\\x", b"x")), "'a\\\\..\\\\x': a NUL or backslash in a file name is not allowed"),
    (make_zip(("link", b"/etc/passwd"), unix_mode=stat.S_IFLNK | 0o777),
     "'link': symbolic links are not allowed"),
    (make_zip(("fifo", b""), unix_mode=stat.S_IFIFO | 0o644),
     "'fifo': devices, FIFOs and other special files are not allowed"),
    (make_tar((member("../x"), b"x")), "'../x': '..' would leave the extraction folder"),
    (make_tar((member("/abs"), b"x")), "'/abs': absolute paths are not allowed"),
    (make_tar((member("ln", tarfile.SYMTYPE, "/etc/passwd"), None)), "'ln': symbolic links are not allowed"),
    (make_tar((member("ok", tarfile.REGTYPE), b"x"), (member("hard", tarfile.LNKTYPE, "ok"), None)),
     "'hard': hard links are not allowed"),
    (make_tar((member("dev", tarfile.CHRTYPE), None)),
     "'dev': devices, FIFOs and other special files are not allowed"),
    (make_tar((member("pipe", tarfile.FIFOTYPE), None)),
     "'pipe': devices, FIFOs and other special files are not allowed"),
    (b"\x1f\x8b\x08\x00garbage",
     "the archive is damaged: Compressed file ended before the end-of-stream marker was reached"),
])
def test_hostile_archives_are_refused_with_the_reason(data, message):
    with pytest.raises(IntakeError) as raised:
        check_archive(data)
    assert str(raised.value) == message


def test_caps_on_size_count_and_expansion():
    small = ArchiveLimits(max_archive_bytes=10_000, max_total_bytes=3_000_000, max_file_bytes=2_000_000,
                          max_files=3, max_ratio=100)
    with pytest.raises(IntakeError, match=r"^the archive is larger than 0.01 MB$"):
        check_archive(make_zip(("a", os.urandom(20_000))), small)
    with pytest.raises(IntakeError, match=r"^the archive holds more than 3 files$"):
        check_archive(make_zip(*[(f"f{i}", b"x") for i in range(4)]), small)
    with pytest.raises(IntakeError, match=r"^the archive holds more than 3 files$"):
        check_archive(make_tar(*[(member(f"f{i}"), b"x") for i in range(4)]), small)
    with pytest.raises(IntakeError, match=r"^'big' is larger than 2 MB uncompressed$"):
        check_archive(make_zip(("big", b"\0" * 2_000_001)), small)
    with pytest.raises(IntakeError, match=r"^'big' is larger than 2 MB uncompressed$"):
        check_archive(make_tar((member("big"), b"\0" * 2_000_001)), small)
    with pytest.raises(IntakeError, match=r"^the archive holds more than 3 MB uncompressed$"):
        check_archive(make_tar((member("a"), b"\0" * 1_600_000), (member("b"), b"\0" * 1_600_000)), small)
    # 1.9 MB of zeros deflate to ~2 KB: a bomb's shape, refused before anything is written.
    with pytest.raises(IntakeError, match=r"^the archive would expand \d+ times \(more than 100\): "
                                          r"refused as a zip bomb$"):
        check_archive(make_zip(("zeros", b"\0" * 1_900_000)), small)


def test_a_zip_whose_header_lies_about_its_size_stops_at_the_cap(tmp_path):
    data = bytearray(make_zip(("a.txt", b"A" * 50_000)))
    # Patch the central directory's uncompressed size (offset 24 of its entry) down to 10.
    entry = data.rindex(b"PK\x01\x02")
    data[entry + 24:entry + 28] = (10).to_bytes(4, "little")
    limits = ArchiveLimits(max_total_bytes=20_000, max_ratio=10_000)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(IntakeError) as raised:  # zipfile reads the declared 10 bytes, then the CRC fails
        extract_archive(bytes(data), str(dest), limits)
    assert str(raised.value) == "the archive is damaged: Bad CRC-32 for file 'a.txt'"
    assert sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) <= 20_000


def test_a_good_archive_extracts_inside_the_folder_and_says_what_it_holds(tmp_path):
    data = make_tar((member("app/src/a.js"), b"1"), (member("app/.git/HEAD"), b"ref: refs/heads/main\n"))
    dest = tmp_path / "out"
    dest.mkdir()
    summary = extract_archive(data, str(dest))
    assert (summary.kind, summary.files, summary.total_bytes, summary.has_git) == ("tar.gz", 2, 22, True)
    assert (dest / "app" / "src" / "a.js").read_bytes() == b"1"
    zipped = make_zip(("src/a.js", b"1"))
    assert check_archive(zipped).has_git is False


def test_an_uploaded_git_folder_is_defused(tmp_path):
    git_dir = tmp_path / ".git"
    (git_dir / "objects" / "info").mkdir(parents=True)
    (git_dir / "hooks").mkdir()
    (git_dir / "hooks" / "post-checkout").write_text("#!/bin/sh\nrm -rf /\n")
    (git_dir / "config").write_text("[core]\n\tworktree = /etc\n\tfsmonitor = evil\n")
    (git_dir / "objects" / "info" / "alternates").write_text("/work/main/.git/objects\n")
    defuse_git(str(tmp_path))
    assert (git_dir / "config").read_text() == "[core]\n\trepositoryformatversion = 0\n\tbare = false\n"
    assert not (git_dir / "objects" / "info" / "alternates").exists()
    assert not (git_dir / "hooks").exists()


@pytest.mark.parametrize(("url", "message"), [
    ("", "no repository URL given"),
    ("http://git.example.com/a.git", "the repository URL must start with https:// (git over HTTPS only)"),
    ("git@github.com:acme/app.git", "the repository URL must start with https:// (git over HTTPS only)"),
    ("ssh://git.example.com/a.git", "the repository URL must start with https:// (git over HTTPS only)"),
    ("https://user:token@git.example.com/a.git",
     "the repository URL must not contain a user name or password: give a URL the panel can read "
     "without one, or upload an archive"),
    ("https://token@git.example.com/a.git",
     "the repository URL must not contain a user name or password: give a URL the panel can read "
     "without one, or upload an archive"),
    ("https://10.0.0.1/a.git",
     "the repository URL's host is not a DNS name: '10.0.0.1' is an IP address, not a hostname"),
    ("https://git.example.com/a.git?x=1", "the repository URL must not have a query or fragment"),
    ("https://git.example.com/a b.git",
     "the repository URL is too long or contains spaces or control characters"),
    ("https://git.example.com:99999/a.git", "the repository URL is not valid: Port out of range 0-65535"),
])
def test_repository_urls_are_validated(url, message):
    with pytest.raises(IntakeError) as raised:
        validate_repository_url(url)
    assert str(raised.value) == message


def test_a_good_url_is_returned_stripped():
    assert validate_repository_url("  https://github.com/acme/app.git ") == "https://github.com/acme/app.git"


def test_an_uploaded_git_file_pointing_elsewhere_is_deleted(tmp_path):
    # "gitdir: /work/main/.git" would make git read our own repository's history.
    (tmp_path / ".git").write_text("gitdir: /work/main/.git\n")
    defuse_git(str(tmp_path))
    assert not (tmp_path / ".git").exists()


def test_an_uploaded_git_folder_loses_every_file_that_points_elsewhere(tmp_path):
    # commondir / config.worktree / worktrees / modules would make git read a config, objects
    # or refs the defusing never rewrote; a nested .git is a second, unchecked repository.
    git_dir = tmp_path / ".git"
    (git_dir / "worktrees" / "w").mkdir(parents=True)
    (git_dir / "modules" / "m").mkdir(parents=True)
    (git_dir / "commondir").write_text("../elsewhere\n")
    (git_dir / "config.worktree").write_text("[core]\n\tfsmonitor = evil\n")
    (git_dir / "hooks").write_text("a file, not a folder")
    (tmp_path / "vendor" / "lib" / ".git").mkdir(parents=True)
    (tmp_path / "vendor" / "lib" / ".git" / "config").write_text("[core]\n\tfsmonitor = evil\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".git").write_text("gitdir: /work/main/.git\n")
    defuse_git(str(tmp_path))
    assert sorted(p.name for p in git_dir.iterdir()) == ["config"]
    assert not (tmp_path / "vendor" / "lib" / ".git").exists()
    assert not (tmp_path / "sub" / ".git").exists()


def test_a_git_config_that_is_a_folder_is_a_clear_error(tmp_path):
    (tmp_path / ".git" / "config").mkdir(parents=True)
    with pytest.raises(IntakeError) as raised:
        defuse_git(str(tmp_path))
    assert str(raised.value) == "the uploaded .git folder is damaged: its config is a folder"


@pytest.mark.parametrize(("data", "message"), [
    (make_zip(("src/a.js", b"1"), ("./src//a.js", b"2")),
     "'./src//a.js': the archive holds two files of this name"),
    (make_tar((member("a"), b"1"), (member("a"), b"2")), "'a': the archive holds two files of this name"),
    (make_tar((member("a"), b"1"), (member("a/b"), b"2")),
     "'a': the archive holds both a file and a folder of this name"),
    (make_zip(("a/", b""), ("a", b"1")), "'a': the archive holds both a file and a folder of this name"),
])
def test_members_that_cannot_all_be_written_are_refused(data, message):
    with pytest.raises(IntakeError) as raised:
        check_archive(data)
    assert str(raised.value) == message


def _long_name_header(kind: bytes, declared_bytes: int) -> bytes:
    """A tar.gz whose first record is a GNU long-name (``L``) or pax (``x``) header declaring
    ``declared_bytes``, followed by nothing: tarfile would read the whole size at once."""
    header = tarfile.TarInfo("././@LongLink")
    header.type, header.size = kind, declared_bytes
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        gz.write(header.tobuf(format=tarfile.USTAR_FORMAT) + b"\0" * 4096)
    return buf.getvalue()


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE, tarfile.XGLTYPE])
def test_a_huge_long_name_or_pax_record_is_refused_before_it_is_read(kind, tmp_path):
    with pytest.raises(IntakeError) as raised:
        check_archive(_long_name_header(kind, 2_000_000))
    assert str(raised.value) == ("a tar header record is larger than 1 MB (a pax or GNU long-name header): "
                                 "refused")


def test_long_names_within_the_bound_still_extract(tmp_path):
    name = "d/" + ("n" * 60 + "/") * 4 + "f.txt"  # over ustar's 100 characters: a pax or GNU record
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", format=fmt) as tar:
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
        dest = tmp_path / str(fmt)
        dest.mkdir()
        assert extract_archive(buf.getvalue(), str(dest)).files == 1
        assert (dest / name).read_bytes() == b"hi"


def test_a_name_the_disk_cannot_hold_is_a_clear_error(tmp_path):
    with pytest.raises(IntakeError) as raised:
        extract_archive(make_zip(("n" * 300, b"x")), str(tmp_path))
    assert str(raised.value) == "the archive could not be extracted: File name too long"
