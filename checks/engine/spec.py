"""What is being audited: a project described as plain data (no Django)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from checks.engine.hostnames import InvalidHostname, normalize_hostname

ENDPOINT_KINDS = (
    "homepage",
    "login",
    "health",
    "webhook",
    "feed",
    "membership",
    "profile",
    "content",
    "api",
)
DEFAULT_SUBDOMAINS = ("www", "app", "api", "admin")

# How many people a failure on a host touches; larger sorts first in the risk list.
# Auth and API serve every member, admin only staff (DESIGN: "auth and api before admin").
REACH_BY_LABEL = {"": 4, "www": 4, "app": 3, "api": 3, "auth": 3, "login": 3, "admin": 1}
DEFAULT_REACH = 2


@dataclass(frozen=True)
class EndpointSpec:
    kind: str
    url: str
    method: str = "GET"

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


@dataclass(frozen=True)
class ProjectSpec:
    """A project's launch surface.

    ``apex`` is the registrable domain (``example.com``); ``subdomains`` are labels under it
    (``www``); ``preferred_host`` is the canonical host that the other of apex/www redirects to.
    """

    name: str
    apex: str
    subdomains: tuple[str, ...] = DEFAULT_SUBDOMAINS
    preferred_host: str = ""
    endpoints: tuple[EndpointSpec, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "apex", normalize_hostname(self.apex))
        labels = tuple(s.strip().lower().strip(".") for s in self.subdomains if s.strip())
        for label in labels:
            normalize_hostname(f"{label}.{self.apex}")  # raises InvalidHostname with the reason
        object.__setattr__(self, "subdomains", labels)
        preferred = normalize_hostname(self.preferred_host) if self.preferred_host else self.apex
        object.__setattr__(self, "preferred_host", preferred)

    @property
    def hosts(self) -> list[str]:
        """Apex first, then each subdomain, then hosts only the endpoints name; no repeats."""
        names = [self.apex] + [f"{label}.{self.apex}" for label in self.subdomains]
        names += [host for e in self.endpoints if (host := _hostname_or_none(e.host))]
        return list(dict.fromkeys(names))

    @property
    def alternate_host(self) -> str | None:
        """The one of apex / www that is not preferred and must redirect to the preferred."""
        www = f"www.{self.apex}"
        if self.preferred_host == www:
            return self.apex
        if self.preferred_host == self.apex and "www" in self.subdomains:
            return www
        return None

    def reach(self, target: str) -> int:
        """How many members a failure on ``target`` (a host or URL) touches, 1 … 4."""
        host = (urlsplit(target).hostname or target) if "://" in target else target
        host = host.lower()
        if host == self.apex or host == self.preferred_host:
            return REACH_BY_LABEL[""]
        if host.endswith("." + self.apex):
            label = host[: -len(self.apex) - 1].split(".")[-1]
            return REACH_BY_LABEL.get(label, DEFAULT_REACH)
        return DEFAULT_REACH


def _hostname_or_none(value: str) -> str | None:
    """Endpoint hosts join the host checks only when they are DNS names (not IP literals)."""
    try:
        return normalize_hostname(value) if value else None
    except InvalidHostname:
        return None
