"""Scenario files: one launch surface, declared as data (YAML or JSON).

The data conventions are those of ``shared/cases``: ``dns`` maps a name to
``{RRTYPE: [values]}`` (a TXT value is one RR given as a list of character-strings, MX is
``[preference, host]``, CAA ``[flags, tag, value]``); an absent name is NXDOMAIN; a name
may instead be the string ``TIMEOUT`` or ``SERVFAIL``. The format is documented with
examples in ``docs/scenarios.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.rdatatype
import yaml

from checks.engine.hostnames import InvalidHostname, normalize_hostname
from checks.engine.spec import SMTP_SECURITY
from checks.sandbox.dnsserver import make_rdata
from checks.sandbox.members import (
    ROUTE_OPTIONS,
    MembersError,
    MembersSpec,
    parse_members,
    require_members,
    route_options,
)

CERT_KINDS = ("valid", "expired", "not_yet_valid", "wrong_name", "self_signed", "leaf_only")
TLS_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")  # oldest first; a host accepts a range
DEFAULT_TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
CERT_KEY_TYPES = ("ec256", "rsa2048", "rsa1024")
CERT_SIGNATURES = ("sha256", "sha1")
SPECIAL_ANSWERS = ("TIMEOUT", "SERVFAIL")
EDGES = ("cloudflare",)  # `edge:` values: the proxy a host is played behind
LAME_ANSWERS = ("TIMEOUT", "REFUSED", "SERVFAIL")  # a nameserver that fails every query
MAX_NAMESERVERS = 7  # the sandbox gives them .3 to .9 of its /24
MAX_SERIAL = 2**32 - 1  # RFC 1035 §3.3.13: an unsigned 32-bit number
SMTP_FAULTS = ("timeout", "no_starttls", "drop")
DKIM_KEY_BITS = (1024, 2048)


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the file and the place."""


@dataclass
class Route:
    """One response: matched on ``path`` (exact, or a glob ending in ``*``) and ``method``.

    ``{path}`` and ``{host}`` in header values are replaced by the request's target and host.
    ``stream: endless`` sends body chunks until the client hangs up (a hostile target).
    ``slow_every: n`` with ``slow_ms``: every n-th request to the route (counted from the
    sandbox's start) waits ``slow_ms`` instead of ``latency_ms`` (a known p95).
    """

    path: str
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    latency_ms: float = 0.0
    method: str | None = None
    stream: str | None = None
    chunk_delay_ms: float = 0.0
    slow_ms: float = 0.0
    slow_every: int = 0
    # The member app's options and faults (checks/sandbox/members.py).
    personal: bool = False
    shared_cache: bool = False
    leak_cookie: bool = False
    compress: str | None = None


@dataclass
class HostSpec:
    """A host of the launch surface: its certificate, TLS versions and routes.

    ``https`` / ``http`` are lists of routes, or ``False`` when nothing answers there;
    ``http: redirect`` is shorthand for a 301 from every path to the same URL on https.
    ``edge``: ``cloudflare`` plays a host proxied by Cloudflare (an address in the ranges the
    sandbox declares as Cloudflare's, ``Server: cloudflare`` and ``CF-RAY`` on its responses).
    """

    name: str
    certificate: dict[str, Any]
    tls_versions: tuple[str, ...]
    https: list[Route] | None
    http: list[Route] | None
    edge: str | None = None
    members: MembersSpec | None = None  # a member app with logins (checks/sandbox/members.py)


@dataclass
class NameserverSpec:
    """An authoritative nameserver of the project's zone.

    It serves the scenario's zone with ``dns`` laid over it (a name given there replaces that
    name's records on this server only: a stale or split record). ``failure`` (``TIMEOUT``,
    ``REFUSED``, ``SERVFAIL``) makes it lame; ``authoritative=False`` answers without the AA
    flag; ``serial`` is the SOA serial it reports (default 1).
    """

    name: str
    dns: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None
    serial: int | None = None
    authoritative: bool = True


@dataclass(frozen=True)
class DkimSignSpec:
    """How the submission server DKIM-signs (RFC 6376): as ``domain`` (``d=``) with
    ``selector`` (``s=``), with an RSA key of ``key_bits`` bits made when the sandbox starts."""

    domain: str
    selector: str
    key_bits: int = 2048


