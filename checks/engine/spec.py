"""What is being audited: a project described as plain data (no Django)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from checks.engine.email.providers import InvalidMailSetting, mail_provider_key, sending_networks
from checks.engine.hostnames import InvalidHostname, dkim_selector, normalize_hostname, subdomain_label

if TYPE_CHECKING:
    from checks.engine.loghygiene import LogScan

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
ENDPOINT_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
MAX_SUBDOMAINS = 50
MAX_ENDPOINTS = 100
MAX_DKIM_SELECTORS = 20
DEFAULT_TARGET_P95_MS = 300  # stage 4's launch baseline for an endpoint's p95
MAX_TARGET_P95_MS = 60_000
# Endpoints whose answer is one member's own data unless the project says otherwise.
PERSONAL_KINDS = ("feed", "membership", "profile")
LOGIN_METHODS = ("form", "cookie", "bearer")
# What building a ProjectSpec may raise for stored data that is not (or no longer) valid: a bad
# name, or a mail setting such as a provider preset that a later release dropped.
INVALID_PROJECT = (InvalidHostname, InvalidMailSetting)


class InvalidEndpoint(ValueError):
    """An endpoint that cannot be audited; the message says which part is wrong."""


def endpoint_from(
    kind: str, method: str, url: str, *, target_p95_ms: object = None, personal: object = None,
) -> EndpointSpec:
    """A validated ``EndpointSpec``: kind among ``ENDPOINT_KINDS``, a known method, an
    http(s) URL on a DNS name (not an IP literal) with no credentials in it, a p95 target of
    1 … 60000 ms (``None``: the default) and ``personal`` a bool or ``None``.
    Raises ``InvalidEndpoint``."""
    target = DEFAULT_TARGET_P95_MS if target_p95_ms is None else target_p95_ms
    if isinstance(target, bool) or not isinstance(target, int) or not 0 < target <= MAX_TARGET_P95_MS:
        raise InvalidEndpoint(
            f"target_p95_ms {target_p95_ms!r} must be whole milliseconds, 1 to {MAX_TARGET_P95_MS}"
        )
    if personal is not None and not isinstance(personal, bool):
        raise InvalidEndpoint(f"personal {personal!r} must be true, false or left out")
    if kind.lower() not in ENDPOINT_KINDS:
        raise InvalidEndpoint(f"{kind!r} is not a kind: use one of {', '.join(ENDPOINT_KINDS)}")
    if method.upper() not in ENDPOINT_METHODS:
        raise InvalidEndpoint(f"{method!r} is not a method: use one of {', '.join(ENDPOINT_METHODS)}")
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidEndpoint(f"{url!r} must start with http:// or https://")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        raise InvalidEndpoint(f"{url!r} is not a URL") from None
    if parts.username or parts.password:
        raise InvalidEndpoint("put no user name or password in the URL: it would be stored in clear")
    try:
        normalize_hostname(parts.hostname or "")
    except InvalidHostname as exc:
        raise InvalidEndpoint(f"the URL's host: {exc}") from None
    return EndpointSpec(kind=kind.lower(), url=url, method=method.upper(), target_p95_ms=target,
                        personal=personal)

# How many people a failure on a host touches; larger sorts first in the risk list.
# Auth and API serve every member, admin only staff (DESIGN: "auth and api before admin").
REACH_BY_LABEL = {"": 4, "www": 4, "app": 3, "api": 3, "auth": 3, "login": 3, "admin": 1}
DEFAULT_REACH = 2


@dataclass(frozen=True)
class EndpointSpec:
    """A critical endpoint: its ``kind`` (``ENDPOINT_KINDS``), ``url`` and ``method``; the p95
    it must stay under (``target_p95_ms``); ``personal``: its answer is one member's own data
    (``None``: by kind, ``PERSONAL_KINDS``)."""

    kind: str
    url: str
    method: str = "GET"
    target_p95_ms: int = DEFAULT_TARGET_P95_MS
    personal: bool | None = None

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def is_personal(self) -> bool:
        """Measured logged in, and must never be served from a shared cache."""
        return self.kind in PERSONAL_KINDS if self.personal is None else self.personal


@dataclass(frozen=True)
class TestAccount:
    """A login of the client's app the audit may use. ``login``: ``form`` (POST
    ``username_field``=``username`` and ``password_field``=``secret`` to the project's login
    endpoint and keep the cookies it sets), ``cookie`` (send ``cookie_name``=``secret``) or
    ``bearer`` (``Authorization: Bearer <secret>``). ``secret`` is in clear only in memory
    (never in ``repr``, evidence or logs); ``problem`` says why it cannot be used (a secret no
    key decrypts), and the checks needing it report ``error`` with it."""

    __test__ = False  # not a pytest test class, despite the name

    label: str
    login: str = "form"
    username: str = ""
    secret: str = field(default="", repr=False)
    username_field: str = "username"
    password_field: str = "password"
    cookie_name: str = ""
    problem: str = ""


@dataclass(frozen=True)
class EnvironmentFacts:
    """An environment (``development``, ``staging``, ``production``) and the variables CI
    posted for it: ``(name, sha256 hex of the value)`` pairs, sorted by name."""

    name: str
    variables: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DeployFacts:
    """A recorded deploy: ``kind`` (``deploy`` / ``rollback``), ``environment``, ``version``,
    ``age_s`` (seconds since it happened) and its smoke test's ``smoke_status`` (``pending``,
    ``pass``, ``fail``, ``error``)."""

    kind: str
    environment: str
    version: str
    age_s: float
    smoke_status: str


@dataclass(frozen=True)
class RepositorySource:
    """The client's repository for the secret scan: a git ``url`` the panel clones, or an
    uploaded archive (``archive_name``) whose bytes ``load_archive()`` returns when the scan
    runs (so building a spec never loads a large blob)."""

    url: str = ""
    archive_name: str = ""
    load_archive: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class HardeningFacts:
    """What stage 3 judges besides the network: ``environments``; ``rollback_steps`` written
    down; ``rollback_tried_age_s``, seconds since a rollback was last carried out (``None``:
    never); ``deploys``, the latest recorded deploys, newest first; ``accepted_secrets``, the
    fingerprints of secret findings the agency accepted; ``repository`` to scan (``None``:
    none given)."""

    environments: tuple[EnvironmentFacts, ...] = ()
    rollback_steps: bool = False
    rollback_tried_age_s: float | None = None
    deploys: tuple[DeployFacts, ...] = ()
    accepted_secrets: frozenset[str] = frozenset()
    repository: RepositorySource | None = None


SMTP_SECURITY = ("starttls", "tls", "none")  # STARTTLS (RFC 3207), implicit TLS (RFC 8314), plain
SMTP_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:\x00-\x1f\x7f]{1,64}@[^@\s<>\"(),;:\x00-\x1f\x7f]{1,253}$")


@dataclass(frozen=True)
class SmtpSettings:
    """A project's SMTP sending: the submission server (``host``, ``port``), ``security`` one of
    ``SMTP_SECURITY``, the login (``username``; ``password`` in clear only in memory — it never
    appears in ``repr``, evidence or logs) and the ``from_address`` the app's mail carries.

    Raises ``InvalidMailSetting`` for a host that is not a DNS name, a port outside 1–65535, an
    unknown security mode or a From address that is not ``local@domain``.
    """

    host: str
    from_address: str
    port: int = 0  # 0: the security mode's usual port (587, 465, 25)
    security: str = "starttls"
    username: str = ""
    password: str = field(default="", repr=False)
    # Why these settings cannot be used as stored (a password no key decrypts): the mail test
    # then reports ``error`` with it, and the rest of the audit runs.
    problem: str = ""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "host", normalize_hostname(self.host))
        except InvalidHostname as exc:
            raise InvalidMailSetting(f"SMTP host: {exc}") from None
        security = (self.security or "").strip().lower()
        if security not in SMTP_SECURITY:
            choices = ", ".join(SMTP_SECURITY)
            raise InvalidMailSetting(f"SMTP security {self.security!r}: use one of {choices}")
        object.__setattr__(self, "security", security)
        try:
            port = int(self.port or SMTP_DEFAULT_PORTS[security])
        except (TypeError, ValueError):
            raise InvalidMailSetting(f"SMTP port {self.port!r} is not a number") from None
        if not 0 < port < 65536:
            raise InvalidMailSetting(f"SMTP port {port} is not between 1 and 65535")
        object.__setattr__(self, "port", port)
        address = (self.from_address or "").strip()
        if not _ADDRESS.match(address):
            raise InvalidMailSetting(f"From address {self.from_address!r} is not like name@example.com")
        local, _, domain = address.rpartition("@")
        try:
            domain = normalize_hostname(domain)
        except InvalidHostname as exc:
            raise InvalidMailSetting(f"From address domain: {exc}") from None
        object.__setattr__(self, "from_address", f"{local}@{domain}")

    @property
    def from_domain(self) -> str:
        """The RFC5322.From domain, the one DMARC aligns against (RFC 7489 §3.1)."""
        return self.from_address.rpartition("@")[2]


@dataclass(frozen=True)
class HandoverFacts:
    """What the project's handover record holds, as counts and flags only (never its text, and
    never a secret): what the stage 7 checks judge.

    ``deploy_steps`` and ``rollback``: written down (not blank). ``secret_locations``,
    ``monitoring_links`` (lines with a URL), ``access_entries``, ``owners``: how many are
    recorded; ``access_mfa_off`` / ``access_mfa_unknown``: how many access-map systems have MFA
    off / not known. ``runbook_keys``: which default situations have a runbook entry
    (``site_down`` …), sorted; ``runbook_entries``: all entries, the agency's own included.
    ``consultant_signed`` / ``founder_signed``: the sign-off of each side.
    """

    deploy_steps: bool = False
    rollback: bool = False
    secret_locations: int = 0
    monitoring_links: int = 0
    access_entries: int = 0
    access_mfa_off: int = 0
    access_mfa_unknown: int = 0
    owners: int = 0
    runbook_keys: tuple[str, ...] = ()
    runbook_entries: int = 0
    consultant_signed: bool = False
    founder_signed: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "runbook_keys", tuple(sorted(set(self.runbook_keys))))


@dataclass(frozen=True)
class MonitorFacts:
    """One uptime monitor as the stage 5 checks see it: the endpoint ``kind`` it watches
    (``homepage``, ``login``, ``health``, ``webhook`` …; ``""`` for a URL of its own), its
    ``url``, whether it is ``enabled``, its ``interval_s`` and ``last_ok_age_s``: seconds since
    its last successful probe (``None``: it never succeeded)."""

    kind: str
    url: str
    enabled: bool = True
    interval_s: int = 60
    last_ok_age_s: float | None = None


@dataclass(frozen=True)
class MonitoringFacts:
    """What the project's monitoring holds (stage 5), as facts the checks judge without the
    network: its ``monitors``; ``alert_channels``, the enabled alert channels, and
    ``alert_channels_tested``, how many of them delivered a test alert; ``log_scan``, the
    redacted result of scanning a log sample (``checks.engine.loghygiene.LogScan``; ``None``:
    no sample given). Never a webhook URL, never a log line."""

    monitors: tuple[MonitorFacts, ...] = ()
    alert_channels: int = 0
    alert_channels_tested: int = 0
    log_scan: LogScan | None = None


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
    # DKIM selectors the client signs with (``s1``); the email checks also try the usual
    # providers' selectors. Raises ``InvalidHostname`` for one that is not a selector.
    dkim_selectors: tuple[str, ...] = ()
    # Who sends the project's mail: a preset of ``data/mail_providers.json`` ("" for none) and
    # custom IPs or networks; email.spf checks that the apex's record authorises them. Both
    # raise ``InvalidMailSetting`` (a ``ValueError``) when not valid.
    mail_provider: str = ""
    mail_sending_ips: tuple[str, ...] = ()
    # How the app sends its transactional mail; ``None`` when not configured (email.transactional
    # is then skipped).
    smtp: SmtpSettings | None = None
    # The handover record's facts (stage 7). The panel always gives them (an empty record
    # fails each part); ``None`` means the caller gave none, and stage 7 plans no check.
    handover: HandoverFacts | None = None
    # The project's monitoring (stage 5). The panel always gives it (no monitor fails); ``None``
    # means the caller gave none, and stage 5 plans no check.
    monitoring: MonitoringFacts | None = None
    # Logins of the client's app (stage 4's personal endpoints, the cross-account test, the
    # deploy smoke test); empty: those parts report that no test account is set.
    accounts: tuple[TestAccount, ...] = ()
    # Stage 3's facts (environments, deploys, rollback, accepted secrets, the repository);
    # ``None`` means the caller gave none, and the checks needing them plan nothing.
    hardening: HardeningFacts | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "apex", normalize_hostname(self.apex))
        if len(self.subdomains) > MAX_SUBDOMAINS or len(self.endpoints) > MAX_ENDPOINTS:
            # An audit sends traffic to every host; a runaway list must not become a flood.
            raise InvalidHostname(
                f"a project may have at most {MAX_SUBDOMAINS} subdomains and {MAX_ENDPOINTS} endpoints"
            )
        labels = [subdomain_label(s, self.apex) for s in self.subdomains if s.strip()]
        object.__setattr__(self, "subdomains", tuple(dict.fromkeys(labels)))
        preferred = normalize_hostname(self.preferred_host) if self.preferred_host else self.apex
        object.__setattr__(self, "preferred_host", preferred)
        if len(self.dkim_selectors) > MAX_DKIM_SELECTORS:
            raise InvalidHostname(f"a project may have at most {MAX_DKIM_SELECTORS} DKIM selectors")
        selectors = [dkim_selector(s) for s in self.dkim_selectors if s.strip()]
        object.__setattr__(self, "dkim_selectors", tuple(dict.fromkeys(selectors)))
        object.__setattr__(self, "mail_provider", mail_provider_key(self.mail_provider))
        object.__setattr__(self, "mail_sending_ips", sending_networks(self.mail_sending_ips))

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
