"""Cloudflare's published IP ranges: the shipped copy, membership, and its refresh.

Cloudflare answers DNS for a proxied record with addresses of its own anycast network and
publishes those ranges, one CIDR a line, at https://www.cloudflare.com/ips-v4 and
https://www.cloudflare.com/ips-v6 ("Cloudflare IP addresses",
https://developers.cloudflare.com/fundamentals/concepts/cloudflare-ip-addresses/). A copy ships
in ``data/cloudflare_ips.json`` with the date it was taken; ``refresh_ranges`` (behind
``manage.py refresh_cloudflare_ranges``) replaces it with a freshly fetched one.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

from checks.engine.net.http import HttpClient
from checks.engine.net.policy import refusal_reason
from checks.engine.net.profile import NetworkProfile

DATA_FILE = Path(__file__).resolve().parent / "data" / "cloudflare_ips.json"
SOURCES = {4: "https://www.cloudflare.com/ips-v4", 6: "https://www.cloudflare.com/ips-v6"}
# The published lists are ~1 KB and about twenty lines; anything far larger is not them.
MAX_LIST_BYTES = 64 * 1024
MAX_RANGES = 1000
# Cloudflare's widest ranges are a /13 and a /29. A shorter prefix in an answer would make a
# good part of the internet "Cloudflare"; it is refused as not a plausible list.
MIN_PREFIX = {4: 8, 6: 16}
# Special-purpose blocks that are not public unicast (RFC 6890 and the IANA registries it set
# up). A range is judged by every address in it, not only its first: 172.0.0.0/8 starts at a
# public address but holds 172.16.0.0/12, so it would make private origins "Cloudflare".
NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/8", "64:ff9b::/96", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20",
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
MAX_REDIRECTS = 3

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class CloudflareRanges:
    """A set of Cloudflare ranges and where it came from.

    ``source`` names the origin of the list (URLs, or the network profile); ``fetched`` is the
    ISO date it was taken, ``None`` when it was not fetched (a profile's override); ``note``
    says how the copy was made when that is not obvious.
    """

    networks: tuple[IPNetwork, ...]
    source: str
    fetched: str | None = None
    note: str = ""

    def network_of(self, address: str) -> IPNetwork | None:
        """The range that holds ``address`` (an IPv4-mapped IPv6 address counts as its IPv4
        address), or ``None``, also for text that is not an address."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return next((n for n in self.networks if n.version == ip.version and ip in n), None)

    def contains(self, address: str) -> bool:
        return self.network_of(address) is not None

    def age_days(self, today: date | None = None) -> int | None:
        """Whole days since ``fetched``; ``None`` when the date is unknown."""
        if not self.fetched:
            return None
        try:
            taken = date.fromisoformat(self.fetched[:10])
        except ValueError:
            return None
        return ((today or datetime.now(UTC).date()) - taken).days

    def as_evidence(self) -> dict:
        data: dict = {"source": self.source, "fetched": self.fetched, "age_days": self.age_days()}
        if self.note:
            data["note"] = self.note
        return data


def load_ranges(path: Path) -> CloudflareRanges:
    """The ranges of a data file shaped like ``data/cloudflare_ips.json``: ``source`` (the two
    URLs), ``fetched`` (ISO date), ``ipv4`` and ``ipv6`` (CIDR lists), optional ``note``.
    Raises ``ValueError`` for a file that does not have that shape."""
    data = json.loads(path.read_text(encoding="utf-8"))
    networks = [ipaddress.ip_network(c) for c in [*data["ipv4"], *data["ipv6"]]]
    source = data["source"]
    return CloudflareRanges(
        networks=tuple(networks),
        source=", ".join(source) if isinstance(source, list) else str(source),
        fetched=data.get("fetched"),
        note=data.get("note", ""),
    )


@cache
def shipped_ranges() -> CloudflareRanges:
    """The ranges shipped in ``data/cloudflare_ips.json`` (read once per process)."""
    return load_ranges(DATA_FILE)


def ranges_for(profile: NetworkProfile) -> CloudflareRanges:
    """The ranges an audit with ``profile`` uses: the profile's own (the sandbox declares a
    part of its loopback block) or, when it sets none, the shipped copy."""
    if profile.cloudflare_ranges is None:
        return shipped_ranges()
    return _profile_ranges(tuple(profile.cloudflare_ranges))


@cache
def _profile_ranges(cidrs: tuple[str, ...]) -> CloudflareRanges:
    networks = tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
    return CloudflareRanges(networks, source="the network profile (sandbox or test)")


# ---------------------------------------------------------------------------------------------
# Refresh


class RangesRefreshError(Exception):
    """The published lists could not be fetched or are not plausible; nothing was written."""


def fetch_published_ranges(http: HttpClient, *, today: date | None = None) -> dict:
    """Fetch both published lists through ``http`` (so the outbound policy applies) and return
    the data file's content: ``{"source", "fetched", "ipv4", "ipv6"}``.

    Raises ``RangesRefreshError`` when a list cannot be fetched over HTTPS with a 200, is larger
    than ``MAX_LIST_BYTES``, is empty, or holds a line that is not a CIDR of its IP version
    (an HTML error page, a captive portal), a range that is not public (by its first address,
    or by holding any of ``NOT_PUBLIC``) or is wider than ``MIN_PREFIX`` allows.
    """
    lists = {version: _fetch_list(http, url, version) for version, url in SOURCES.items()}
    return {
        "source": list(SOURCES.values()),
        "fetched": (today or datetime.now(UTC).date()).isoformat(),
        "ipv4": lists[4],
        "ipv6": lists[6],
    }


def refresh_ranges(http: HttpClient, output: Path = DATA_FILE, *, today: date | None = None) -> dict:
    """Fetch the published lists and replace ``output`` with them atomically (a reader sees
    the old file or the new one, never half of one). Returns what was written.

    Raises ``RangesRefreshError`` (``output`` untouched) when the lists are refused or the file
    cannot be written.
    """
    data = fetch_published_ranges(http, today=today)
    _write_atomically(output, json.dumps(data, indent=2) + "\n")
    if output.resolve() == DATA_FILE:
        shipped_ranges.cache_clear()
    return data


def _fetch_list(http: HttpClient, url: str, version: int) -> list[str]:
    chain = http.follow(url, max_hops=MAX_REDIRECTS)
    final = chain.final
    insecure = [hop.url for hop in chain.hops if not hop.url.startswith("https://")]
    if insecure:  # before anything else: nothing from a plain-HTTP hop is trusted
        raise RangesRefreshError(f"{url}: refused: a redirect leads to plain HTTP ({insecure[0]})")
    if chain.end != "final":
        reason = final.error or f"the redirects ended in a {chain.end.replace('_', ' ')}"
        raise RangesRefreshError(f"{url}: could not fetch the list ({reason})")
    if final.status != 200:
        raise RangesRefreshError(f"{url}: refused: answered HTTP {final.status}, not 200")
    if final.truncated or len(final.body) > MAX_LIST_BYTES:
        raise RangesRefreshError(f"{url}: refused: the answer is larger than {MAX_LIST_BYTES} bytes")
    return parse_range_list(final.body, version, url)


def parse_range_list(body: bytes, version: int, url: str) -> list[str]:
    """The CIDRs of a published list (one a line, blank lines ignored), as written by
    ``ipaddress``. Raises ``RangesRefreshError`` naming the first line that is not a public
    range of IP ``version``."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise RangesRefreshError(f"{url}: refused: the answer is not ASCII text") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise RangesRefreshError(f"{url}: refused: the list is empty")
    if len(lines) > MAX_RANGES:
        raise RangesRefreshError(f"{url}: refused: more than {MAX_RANGES} lines")
    ranges = []
    for number, line in enumerate(lines, 1):
        where = f"{url}: refused: line {number} ({line[:60]!r})"
        try:
            network = ipaddress.ip_network(line, strict=True)
        except ValueError:
            raise RangesRefreshError(f"{where} is not a CIDR range") from None
        if network.version != version:
            raise RangesRefreshError(f"{where} is not an IPv{version} range")
        if network.prefixlen < MIN_PREFIX[version]:
            raise RangesRefreshError(f"{where} is wider than /{MIN_PREFIX[version]}")
        reason = refusal_reason(network.network_address)
        if reason:
            raise RangesRefreshError(f"{where} is not a public range ({reason})")
        held = next((n for n in NOT_PUBLIC if n.version == version and network.overlaps(n)), None)
        if held is not None:
            raise RangesRefreshError(f"{where} is not a public range (it holds {held})")
        ranges.append(str(network))
    return ranges


def _write_atomically(output: Path, text: str) -> None:
    try:
        mode = output.stat().st_mode & 0o777 if output.exists() else 0o644
        fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    except OSError as exc:
        raise RangesRefreshError(f"cannot write {output}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, output)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise RangesRefreshError(f"cannot write {output}: {exc.strerror or exc}") from None