@dataclass(frozen=True)
class SmtpServerSpec:
    """The project's mail provider: its submission server and how it delivers.

    ``host``: the submission server's name; ``security``: ``starttls`` (RFC 3207), ``tls``
    (implicit TLS, RFC 8314) or ``none``; ``users``: login → password accepted by AUTH (empty:
    AUTH not offered); ``sign``: DKIM signing, or ``None``; ``return_path``: the envelope
    sender's domain towards the receiver (``None``: the client's MAIL FROM as given);
    ``outbound``: the name whose address delivers (``None``: ``host``'s); ``helo``: the name
    given in EHLO when delivering (default ``outbound`` or ``host``); ``fault``: one of
    ``SMTP_FAULTS`` or ``None``; ``latency_ms``: delay before the greeting.
    """

    host: str
    security: str = "starttls"
    users: dict[str, str] = field(default_factory=dict, repr=False, hash=False)
    sign: DkimSignSpec | None = None
    return_path: str | None = None
    outbound: str | None = None
    helo: str = ""
    fault: str | None = None
    latency_ms: float = 0.0

    @property
    def names(self) -> tuple[str, ...]:
        """The names the sandbox gives an address: ``host``, then ``outbound`` if other."""
        return tuple(dict.fromkeys(n for n in (self.host, self.outbound) if n))


@dataclass
class Scenario:
    name: str
    description: str
    dns: dict[str, Any]
    hosts: dict[str, HostSpec]
    project: dict[str, Any]
    expect: dict[str, dict[str, str]]
    dns_latency_ms: float = 0.0
    nameservers: dict[str, NameserverSpec] | None = None  # None: not declared (ns1/ns2 default)
    source: Path | None = None
    smtp: SmtpServerSpec | None = None
    repos: dict[str, Any] = field(default_factory=dict)  # name -> repos.RepoSpec (git over HTTPS)


MAX_SCENARIO_BYTES = 2_000_000
MAX_BODY_FILE_BYTES = 20_000_000
MAX_LATENCY_MS = 3_600_000  # an hour: longer is a typo, or an attempt to hold a worker
MAX_DAYS = 36_500
MAX_TTL_S = 2_147_483_647  # RFC 2181 §8


