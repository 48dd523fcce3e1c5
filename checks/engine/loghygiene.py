"""Log hygiene: does a sample of an app's logs carry secrets or personal data?

A consultant pastes or uploads a slice of the app's logs (at most ``MAX_LOG_BYTES``); this
module scans it line by line and reports what it found, **redacted**: a short prefix and a
keyed hash (``eyJh…#3f2a1b9c``), never the value. The sample itself is not kept (the panel
stores only the result), so the scan is the one moment the values are held.

What is looked for, and with what:

- ``bearer_token`` — an OAuth 2.0 bearer token in an ``Authorization: Bearer …`` header or a
  ``Bearer …`` credential (RFC 6750 §2.1, the ``b64token`` syntax), or in an ``access_token``
  URI query parameter (RFC 6750 §2.3, which §5.3 warns ends up in logs).
- ``jwt`` — a JSON Web Token (RFC 7519 §3: base64url header and payload that decode to JSON),
  by detect-secrets' ``JwtTokenDetector``.
- ``api_key`` — keys of known formats by detect-secrets' specific plugins (AWS, GitHub,
  GitLab, Slack tokens and webhooks, Stripe, SendGrid, Twilio, Mailchimp, npm, OpenAI, PyPI,
  Discord, Telegram, Artifactory, Azure storage, Square, private-key armour), keys in URL
  query parameters (``api_key=``, ``client_secret=`` …), and quoted base64-alphabet strings of
  ``MIN_ENTROPY_LENGTH`` or more characters whose Shannon entropy exceeds
  ``ENTROPY_LIMIT_BITS`` (detect-secrets' ``Base64HighEntropyString`` with that limit). Its
  hex plugin is not used: request ids, trace ids and hashes are hex in most logs, and hex
  cannot exceed 4 bits a character, under the base64 limit. Its ``scan_line`` ad-hoc mode is
  not used either: it flags any high-entropy run, quoted or not (every request id).
- ``password_in_url`` — credentials in a URL's userinfo (``scheme://user:password@host``,
  deprecated by RFC 3986 §3.2.1; detect-secrets' ``BasicAuthDetector``) or a ``password=``
  (``passwd``, ``pwd``) query parameter.
- ``email`` — an address ``local@domain`` (RFC 5322 §3.4.1 addr-spec, dot-atom forms only:
  what logs carry).
- ``phone`` — a telephone number recognised by ``phonenumbers.PhoneNumberMatcher`` (Google's
  libphonenumber rules) at ``Leniency.VALID``; numbers without a ``+`` country code are read
  as numbers of ``phone_region``.

The first four are secrets (someone reading the logs can act as the user or the app); the
last two are personal data. Where one value matches several detectors (a JWT sent as a bearer
token), it is reported once, as the first kind in ``KINDS`` order; personal data inside a
secret (an address in a URL's userinfo) is not reported separately.

Plain Python (no Django); detect-secrets and phonenumbers are imported on first scan.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

MAX_LOG_BYTES = 1_048_576  # 1 MiB: a few thousand lines is a fair sample; scanning it takes ~2 s
MAX_FINDINGS = 200  # findings kept with their line; ``counts`` still counts every one
ENTROPY_LIMIT_BITS = 4.5  # detect-secrets' own default for base64 strings
MIN_ENTROPY_LENGTH = 20  # shorter quoted strings are words, ids, enum values
DEFAULT_PHONE_REGION = "US"

# Kind → words for people, in reporting priority (a value found twice is reported as the first).
KINDS = {
    "jwt": "JSON Web Token",
    "bearer_token": "bearer token",
    "password_in_url": "password in a URL",
    "api_key": "API key or secret",
    "email": "email address",
    "phone": "phone number",
}
SECRET_KINDS = ("jwt", "bearer_token", "password_in_url", "api_key")
PERSONAL_KINDS = ("email", "phone")

# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; b64token = 1*( ALPHA / DIGIT / "-" / "." /
# "_" / "~" / "+" / "/" ) *"=". At least 16 characters: a challenge ("Bearer realm=…",
# RFC 6750 §3) and prose ("Bearer token missing") stay out.
_BEARER = re.compile(r"\bBearer\s+([A-Za-z0-9\-._~+/]{16,}=*)", re.I)
# RFC 6750 §2.3: the access_token URI query parameter (and the same name in a form body dump).
_ACCESS_TOKEN = re.compile(r"[?&;](?:access_token|id_token|refresh_token)=([^&\s\"'#]{8,})", re.I)
_PASSWORD_PARAM = re.compile(r"[?&;](?:password|passwd|pwd|pass)=([^&\s\"'#]+)", re.I)
_KEY_PARAM = re.compile(
    r"[?&;](?:api[_-]?key|apikey|client_secret|secret|private[_-]?key|signature|sig)=([^&\s\"'#]{8,})",
    re.I,
)
# RFC 5322 §3.4.1 addr-spec, dot-atom form, with the atext characters real addresses use (the
# rest, "=" above all, would swallow the "email=" of a key=value log line).
_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\b"
)
_JWT_TAIL = re.compile(r"[A-Za-z0-9_\-.=]*")
# detect-secrets plugins by class name → our kind. HexHighEntropyString, KeywordDetector (it
# reads assignments in source code: noisy on log prose) and IPPublicDetector are left out.
_PLUGIN_KINDS = {
    "JwtTokenDetector": "jwt",
    "BasicAuthDetector": "password_in_url",
    **{name: "api_key" for name in (
        "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "CloudantDetector",
        "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector", "IbmCloudIamDetector",
        "IbmCosHmacDetector", "MailchimpDetector", "NpmDetector", "OpenAIDetector", "PrivateKeyDetector",
        "PypiTokenDetector", "SendGridDetector", "SlackDetector", "SoftlayerDetector",
        "SquareOAuthDetector", "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
        "Base64HighEntropyString",
    )},
}


class LogTooLarge(ValueError):
    """The sample is over ``MAX_LOG_BYTES`` (UTF-8); the message gives both sizes."""


@dataclass(frozen=True)
class LogFinding:
    """One secret or piece of personal data in the sample: its ``kind`` (a key of ``KINDS``),
    the 1-based ``line`` it is on, the ``redacted`` value (see :func:`redact`) and the
    ``detector`` that found it (a detect-secrets plugin, ``phonenumbers`` or one of our rules)."""

    kind: str
    line: int
    redacted: str
    detector: str

    @property
    def label(self) -> str:
        """The kind in words: ``"JSON Web Token"``."""
        return KINDS.get(self.kind, self.kind)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "line": self.line, "redacted": self.redacted, "detector": self.detector}


@dataclass(frozen=True)
class LogScan:
    """The result of scanning a sample: its size (``size_bytes``, UTF-8), ``lines``, every
    finding's kind counted (``counts``: ``((kind, n), …)`` in ``KINDS`` order, kinds with none
    left out) and the first ``MAX_FINDINGS`` findings in line order."""

    size_bytes: int
    lines: int
    counts: tuple[tuple[str, int], ...] = ()
    findings: tuple[LogFinding, ...] = field(default_factory=tuple)

    def count(self, *kinds: str) -> int:
        """How many findings are of ``kinds`` (all kinds when none is named)."""
        wanted = set(kinds or KINDS)
        return sum(n for kind, n in self.counts if kind in wanted)

    @property
    def secrets(self) -> int:
        return self.count(*SECRET_KINDS)

    @property
    def personal(self) -> int:
        return self.count(*PERSONAL_KINDS)

    def as_dict(self) -> dict:
        """JSON-ready: ``{size_bytes, lines, counts: {kind: n}, findings: [{kind, line, redacted,
        detector}]}`` (what the panel stores; :func:`scan_from_dict` reads it back)."""
        return {"size_bytes": self.size_bytes, "lines": self.lines, "counts": dict(self.counts),
                "findings": [f.as_dict() for f in self.findings]}


def scan_from_dict(data: dict) -> LogScan:
    """The ``LogScan`` that :meth:`LogScan.as_dict` wrote (unknown kinds are kept as given)."""
    counts = data.get("counts") or {}
    order = {kind: index for index, kind in enumerate(KINDS)}
    return LogScan(
        size_bytes=int(data.get("size_bytes") or 0),
        lines=int(data.get("lines") or 0),
        counts=tuple(sorted(((str(k), int(n)) for k, n in counts.items() if int(n)),
                            key=lambda item: order.get(item[0], len(order)))),
        findings=tuple(LogFinding(str(f["kind"]), int(f["line"]), str(f["redacted"]), str(f["detector"]))
                       for f in data.get("findings") or []),
    )


def redact(value: str, key: bytes, *, personal: bool = False) -> str:
    """``value`` as a short prefix, an ellipsis and a keyed hash: ``"sk_l…#3f2a1b9c"``.

    The prefix is at most 4 characters of a secret (key formats start with a type marker:
    ``eyJ``, ``AKIA``, ``sk_l``) or 2 of personal data, and never more than a quarter of the
    value. The hash is the first 8 hex digits of HMAC-SHA256 under ``key``: equal values get
    equal hashes within one scan, so a reader can tell one leaked token from many, but a
    phone number (about 10^10 candidates) cannot be found again by hashing them all, as it
    could from a bare SHA-256.
    """
    room = min(2 if personal else 4, len(value) // 4)
    digest = hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:8]
    return f"{value[:room]}…#{digest}"


def scan_log(text: str, *, phone_region: str | None = DEFAULT_PHONE_REGION, hash_key: bytes | None = None,
             max_bytes: int = MAX_LOG_BYTES) -> LogScan:
    """Scan ``text`` (a log sample) for secrets and personal data; see the module docstring
    for what each kind means. ``phone_region`` is the ISO 3166-1 country whose national
    numbers are recognised (``None``: only ``+``-prefixed international numbers).
    ``hash_key`` keys the redaction hash (a random key per scan by default).

    Raises ``LogTooLarge`` when ``text`` is over ``max_bytes`` UTF-8 bytes. About 2 s for 1 MiB.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise LogTooLarge(f"the log sample is {size:,} bytes; at most {max_bytes:,} are scanned")
    key = hash_key or secrets.token_bytes(16)
    lines = text.splitlines()
    found: list[tuple[int, int, int, str, str, str]] = []  # (line, start, end, kind, value, detector)
    plugins = _plugins()
    for number, line in enumerate(lines, 1):
        found.extend((number, *hit) for hit in _line_secrets(line, plugins))
        found.extend((number, *hit) for hit in _line_emails(line))
    found.extend(_phones(text, lines, phone_region))
    kept = _deduplicated(found)
    counts = Counter(kind for _, _, _, kind, _, _ in kept)
    findings = tuple(
        LogFinding(kind, number, redact(value, key, personal=kind in PERSONAL_KINDS), detector)
        for number, _, _, kind, value, detector in kept[:MAX_FINDINGS]
    )
    return LogScan(size, len(lines), tuple((k, counts[k]) for k in KINDS if counts[k]), findings)


