"""A client's git repository, cloned over HTTPS with its whole history, under our rules.

The URL must be ``https://`` with a DNS name and no credentials (``validate_repository_url``).
The clone obeys the audit's outbound-address policy like every other connection: the host is
resolved with the audit's DNS client, the first address the policy allows is chosen, and git
is pinned to it (``http.curloptResolve``, libcurl's ``CURLOPT_RESOLVE``), so neither a second
lookup (DNS rebinding) nor a redirect (``http.followRedirects=false``, which also stops
``http-alternates``, git's dumb-HTTP redirect) can take it elsewhere. TLS is verified against
the system store plus the profile's extra CA (the sandbox's test CA). Only the https
transport is allowed (``protocol.allow=never``), no user or system git configuration, no
credential helper, no prompt, no proxy.

Bounds: ``timeout_s`` for the whole clone and ``max_bytes`` for the folder, polled every
``POLL_S`` while git runs, and ``max_bytes`` again (at least ``MIN_MEMORY_BYTES``) for git's
memory: a hostile server can send an endless ref advertisement that git buffers whole, so the
resident anonymous memory (``RssAnon``, proc(5): heap, not the pack files git maps) of git's
process group is polled every
``MEMORY_POLL_S``, and each git process starts with an address-space limit (``RLIMIT_AS``,
setrlimit(2)) of ``ADDRESS_SPACE_BYTES`` in case it grows faster than the poll. Over any
bound git's process group is killed and ``IntakeError`` says which. git's index-pack runs
with two threads and glibc with two malloc arenas, so a normal clone fits the address-space
limit on a many-core worker (each thread reserves a stack and an arena of address space).
"""

from __future__ import annotations

import os
import resource
import signal
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from checks.engine.hostnames import InvalidHostname, normalize_hostname
from checks.engine.net.dns import ResolveError
from checks.engine.net.session import Net

from .archive import IntakeError
from .history import GIT_SAFE, clean_environ

POLL_S = 0.2
MEMORY_POLL_S = 0.05
ADDRESS_SPACE_BYTES = 1 << 30
MAX_URL_CHARS = 2000
_MB = 1_000_000
MIN_MEMORY_BYTES = 64 * _MB  # git, git-remote-https and index-pack of a small clone: ~30 MB
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                    "ALL_PROXY", "NO_PROXY", "SSH_ASKPASS", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


@dataclass(frozen=True)
class CloneLimits:
    """``timeout_s`` for the whole clone; ``max_bytes`` of the cloned folder, and of git's
    resident memory (all its processes together; at least ``MIN_MEMORY_BYTES``)."""

    timeout_s: float = 60.0
    max_bytes: int = 300 * _MB


def validate_repository_url(url: str) -> str:
    """The URL, stripped, when it is ``https://<dns name>[:port]/path`` without credentials,
    query or fragment; else ``IntakeError`` with the reason."""
    url = (url or "").strip()
    if not url:
        raise IntakeError("no repository URL given")
    if len(url) > MAX_URL_CHARS or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise IntakeError("the repository URL is too long or contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise IntakeError(f"the repository URL is not valid: {exc}") from None
    if parts.scheme.lower() != "https":
        raise IntakeError("the repository URL must start with https:// (git over HTTPS only)")
    if "@" in parts.netloc:
        raise IntakeError("the repository URL must not contain a user name or password: "
                          "give a URL the panel can read without one, or upload an archive")
    if parts.query or parts.fragment:
        raise IntakeError("the repository URL must not have a query or fragment")
    try:
        normalize_hostname(parts.hostname or "")
    except InvalidHostname as exc:
        raise IntakeError(f"the repository URL's host is not a DNS name: {exc}") from None
    if port == 0:
        raise IntakeError("the repository URL's port is not valid")
    return url


def clone_repository(url: str, net: Net, dest: str, limits: CloneLimits = CloneLimits()) -> None:
    """Clone ``url`` (every branch and tag, whole history, HEAD checked out) into ``dest``, a
    folder that must not exist yet. Raises ``IntakeError`` with the reason."""
    url = validate_repository_url(url)
    parts = urlsplit(url)
    host = normalize_hostname(parts.hostname or "")
    port = net.profile.port(parts.port or 443)
    address = _allowed_address(net, host, port)
    # The URL keeps its host (SNI, certificate name, Host field); only the port may change,
    # when the profile maps 443 elsewhere (the sandbox).
    clone_url = f"https://{host}:{port}{parts.path or '/'}"
    pinned = f"{host}:{port}:{'[' + address + ']' if ':' in address else address}"
    with tempfile.TemporaryDirectory(prefix="lr-git-ca-") as workdir:
        options = [
            "-c", f"http.curloptResolve={pinned}", "-c", "http.followRedirects=false",
            "-c", "http.sslVerify=true", "-c", f"http.sslCAInfo={_ca_bundle(net, workdir)}",
            "-c", "http.proxy=", "-c", "credential.helper=", "-c", "protocol.allow=never",
            "-c", "protocol.https.allow=always", "-c", "core.askPass=/bin/false",
            "-c", "pack.threads=2",
        ]
        try:
            _run_git(["git", *GIT_SAFE, *options, "clone", "--quiet", "--no-recurse-submodules", "--",
                      clone_url, dest], dest, limits, workdir)
        except IntakeError as exc:
            # git's message names the URL it used: show the one the agency gave.
            raise IntakeError(str(exc).replace(f"//{host}:{port}/", f"//{parts.netloc}/")) from None


def _allowed_address(net: Net, host: str, port: int) -> str:
    try:
        addresses = net.dns.addresses(host)
    except ResolveError as exc:
        raise IntakeError(f"the repository host does not resolve: {exc}") from None
    refusals = []
    for address in addresses:
        refusal = net.profile.policy.refusal(address, port)
        if refusal is None:
            return address
        refusals.append(refusal)
    raise IntakeError(refusals[0])


def _ca_bundle(net: Net, workdir: str) -> str:
    """The system's CA file, plus the profile's extra CA when it has one (a new file)."""
    system = ssl.get_default_verify_paths().cafile or ""
    if not net.profile.extra_ca_pem:
        return system
    path = os.path.join(workdir, "ca.pem")
    with open(path, "w", encoding="ascii") as out:
        if system and os.path.isfile(system):
            with open(system, encoding="ascii", errors="ignore") as fh:
                out.write(fh.read())
        out.write("\n" + net.profile.extra_ca_pem)
    return path


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in clean_environ().items() if k not in _PROXY_VARIABLES}
    return {**env, "GIT_ALLOW_PROTOCOL": "https", "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_LFS_SKIP_SMUDGE": "1", "MALLOC_ARENA_MAX": "2"}