def load_scenario(path: str | Path, *, overrides: dict | None = None) -> Scenario:
    """Read and validate a scenario file; raises ``ScenarioError`` with the reason.

    Files over ``MAX_SCENARIO_BYTES``, YAML anchors and aliases (the "billion laughs" of
    YAML) and nesting too deep to walk are refused before anything is built.
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise ScenarioError(f"{path}: cannot read (No such file or directory)"
                                if not path.exists() else f"{path}: not a regular file")
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(f"{path}: larger than {MAX_SCENARIO_BYTES // 1_000_000} MB")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None
    kind = "YAML" if path.suffix in (".yaml", ".yml") else "JSON"
    try:
        data = _load_yaml(text, path) if kind == "YAML" else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid {kind}: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: nested too deeply") from None
    if overrides and isinstance(data, dict):
        data = {**data, **overrides}
    return parse_scenario(data, source=path)


def _load_yaml(text: str, path: Path) -> Any:
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise ScenarioError(f"{path}: YAML anchors and aliases (&name, *name) are not allowed")
    return yaml.safe_load(text)


TOP_KEYS = ("name", "description", "project", "dns", "dns_latency_ms", "nameservers", "latency_ms", "hosts",
            "smtp", "expect", "repos")
PROJECT_KEYS = ("name", "client_name", "apex", "preferred_host", "subdomains", "endpoints", "rollback_notes",
                "dkim_selectors", "mail_provider", "mail_sending_ips", "smtp", "handover", "monitoring",
                "accounts", "hardening")
HOST_KEYS = ("certificate", "tls_versions", "latency_ms", "https", "http", "edge", "members")
CERT_KEYS = ("kind", "san", "days_left", "key", "signature")
NAMESERVER_KEYS = ("dns", "serial", "authoritative")
SMTP_KEYS = ("host", "security", "users", "sign", "return_path", "outbound", "helo", "fault", "latency_ms")
SMTP_SIGN_KEYS = ("domain", "selector", "key_bits")
ROUTE_KEYS = ("path", "method", "status", "headers", "body", "body_file", "body_json", "latency_ms",
              "stream", "chunk_delay_ms", "slow_ms", "slow_every", *ROUTE_OPTIONS)


def _known_keys(mapping: dict, known: tuple[str, ...], where: str) -> None:
    """A misspelt key (``header:`` for ``headers:``) is an error, not silently nothing."""
    unknown = [str(k) for k in mapping if k not in known]
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(known)})")


def parse_scenario(data: Any, *, source: Path | None = None) -> Scenario:
    """Validate scenario ``data`` (already decoded) into a ``Scenario``.

    Raises ``ScenarioError`` naming the place; a value of a type no rule foresaw still ends
    in a ``ScenarioError`` (with the exception's text), never in a traceback.
    """
    where = str(source or "scenario")
    try:
        return _parse(data, source, where)
    except ScenarioError:
        raise
    except (TypeError, AttributeError, ValueError, OverflowError, KeyError, RecursionError) as exc:
        raise ScenarioError(f"{where}: not a valid scenario ({type(exc).__name__}: {exc})") from None


def _parse(data: Any, source: Path | None, where: str) -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: the top level must be a mapping")
    _known_keys(data, TOP_KEYS, where)
    base_dir = source.parent if source else Path.cwd()
    latency = _number(data.get("latency_ms", 0), f"{where}: latency_ms")
    dns = _dns(data.get("dns") or {}, where)
    hosts = {}
    if not isinstance(data.get("hosts") or {}, dict):
        raise ScenarioError(f"{where}: hosts must map host names to what they serve")
    for name, spec in (data.get("hosts") or {}).items():
        host = _hostname(name, f"{where}: hosts")
        hosts[host] = _host(host, spec or {}, f"{where}: hosts.{host}", base_dir, latency)
    project = data.get("project") or {}
    if not isinstance(project, dict):
        raise ScenarioError(f"{where}: project must be a mapping")
    _known_keys(project, PROJECT_KEYS, f"{where}: project")
    nameservers = _nameservers(data.get("nameservers"), project, hosts, where)
    smtp = _smtp(data.get("smtp"), nameservers or {}, where)
    expect = data.get("expect") or {}
    if not isinstance(expect, dict) or not all(isinstance(v, dict) for v in expect.values()):
        raise ScenarioError(f"{where}: expect must map check id -> {{target: status}}")
    return Scenario(
        name=str(data.get("name") or (source.stem if source else "scenario")),
        description=str(data.get("description") or ""),
        dns=dns,
        hosts=hosts,
        project=project,
        expect={k: {t: str(s) for t, s in v.items()} for k, v in expect.items()},
        dns_latency_ms=_number(data.get("dns_latency_ms", 0), f"{where}: dns_latency_ms"),
        nameservers=nameservers,
        source=source,
        smtp=smtp,
        repos=_parse_repos(data.get("repos"), hosts, where),
    )


def _parse_repos(value: Any, hosts: dict[str, HostSpec], where: str) -> dict[str, Any]:
    from checks.sandbox.repos import parse_repos  # repos.py imports this module's names

    return parse_repos(value, hosts, where)


_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
_SAN = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")
_SELECTOR = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 §5.1 field-name


def _body_file(value: Any, base_dir: Path, where: str) -> bytes:
    """A file beside the scenario (never outside its folder), at most ``MAX_BODY_FILE_BYTES``."""
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where} must be a file name relative to the scenario")
    path = (base_dir / value).resolve()
    if not path.is_relative_to(base_dir.resolve()):
        raise ScenarioError(f"{where}: {value!r} is outside the scenario's folder")
    try:
        if not path.is_file():
            raise ScenarioError(f"{where}: {value!r} is not a regular file")
        if path.stat().st_size > MAX_BODY_FILE_BYTES:
            raise ScenarioError(f"{where}: {value!r} is larger than {MAX_BODY_FILE_BYTES // 1_000_000} MB")
        return path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{where}: {exc.strerror}") from None


def _hostname(name: Any, where: str) -> str:
    try:
        return normalize_hostname(str(name))
    except InvalidHostname as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def _number(value: Any, where: str, *, most: float = MAX_LATENCY_MS) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= most:
        raise ScenarioError(f"{where} must be a number from 0 to {most:g}, not {value!r}")
    return float(value)


def _dns(zone: Any, where: str) -> dict[str, Any]:
    if not isinstance(zone, dict):
        raise ScenarioError(f"{where}: dns must map names to records")
    out: dict[str, Any] = {}
    for name, node in zone.items():
        key = str(name).lower().rstrip(".")
        try:
            dns.name.from_text(key)
        except dns.exception.DNSException as exc:
            raise ScenarioError(f"{where}: dns: {key[:80]!r} is not a DNS name ({exc})") from None
        if isinstance(node, str):
            if node.upper() not in SPECIAL_ANSWERS:
                raise ScenarioError(f"{where}: dns.{key} must be records, TIMEOUT or SERVFAIL")
            out[key] = node.upper()
        elif isinstance(node, dict):
            for rdtype, values in node.items():
                if rdtype in ("latency_ms", "ttl"):
                    most = MAX_TTL_S if rdtype == "ttl" else MAX_LATENCY_MS
                    _number(values, f"{where}: dns.{key}.{rdtype}", most=most)
                elif isinstance(values, str) and values.upper() in SPECIAL_ANSWERS:
                    _records([], str(rdtype), f"{where}: dns.{key}.{rdtype}")  # this type only
                    node = {**node, rdtype: values.upper()}
                elif not isinstance(values, list):
                    raise ScenarioError(f"{where}: dns.{key}.{rdtype} must be a list of values")
                else:
                    _records(values, str(rdtype), f"{where}: dns.{key}.{rdtype}")
            out[key] = node
        else:
            raise ScenarioError(f"{where}: dns.{key} must be a mapping of record types")
    return out


def project_apex(project: dict[str, Any]) -> str | None:
    """The ``project`` section's apex as a normalised host name; ``None`` when it has none or
    it is not a host name (the audit refuses it later, with its own message)."""
    try:
        return normalize_hostname(str(project["apex"])) if project.get("apex") else None
    except InvalidHostname:
        return None


def _nameservers(value: Any, project: dict, hosts: dict, where: str) -> dict[str, NameserverSpec] | None:
    """``nameservers``: name → ``{}``, ``{dns, serial, authoritative}`` or a lame answer.
    ``None`` when the key is absent (the sandbox then runs ns1 and ns2 of the apex)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: nameservers must map nameserver names to their options")
    if len(value) > MAX_NAMESERVERS:
        raise ScenarioError(
            f"{where}: nameservers: at most {MAX_NAMESERVERS} (the sandbox gives them .3 to .9), "
            f"not {len(value)}"
        )
    apex = project_apex(project)
    if value and apex is None:
        raise ScenarioError(f"{where}: nameservers need project.apex, the zone they serve")
    out: dict[str, NameserverSpec] = {}
    for name, spec in value.items():
        ns = _hostname(name, f"{where}: nameservers")
        place = f"{where}: nameservers.{ns}"
        if ns in hosts:
            raise ScenarioError(f"{place} is also under hosts: a name has one address in the sandbox")
        if ns in out:
            raise ScenarioError(f"{place} is given twice (names are compared without case and final dot)")
        if isinstance(spec, str):
            if spec.upper() not in LAME_ANSWERS:
                raise ScenarioError(f"{place} must be a mapping, or one of {', '.join(LAME_ANSWERS)}")
            out[ns] = NameserverSpec(ns, failure=spec.upper())
            continue
        if spec is not None and not isinstance(spec, dict):  # `[]` too: a list is no mapping
            raise ScenarioError(f"{place} must be a mapping, or one of {', '.join(LAME_ANSWERS)}")
        spec = spec or {}
        _known_keys(spec, NAMESERVER_KEYS, place)
        serial = spec.get("serial")
        if serial is not None and (isinstance(serial, bool) or not isinstance(serial, int)
                                   or not 0 <= serial <= MAX_SERIAL):
            raise ScenarioError(
                f"{place}.serial must be a whole number from 0 to {MAX_SERIAL}, not {serial!r}"
            )
        authoritative = spec.get("authoritative", True)
        if not isinstance(authoritative, bool):
            raise ScenarioError(f"{place}.authoritative must be true or false, not {authoritative!r}")
        overrides = _dns(spec.get("dns") or {}, place)
        for record_name in overrides:
            if record_name != apex and not record_name.endswith("." + apex):
                raise ScenarioError(
                    f"{place}: dns.{record_name} is outside the zone {apex}: this server would not serve it"
                )
        out[ns] = NameserverSpec(ns, overrides, None, serial, authoritative)
    return out


def _smtp(value: Any, nameservers: dict, where: str) -> SmtpServerSpec | None:
    """``smtp``: the submission server (see ``SmtpServerSpec``); ``None`` when absent."""
    if value is None:
        return None
    place = f"{where}: smtp"
    if not isinstance(value, dict):
        raise ScenarioError(f"{place} must be a mapping")
    _known_keys(value, SMTP_KEYS, place)
    if not value.get("host"):
        raise ScenarioError(f"{place}.host is required: the submission server's name")
    names = {key: _hostname(value[key], f"{place}.{key}")
             for key in ("host", "return_path", "outbound", "helo") if value.get(key) is not None}
    for key in ("host", "outbound"):
        if names.get(key) in nameservers:
            raise ScenarioError(f"{place}.{key} {names[key]} is also under nameservers: "
                                "a name has one address in the sandbox")
    security = value.get("security", "starttls")
    if security not in SMTP_SECURITY:
        raise ScenarioError(f"{place}.security must be one of {', '.join(SMTP_SECURITY)}, not {security!r}")
    fault = value.get("fault")
    if fault is not None and fault not in SMTP_FAULTS:
        raise ScenarioError(f"{place}.fault must be one of {', '.join(SMTP_FAULTS)}, not {fault!r}")
    if fault == "no_starttls" and security != "starttls":
        raise ScenarioError(f"{place}.fault no_starttls needs security: starttls, not {security}")
    return SmtpServerSpec(
        host=names["host"],
        security=security,
        users=_smtp_users(value.get("users"), f"{place}.users"),
        sign=_smtp_sign(value.get("sign"), f"{place}.sign"),
        return_path=names.get("return_path"),
        outbound=names.get("outbound"),
        helo=names.get("helo") or names.get("outbound") or names["host"],
        fault=fault,
        latency_ms=_number(value.get("latency_ms", 0), f"{place}.latency_ms"),
    )


def _smtp_users(value: Any, place: str) -> dict[str, str]:
    """Login → password. A message never repeats a password, only the login it belongs to."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{place} must map user names to passwords")
    users = {}
    for login, password in value.items():
        if not isinstance(login, str) or not login or not login.isprintable() or " " in login:
            raise ScenarioError(f"{place}: {str(login)[:80]!r} is not a user name (text without spaces)")
        if not isinstance(password, str) or not password:
            raise ScenarioError(f"{place}.{login}: the password must be text")
        users[login] = password
    return users


def _smtp_sign(value: Any, place: str) -> DkimSignSpec | None:
    """``sign``: ``{domain, selector, key_bits}``, or ``false`` / absent for no signing."""
    if value is None or value is False:
        return None
    if not isinstance(value, dict):
        raise ScenarioError(f"{place} must be a mapping (domain, selector, key_bits) or false")
    _known_keys(value, SMTP_SIGN_KEYS, place)
    for key in ("domain", "selector"):
        if not value.get(key):
            raise ScenarioError(f"{place}.{key} is required")
    selector = str(value["selector"]).lower()
    if not _SELECTOR.match(selector):  # RFC 6376 §3.1: selectors are DNS labels
        raise ScenarioError(f"{place}.selector {value['selector']!r} is not a DNS label")
    key_bits = value.get("key_bits", 2048)
    if isinstance(key_bits, bool) or key_bits not in DKIM_KEY_BITS:
        raise ScenarioError(f"{place}.key_bits must be one of {', '.join(map(str, DKIM_KEY_BITS))}, "
                            f"not {key_bits!r}")
    return DkimSignSpec(_hostname(value["domain"], f"{place}.domain"), selector, key_bits)


def _records(values: list, rdtype: str, where: str) -> None:
    """Build every value as the DNS server will, so a bad one is reported here, by place."""
    try:
        code = dns.rdatatype.from_text(rdtype)
    except dns.exception.DNSException:
        raise ScenarioError(f"{where}: {rdtype!r} is not a DNS record type") from None
    for value in values:
        try:
            make_rdata(code, value)
        except (dns.exception.DNSException, ValueError, TypeError) as exc:
            raise ScenarioError(
                f"{where}: {value!r} is not a valid {rdtype} value ({exc or type(exc).__name__})"
            ) from None


def _host(name: str, spec: Any, where: str, base_dir: Path, latency: float) -> HostSpec:
    if not isinstance(spec, dict):
        raise ScenarioError(f"{where} must be a mapping")
    _known_keys(spec, HOST_KEYS, where)
    cert = spec.get("certificate", "valid")
    if isinstance(cert, str):
        cert = {"kind": cert}
    if isinstance(cert, dict):
        _known_keys(cert, CERT_KEYS, f"{where}.certificate")
    if not isinstance(cert, dict) or cert.get("kind", "valid") not in CERT_KINDS:
        given = cert.get("kind") if isinstance(cert, dict) else cert
        raise ScenarioError(
            f"{where}.certificate must be one of {', '.join(CERT_KINDS)} or a mapping, not {given!r}"
        )
    days = cert.get("days_left", 0)
    if isinstance(days, bool) or not isinstance(days, int | float) or not -MAX_DAYS <= days <= MAX_DAYS:
        raise ScenarioError(
            f"{where}.certificate.days_left must be a number of days from -{MAX_DAYS} to {MAX_DAYS}, "
            f"not {days!r}"
        )
    san = cert.get("san", [])
    if not isinstance(san, list) or not all(isinstance(n, str) and 0 < len(n) <= 253 for n in san):
        raise ScenarioError(f"{where}.certificate.san must be a list of names, not {san!r}")
    if cert.get("kind", "valid") != "self_signed":
        # The test CA issues only names a CA would; a self-signed certificate may hold anything.
        for san_name in san:
            if not _SAN.match(san_name):
                raise ScenarioError(f"{where}.certificate.san: {san_name!r} is not a name a CA issues")
    if cert.get("key", "ec256") not in CERT_KEY_TYPES:
        raise ScenarioError(
            f"{where}.certificate.key must be one of {', '.join(CERT_KEY_TYPES)}, not {cert['key']!r}"
        )
    if cert.get("signature", "sha256") not in CERT_SIGNATURES:
        raise ScenarioError(
            f"{where}.certificate.signature must be one of {', '.join(CERT_SIGNATURES)}, "
            f"not {cert['signature']!r}"
        )
    versions = _tls_versions(spec.get("tls_versions"), f"{where}.tls_versions")
    latency = _number(spec.get("latency_ms", latency), f"{where}.latency_ms")
    https = _routes(spec.get("https"), f"{where}.https", base_dir, latency, name, "https")
    http = _routes(spec.get("http"), f"{where}.http", base_dir, latency, name, "http")
    edge = spec.get("edge")
    if edge is not None and edge not in EDGES:
        raise ScenarioError(f"{where}.edge must be one of {', '.join(EDGES)}, not {edge!r}")
    try:
        members = parse_members(spec.get("members"), f"{where}.members")
        require_members(members, [*(https or []), *(http or [])], where)
    except MembersError as exc:
        raise ScenarioError(str(exc)) from None
    return HostSpec(name, cert, versions, https, http, edge, members)


def _tls_versions(value: Any, where: str) -> tuple[str, ...]:
    """The versions a host accepts, oldest first; a server takes a range (minimum to maximum),
    so a gap (``[TLSv1, TLSv1.3]``) cannot be served and is refused here."""
    if not isinstance(value or [], list):
        raise ScenarioError(f"{where} must be a list, like [TLSv1.2, TLSv1.3]")
    for version in value or []:
        if version not in TLS_VERSIONS:
            raise ScenarioError(f"{where}: {version!r} is not one of {TLS_VERSIONS}")
    if not value:
        return DEFAULT_TLS_VERSIONS
    positions = sorted({TLS_VERSIONS.index(v) for v in value})
    if positions != list(range(positions[0], positions[-1] + 1)):
        raise ScenarioError(
            f"{where} must be consecutive versions (a server accepts a range), not {value!r}"
        )
    return tuple(TLS_VERSIONS[i] for i in positions)


def _routes(value: Any, where: str, base_dir: Path, latency: float, host: str, scheme: str):
    if value is False:
        return None
    if value is None:
        if scheme == "http":
            value = "redirect"
        else:
            value = [{"path": "/", "body": f"<!doctype html><title>{host}</title><h1>{host}</h1>",
                      "headers": [["Content-Type", "text/html; charset=utf-8"]]}]
    if value == "redirect":
        value = [{"path": "/*", "status": 301, "headers": [["Location", f"https://{host}{{path}}"]]}]
    if not isinstance(value, list):
        raise ScenarioError(f"{where} must be a list of routes, false, or 'redirect'")
    return [_route(r, f"{where}[{i}]", base_dir, latency) for i, r in enumerate(value)]


def _route(spec: Any, where: str, base_dir: Path, latency: float) -> Route:
    if not isinstance(spec, dict) or not str(spec.get("path", "")).startswith("/"):
        raise ScenarioError(f"{where} must be a mapping with a path starting with '/'")
    _known_keys(spec, ROUTE_KEYS, where)
    status = spec.get("status", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ScenarioError(f"{where}.status must be an HTTP status code, not {status!r}")
    headers = spec.get("headers") or []
    if not isinstance(headers, list) or not all(isinstance(h, list | tuple) and len(h) == 2 for h in headers):
        raise ScenarioError(f"{where}.headers must be [name, value] pairs")
    for name, value in headers:
        if not _TOKEN.match(str(name)):
            raise ScenarioError(f"{where}.headers: {str(name)!r} is not a header name")
        if any(ch in str(value) for ch in "\r\n\x00"):
            raise ScenarioError(f"{where}.headers: the value of {name} has a line break or NUL")
    body = spec.get("body", "")
    split = isinstance(body, dict) and set(body) <= {"fragments", "note"}
    if split and isinstance(body.get("fragments"), list):
        # Credential-shaped text kept split, so repository secret scanners do not trip on the
        # scenario file: joined with "" here (the shared cases' convention, cases/README.md).
        body = "".join(str(f) for f in body["fragments"])
    if not isinstance(body, str):
        raise ScenarioError(f"{where}.body must be text, not {type(body).__name__}")
    if "body_file" in spec:
        body = _body_file(spec["body_file"], base_dir, f"{where}.body_file")
    elif "body_json" in spec:
        body = json.dumps(spec["body_json"])
    if isinstance(body, str):
        body = body.encode("utf-8")
    stream = spec.get("stream")
    if stream not in (None, "endless"):
        raise ScenarioError(f"{where}.stream must be 'endless' if given")
    try:
        options, body = route_options(spec, where, body)
    except MembersError as exc:
        raise ScenarioError(str(exc)) from None
    return Route(
        path=str(spec["path"]),
        status=status,
        headers=[(str(k), str(v)) for k, v in headers],
        body=body,
        latency_ms=_number(spec.get("latency_ms", latency), f"{where}.latency_ms"),
        method=(str(spec["method"]).upper() if spec.get("method") else None),
        stream=stream,
        chunk_delay_ms=_number(spec.get("chunk_delay_ms", 0), f"{where}.chunk_delay_ms"),
        slow_ms=_number(spec.get("slow_ms", 0), f"{where}.slow_ms"),
        slow_every=_slow_every(spec.get("slow_every", 0), f"{where}.slow_every"),
        **options,
    )


def _slow_every(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise ScenarioError(f"{where} must be a whole number from 0 (never) to 1000000, not {value!r}")
    return value