@lru_cache(maxsize=1)
def _plugins() -> tuple:
    """One instance of each detect-secrets plugin we use (``_PLUGIN_KINDS``)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    chosen = []
    for plugin_class in get_mapping_from_secret_type_to_class().values():
        name = plugin_class.__name__
        if name not in _PLUGIN_KINDS:
            continue
        chosen.append(plugin_class(limit=ENTROPY_LIMIT_BITS) if name == "Base64HighEntropyString"
                      else plugin_class())
    return tuple(sorted(chosen, key=lambda p: type(p).__name__))


def _line_secrets(line: str, plugins) -> list[tuple[int, int, str, str, str]]:
    """``(start, end, kind, value, detector)`` of each secret in ``line``."""
    hits = []
    for pattern, kind, detector in (
        (_BEARER, "bearer_token", "RFC 6750 bearer credentials"),
        (_ACCESS_TOKEN, "bearer_token", "RFC 6750 access_token parameter"),
        (_PASSWORD_PARAM, "password_in_url", "password query parameter"),
        (_KEY_PARAM, "api_key", "key query parameter"),
    ):
        hits.extend((m.start(1), m.end(1), kind, m.group(1), detector) for m in pattern.finditer(line))
    for plugin in plugins:
        name = type(plugin).__name__
        # analyze_string yields values only (no positions, no verification, no global settings).
        for value in plugin.analyze_string(line):
            if not value:
                continue
            if name == "Base64HighEntropyString" and (
                len(value) < MIN_ENTROPY_LENGTH
                or plugin.calculate_shannon_entropy(value) <= ENTROPY_LIMIT_BITS
            ):
                continue
            start = line.find(value)
            end = start + len(value)
            if name == "JwtTokenDetector":
                # Its pattern ends lazily (header.payload. without the signature): take the
                # whole token, so the hash is the token's and the signature is covered too.
                end = _JWT_TAIL.match(line, end).end()
                value = line[start:end]
            hits.append((start, end, _PLUGIN_KINDS[name], value, name))
    return hits


def _line_emails(line: str) -> list[tuple[int, int, str, str, str]]:
    return [(m.start(), m.end(), "email", m.group(0), "RFC 5322 address") for m in _EMAIL.finditer(line)]


def _phones(text: str, lines: list[str], region: str | None) -> list[tuple[int, int, int, str, str, str]]:
    """Phone numbers of the whole ``text`` at once (one matcher pass is about three times faster
    than one per line), placed on their lines; a match spanning lines is dropped."""
    from phonenumbers import Leniency, PhoneNumberMatcher

    # Offsets of each line's start in ``text`` as splitlines() cut it.
    starts, offset = [], 0
    for line in text.splitlines(keepends=True):
        starts.append(offset)
        offset += len(line)
    hits = []
    for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID):
        if "\n" in match.raw_string or "\r" in match.raw_string:
            continue
        index = bisect.bisect_right(starts, match.start) - 1
        start = match.start - starts[index]
        if index < len(lines):
            hits.append((index + 1, start, start + len(match.raw_string), "phone", match.raw_string,
                         "phonenumbers"))
    return hits


def _deduplicated(found: list) -> list:
    """Findings in line order, each value once per line: overlapping matches keep the one of
    the highest-priority kind (``KINDS`` order), then the longest."""
    priority = {kind: index for index, kind in enumerate(KINDS)}
    kept: list = []
    by_line: dict[int, list] = {}
    for hit in sorted(found, key=lambda h: (h[0], priority[h[3]], -(h[2] - h[1]), h[1])):
        number, start, end = hit[0], hit[1], hit[2]
        taken = by_line.setdefault(number, [])
        if any(start < other_end and other_start < end for other_start, other_end in taken):
            continue
        taken.append((start, end))
        kept.append(hit)
    return sorted(kept, key=lambda h: (h[0], h[1]))
