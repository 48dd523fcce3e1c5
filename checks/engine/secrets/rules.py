"""What a credential-shaped string really is: a leak, something to review, or nothing.

detect-secrets finds strings by shape; shape alone misjudges whole kinds of strings (known
trap SECRETS-02). These rules run over its hits and a few detectors of our own:

- Documented examples and placeholders are not secrets: AWS's own example pair
  (``AKIAIOSFODNN7EXAMPLE`` / ``wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY``, AWS IAM User Guide,
  "Managing access keys") and any value containing ``EXAMPLE``, ``PLACEHOLDER``, ``REDACTED``,
  ``CHANGEME``, ``DUMMY``, a run of six ``x`` or four ``*``, or ``your_…_key``-style text;
  a whole value that is only a field's name (``password``, ``secret``, ``token`` …) or a
  template variable (``${DB_PASSWORD}``, ``{{ token }}``, ``%(password)s``).
- AWS unique IDs: only ``AKIA`` (long-term) and ``ASIA`` (temporary, STS) IDs are access key
  IDs (AWS IAM User Guide, "IAM identifiers", unique ID prefixes); ``AIDA`` user, ``AROA`` role,
  ``AIPA`` instance profile, ``AGPA`` group, ``ANPA``/``ANVA`` policy, ``APKA`` public key,
  ``ASCA`` certificate, ``ABIA``/``ACCA`` IDs are names, not credentials: no finding. An access
  key ID is only dangerous with its secret access key: an ID and a 40-character secret in one
  file are one ``AWS Access Key`` finding (leak); a secret alone is an ``AWS Secret Access
  Key`` (leak); an ID alone is a review finding.
- Private keys (RFC 7468 §2 textual encoding): a ``-----BEGIN … PRIVATE KEY-----`` header is a
  key only when a base64 body of at least ``MIN_PEM_BODY_CHARS`` characters follows it (an
  Ed25519 PKCS #8 key, the smallest in use, has 64); the value hashed is the body, so two keys
  never share a fingerprint.
- Google API keys (``AIza`` + 35 characters) are public by design in a browser app and are
  protected by HTTP-referrer/API restrictions (Google Cloud docs, "Manage API keys"; Firebase
  docs, "Learn about using and managing API keys for Firebase"): review, "verify key
  restrictions", never a leak.
- A keyword hit whose value holds whitespace is prose, not a secret: a login form's
  ``password:"Passwort eingeben"`` label in a bundle. (Real passwords can hold spaces; a
  passphrase typed into source code is rare next to the hundreds of labels a bundle has.)
- JSON Web Tokens (RFC 7519): the payload (base64url JSON, RFC 7515 §2/§7.1) is read, never
  verified. Supabase's two project keys are JWTs with a ``role`` claim (Supabase docs,
  "Understanding API Keys", https://supabase.com/docs/guides/api/api-keys, and "Securing your
  data", https://supabase.com/docs/guides/database/secure-data): ``anon`` is made for the
  browser and safe with Row Level Security on — review, "verify RLS"; ``service_role``
  bypasses Row Level Security and must never leave the server — leak, server only. Any other
  JWT stays a leak, its note saying what it is (issuer, role, expiry).
- detect-secrets' generic rules (keyword, entropy) that hit the same value as a named rule are
  dropped, and so are their hits on a line like ``secret = get_secret()`` (detect-secrets'
  ``is_indirect_reference``, kept from hiding named rules' hits, see ``detect.py``); a
  high-entropy string no rule names is for review; a public IP address is no secret.

``server_only``: keys that only ever belong on a server (Stripe ``sk_live_``/``rk_live_``, AWS
secret access keys, private keys, and vendor API secrets such as SendGrid, Twilio, Slack,
GitHub …): in a client bundle each is a blocker (issue 5, stage 3).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from detect_secrets.filters.heuristic import is_indirect_reference

from .detect import Raw
from .finding import LEAK, REVIEW, SecretFinding

MIN_PEM_BODY_CHARS = 64
MAX_PEM_SCAN_CHARS = 64_000  # a 16384-bit RSA key's PEM is ~12 KB; a body longer is not a key

_PLACEHOLDER = re.compile(
    r"example|placeholder|redacted|changeme|dummy|x{6,}|\*{4,}|^<.*>$"
    r"|your[_-]?[a-z_-]{0,20}(?:key|secret|token|password)"
    # A whole value that is only the field's own name or a template variable, as in the
    # `user:password@host` of a configuration example or `${DB_PASSWORD}`.
    r"|^(?:password|passwd|pass|secret|changeit|token|apikey|api_key)$"
    r"|^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$|^\{\{.*\}\}$|^%\(\w+\)s$", re.I)
# Literal first (a lookbehind in front would make the regex engine try every position of a
# megabyte bundle); the character before is checked in Python.
_AWS_KEY_ID = re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_AWS_OTHER_ID = re.compile(r"^(?:AIDA|AROA|AIPA|AGPA|ANPA|ANVA|APKA|ASCA|ABIA|ACCA)[A-Z0-9]{12,}$")
_AWS_SECRET = re.compile(
    r"(?i)aws[\w.-]{0,30}?['\"]?\s*[:=]\s*['\"]?(?-i:([A-Za-z0-9/+]{40}))(?![A-Za-z0-9/+=])")
_FORTY = re.compile(r"^[A-Za-z0-9/+]{40}$")
_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)?)-----")
_PEM_BODY_LINE = re.compile(r"^[A-Za-z0-9+/=]+$")
_GOOGLE_KEY = re.compile(r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")

GENERIC_RULES_ORDER = ("Secret Keyword", "Base64 High Entropy String", "Hex High Entropy String")
GENERIC_RULES = set(GENERIC_RULES_ORDER)
_REVIEW_RULES = {"Base64 High Entropy String", "Hex High Entropy String"}
_DROPPED_RULES = {"Public IP (ipv4)"}
_REPLACED_RULES = {"AWS Access Key"}  # ours below, with AKIA/ASIA only and pairing
_SERVER_ONLY_RULES = {
    "Private Key", "AWS Access Key", "AWS Secret Access Key", "Artifactory Credentials",
    "Azure Storage Account access key", "Cloudant Credentials", "Discord Bot Token",
    "GitHub Token", "GitLab Token", "IBM Cloud IAM Key", "IBM COS HMAC Credentials",
    "Mailchimp Access Key", "NPM tokens", "OpenAI Token", "PyPI Token", "SendGrid API Key",
    "Slack Token", "SoftLayer Credentials", "Square OAuth Secret", "Telegram Bot Token",
    "Twilio API Key",
}
_STRIPE_SERVER_PREFIXES = ("sk_live_", "rk_live_")  # secret and restricted live keys

NOTE_GOOGLE = ("Google API key: public by design in a browser app; verify key restrictions "
               "(HTTP referrers and APIs) in the Google Cloud console")
NOTE_AWS_ID = "AWS access key ID without its secret in this file: find where the secret is kept"
NOTE_SUPABASE_ANON = ("Supabase anon key (JWT role anon): public by design in a browser app; safe only "
                      "with Row Level Security on every exposed table: verify RLS")
NOTE_SUPABASE_SERVICE = ("Supabase service_role key (JWT role service_role): bypasses Row Level "
                         "Security; it belongs on a server only, rotate it")
JWT_RULE = "JSON Web Token"
_WHITESPACE = re.compile(r"\s")
NOTE_ENTROPY = "high-entropy string no rule names: check whether it is a secret"


@dataclass
class _Hit:
    rule: str
    offset: int
    value: str
    level: str = LEAK
    note: str = ""


def is_placeholder(value: str) -> bool:
    """True for documented examples and placeholder text (see the module's rules)."""
    return bool(_PLACEHOLDER.search(value))


def is_server_only(rule: str, value: str) -> bool:
    """True for keys that only ever belong on a server (see the module's list)."""
    if rule == "Stripe Access Key":
        return value.startswith(_STRIPE_SERVER_PREFIXES)
    if rule == JWT_RULE:
        return (jwt_claims(value) or {}).get("role") == "service_role"
    return rule in _SERVER_ONLY_RULES


def jwt_claims(token: str) -> dict | None:
    """The payload of a JWT ``header.payload.signature`` as a dict (base64url JSON, padding
    optional), not verified; ``None`` when it is not readable JSON object."""
    parts = token.split(".")
    if len(parts) < 2:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def jwt_note(claims: dict | None) -> str:
    """What a JWT is, for a person: ``"JSON Web Token (issuer auth.example.com, role admin,
    expires 2031-05-01)"``; never a claim that names a person (``sub``, ``email``)."""
    if claims is None:
        return "JSON Web Token (payload not readable)"
    said = []
    if isinstance(claims.get("iss"), str):
        issuer = claims["iss"]
        said.append(f"issuer {urlsplit(issuer).hostname or issuer[:60]}")
    if isinstance(claims.get("role"), str):
        said.append(f"role {claims['role'][:40]}")
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        try:
            said.append(f"expires {datetime.fromtimestamp(exp, UTC).date().isoformat()}")
        except (OverflowError, OSError, ValueError):
            said.append("expiry unreadable")
    else:
        said.append("no expiry")
    return f"JSON Web Token ({', '.join(said)})"


def _jwt(hit: _Hit) -> _Hit:
    """A JWT hit with its level and note from its payload (see the module's rules)."""
    claims = jwt_claims(hit.value)
    role = (claims or {}).get("role")
    if role == "anon":
        return _Hit(hit.rule, hit.offset, hit.value, REVIEW, NOTE_SUPABASE_ANON)
    if role == "service_role":
        return _Hit(hit.rule, hit.offset, hit.value, LEAK, NOTE_SUPABASE_SERVICE)
    return _Hit(hit.rule, hit.offset, hit.value, hit.level, jwt_note(claims))


def classify(text: str, name: str, raw: list[Raw]) -> list[SecretFinding]:
    """The findings of ``text`` (a file called ``name``) from detect-secrets' ``raw`` hits and
    our own detectors, by the rules above; ordered by offset."""
    starts = _line_starts(text)
    hits = [*_private_keys(text), *_google_keys(text)]
    hits += [_Hit(r.rule, r.offset, r.value) for r in raw
             if r.rule not in _DROPPED_RULES | _REPLACED_RULES
             and not (r.rule == "Private Key" and r.value.startswith("BEGIN"))
             and not (r.rule in GENERIC_RULES and _indirect(text, starts, r.offset))
             and not (r.rule == "Secret Keyword" and _WHITESPACE.search(r.value))]
    hits = [_jwt(h) if h.rule == JWT_RULE else h for h in hits]
    hits += _aws(text, raw, hits)
    hits = [h for h in hits if not is_placeholder(h.value) and not _AWS_OTHER_ID.match(h.value)]
    hits = _without_generic_duplicates(hits)
    seen: set[tuple[str, int]] = set()
    findings = []
    for hit in sorted(hits, key=lambda h: (h.offset, h.rule)):
        if (hit.rule, hit.offset) in seen:
            continue
        seen.add((hit.rule, hit.offset))
        level = REVIEW if hit.rule in _REVIEW_RULES else hit.level
        note = NOTE_ENTROPY if hit.rule in _REVIEW_RULES else hit.note
        findings.append(SecretFinding.from_value(
            hit.rule, name, bisect_right(starts, hit.offset), hit.value, level=level,
            server_only=is_server_only(hit.rule, hit.value), note=note, offset=hit.offset))
    return findings


def _indirect(text: str, starts: list[int], offset: int) -> bool:
    """detect-secrets' ``is_indirect_reference`` on the line holding ``offset`` (it skips lines
    over 1000 characters; so do we, before copying a megabyte line). ``starts``: the offsets
    where lines start."""
    number = bisect_right(starts, offset)
    start = starts[number - 1]
    end = starts[number] - 1 if number < len(starts) else len(text)
    return end - start <= 1000 and is_indirect_reference(text[start:end])


_KEY_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-")
_UPPER_DIGITS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _preceded_by(text: str, offset: int, chars: frozenset[str]) -> bool:
    return offset > 0 and text[offset - 1] in chars


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


def _private_keys(text: str) -> list[_Hit]:
    """PEM private keys with a real body: base64 lines after the header, up to the matching
    ``-----END`` line (RFC 7468 §2; RFC 1421 ``Proc-Type``/``DEK-Info`` header lines skipped)."""
    hits = []
    for match in _PEM_BEGIN.finditer(text):
        # A key inside a JSON or .env string has its line breaks written as "\\n".
        block = text[match.end():match.end() + MAX_PEM_SCAN_CHARS].replace("\\n", "\n")
        end = block.find(f"-----END {match[1]}-----")
        body = "".join(
            line.strip() for line in (block if end < 0 else block[:end]).splitlines()
            if ":" not in line and _PEM_BODY_LINE.match(line.strip() or "-")
        )
        if len(body) >= MIN_PEM_BODY_CHARS:
            hits.append(_Hit("Private Key", match.start(), body))
    return hits


def _google_keys(text: str) -> list[_Hit]:
    return [_Hit("Google API Key", m.start(), m[0], REVIEW, NOTE_GOOGLE) for m in _GOOGLE_KEY.finditer(text)
            if not _preceded_by(text, m.start(), _KEY_CHARS)]


def _aws(text: str, raw: list[Raw], hits: list[_Hit]) -> list[_Hit]:
    """Access key IDs (AKIA/ASIA) and secret access keys (40 characters after an ``aws…``
    name, or detect-secrets' AWS secret hits, or — when the file holds a key ID — any other
    hit of exactly 40 such characters), paired: one finding per secret."""
    ids = [(m.start(), m[0]) for m in _AWS_KEY_ID.finditer(text)
           if not is_placeholder(m[0]) and not _preceded_by(text, m.start(), _UPPER_DIGITS)]
    secrets = {m.start(1): m[1] for m in _AWS_SECRET.finditer(text)}
    for r in raw:
        if r.rule == "AWS Access Key" and _FORTY.match(r.value):
            secrets.setdefault(r.offset, r.value)
    if ids:
        for hit in hits:
            if hit.rule in GENERIC_RULES and _FORTY.match(hit.value):
                secrets.setdefault(hit.offset, hit.value)
    secrets = {o: v for o, v in secrets.items() if not is_placeholder(v)}
    out: list[_Hit] = []
    for offset, secret in sorted(secrets.items()):
        if ids:
            nearest = min(ids, key=lambda i: abs(i[0] - offset))[1]
            out.append(_Hit("AWS Access Key", offset, f"{nearest}:{secret}"))
        else:
            out.append(_Hit("AWS Secret Access Key", offset, secret))
    if not secrets:
        out += [_Hit("AWS Access Key ID", o, v, REVIEW, NOTE_AWS_ID) for o, v in ids]
    return out


def _without_generic_duplicates(hits: list[_Hit]) -> list[_Hit]:
    """Generic hits (keyword, entropy) whose value overlaps a named rule's value are dropped:
    the named rule says more (an AWS pair's value is ``id:secret``, so both parts overlap).
    Of generic hits on one value, the first of ``GENERIC_RULES_ORDER`` stays."""
    named = [h.value for h in hits if h.rule not in GENERIC_RULES]
    parts = {p for v in named for p in v.split(":")} | set(named)

    def overlaps(value: str) -> bool:
        return any(value in p or p in value for p in parts)

    kept = [h for h in hits if h.rule not in GENERIC_RULES]
    generic: dict[tuple[str, int], _Hit] = {}
    for hit in sorted((h for h in hits if h.rule in GENERIC_RULES),
                      key=lambda h: GENERIC_RULES_ORDER.index(h.rule)):
        if not overlaps(hit.value):
            generic.setdefault((hit.value, hit.offset), hit)
    return kept + list(generic.values())