def _limit_address_space() -> None:
    """Runs in the child before exec: git and its helpers inherit the limit. Only a system
    call, nothing that takes a lock another thread of ours could hold at fork."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))


def _run_git(command: list[str], dest: str, limits: CloneLimits, workdir: str) -> None:
    """Run the clone in its own process group; poll time, folder size and memory; kill over a
    cap."""
    stderr_path = os.path.join(workdir, "stderr")
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=stderr, env=_git_env(), start_new_session=True,
                                   preexec_fn=_limit_address_space)
        started = last_folder_poll = time.monotonic()
        max_memory_bytes = max(limits.max_bytes, MIN_MEMORY_BYTES)
        try:
            while process.poll() is None:
                now = time.monotonic()
                if now - started > limits.timeout_s:
                    raise IntakeError(f"git clone timed out after {limits.timeout_s:g} s")
                if group_rss_bytes(process.pid) > max_memory_bytes:
                    raise _too_much_memory(max_memory_bytes)
                if now - last_folder_poll >= POLL_S:
                    last_folder_poll = now
                    if folder_bytes(dest) > limits.max_bytes:
                        raise IntakeError(f"the repository is larger than {limits.max_bytes / _MB:g} MB")
                time.sleep(MEMORY_POLL_S)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    if folder_bytes(dest) > limits.max_bytes:
        raise IntakeError(f"the repository is larger than {limits.max_bytes / _MB:g} MB")
    if process.returncode != 0:
        with open(stderr_path, "rb") as fh:
            message = fh.read()[-2000:].decode("utf-8", "replace").strip().splitlines()
        if any("out of memory" in line.lower() for line in message):
            raise _too_much_memory(ADDRESS_SPACE_BYTES)  # the address-space limit stopped git
        raise IntakeError(f"git clone failed: {message[-1] if message else f'exit {process.returncode}'}")


def _too_much_memory(cap_bytes: int) -> IntakeError:
    return IntakeError(f"git needed more than {cap_bytes / _MB:g} MB of memory: the clone was stopped "
                       "(the server may be sending an endless answer)")


def group_rss_bytes(pgid: int) -> int:
    """Resident anonymous memory in bytes of every process in the process group ``pgid``
    (Linux ``/proc/<pid>/stat`` field 5 is the group, ``/proc/<pid>/status`` ``RssAnon`` the
    memory in kB, proc(5)); 0 where ``/proc`` cannot be read. Mapped files (pack files git
    reads) are left out: they are on disk, counted by the folder cap."""
    total = 0
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                # "pid (comm) state ppid pgrp ...": comm may hold spaces and ")", so split after the last ")".
                fields = fh.read().rpartition(b")")[2].split()
            if int(fields[2]) != pgid:
                continue
            with open(f"/proc/{pid}/status", "rb") as fh:
                total += next((int(line.split()[1]) * 1024 for line in fh if line.startswith(b"RssAnon:")), 0)
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we read
    return total


def folder_bytes(path: str) -> int:
    """Bytes of the regular files under ``path`` (0 when it does not exist yet)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue  # git renames temporary files while we count
    return total
