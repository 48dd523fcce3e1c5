"""DKIM key records at ``<selector>._domainkey.<domain>`` (RFC 6376 §3.6.1), judged one by one.

Reading a record: the character-strings of one TXT RR are joined with nothing between them
(RFC 6376 §3.6.2.2), then read as a tag=value list (RFC 6376 §3.2) by dkimpy's
``dkim.util.parse_tag_value`` — the parser of dkimpy's own verifier, so what we accept is what
a dkimpy verifier accepts. Keys are decoded with ``cryptography``. A CNAME at the key's name
(provider-hosted keys) is followed by the query itself; ``DnsAnswer.cname_chain`` keeps it.

The rules, for one record:
- ``v`` is optional; when present it must be ``DKIM1`` and the first tag, or verifiers discard
  the record (§3.6.1).
- ``k`` is ``rsa`` (the default) or ``ed25519`` (RFC 8463 §4.2); a key the verifier cannot
  use with the signature's algorithm is a PERMFAIL (RFC 6376 §6.1.2).
- ``h``, when present, must allow ``sha256``: rsa-sha1 must not be used to sign or verify
  (RFC 8301 §3.1).
- ``s``, when present, must include ``email`` or ``*`` (§3.6.1).
- ``p`` is required; empty means the key was revoked (§3.6.1). RSA: DER SubjectPublicKeyInfo
  (a bare RSAPublicKey is read too, as dkimpy does). Under 1024 bits verifiers must not
  accept the signatures (RFC 8301 §3.2): fail; signers should use 2048 bits or more
  (RFC 8301 §3.2): under that, warn. Ed25519: the raw 32-byte key, base64 (RFC 8463 §4.2).
- ``t=y``: testing; verifiers must not treat the mail differently from unsigned mail (§3.6.1):
  warn.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

import dkim.util
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from checks.engine.email.findings import Finding, headline, worst
from checks.engine.net.dns import DnsAnswer, DnsClient, describe_failure
from checks.engine.parallel import parallel_map
from checks.engine.result import Result, Status

MIN_RSA_BITS = 1024   # RFC 8301 §3.2: verifiers MUST NOT accept smaller keys
GOOD_RSA_BITS = 2048  # RFC 8301 §3.2: signers SHOULD use at least this
ED25519_KEY_BYTES = 32  # RFC 8463 §4.2 (RFC 8032 §5.1.5)
LOOKUP_WORKERS = 8  # selectors asked at the same time: the check costs about one round trip

# Selectors the usual providers publish, tried on every domain besides the configured ones.
# Checked against each provider's setup documentation:
# - Google Workspace: "google" unless the admin typed another prefix.
# - Microsoft 365: "selector1" and "selector2", CNAMEs into the tenant's onmicrosoft.com.
# - Mailchimp: "k1" (CNAME to dkim.mcsv.net); newer domains "k2" and "k3".
# - Mailchimp Transactional (Mandrill): "mte1" and "mte2" (CNAMEs to dkim1/dkim2.mandrillapp.com);
#   older domains the TXT key "mandrill".
# - SendGrid: "s1" and "s2" (automated security CNAMEs); "smtpapi" without automated security.
# - Mailgun: "pdk1" and "pdk2" (automatic sender security CNAMEs); "k1" for manual keys, "mx"
#   on older domains.
# Not guessable, so they must be configured: Postmark gives each domain its own dated selector
# ("20240101123456pm"), and Amazon SES Easy DKIM publishes three random 32-character tokens
# (CNAMEs to <token>.dkim.amazonses.com). "amazonses" is not a DKIM selector: _amazonses.<domain>
# was SES's old domain-verification TXT record.
PROVIDER_SELECTORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Google Workspace", ("google",)),
    ("Microsoft 365", ("selector1", "selector2")),
    ("Mailchimp", ("k1", "k2", "k3")),
    ("Mailchimp Transactional", ("mte1", "mte2", "mandrill")),
    ("SendGrid", ("s1", "s2", "smtpapi")),
    ("Mailgun", ("pdk1", "pdk2", "k1", "mx")),
)
UNGUESSABLE = "Postmark and Amazon SES selectors cannot be guessed: add them to the project"

_SPACE = re.compile(r"\s+")


def provider_selectors() -> list[str]:
    """Every selector of ``PROVIDER_SELECTORS``, in table order, without repeats."""
    return list(dict.fromkeys(s for _, selectors in PROVIDER_SELECTORS for s in selectors))


@dataclass
class KeyRecord:
    """One TXT RR at a key's name, read: ``text`` the joined strings; ``tags`` its tag=value
    list (``{}`` when it does not parse); ``key_type`` ``rsa`` / ``ed25519`` when the key could
    be decoded; ``key_bits`` its size (256 for Ed25519); ``findings`` what is wrong with it."""

    text: str
    tags: dict[str, str] = field(default_factory=dict)
    key_type: str | None = None
    key_bits: int | None = None
    revoked: bool = False
    testing: bool = False
    findings: list[Finding] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """True when a verifier can check signatures with this key (testing or not)."""
        return self.key_type is not None and not any(f.status is Status.FAIL for f in self.findings)

    @property
    def too_small(self) -> bool:
        """An RSA key under ``MIN_RSA_BITS``: useless to verifiers, and open to whoever
        factors it and signs mail as the domain with it, whichever selector it sits under."""
        return self.key_type == "rsa" and (self.key_bits or 0) < MIN_RSA_BITS

    @property
    def status(self) -> Status:
        return worst(self.findings)

    def describe(self) -> str:
        """``rsa 2048 bits`` / ``ed25519`` / ``revoked`` / ``unusable``."""
        if self.revoked:
            return "revoked"
        if self.key_type == "ed25519":
            return "ed25519"
        if self.key_type == "rsa":
            return f"rsa {self.key_bits} bits"
        return "unusable"

    def as_evidence(self) -> dict:
        return {
            "record": self.text,
            "tags": self.tags,
            "key_type": self.key_type,
            "key_bits": self.key_bits,
            "revoked": self.revoked,
            "testing": self.testing,
            "status": str(self.status),
            "findings": [f.as_evidence() for f in self.findings],
        }


def parse_tags(text: str) -> dict[str, str]:
    """A tag=value list (RFC 6376 §3.2) as ``{tag: value}`` in the record's order, read by
    dkimpy's ``dkim.util.parse_tag_value``. Raises ``ValueError`` saying what is wrong: a part
    that is not ``tag=value``, or a tag given twice."""
    try:
        raw = dkim.util.parse_tag_value(text.encode("utf-8", "surrogateescape"))
    except dkim.util.DuplicateTag as exc:
        raise ValueError(f"tag {_text(exc.args[0])} appears twice") from None
    except dkim.util.InvalidTagValueList as exc:
        part = _text(exc.args[0]).strip() if exc.args else ""
        raise ValueError(f"{part!r} is not tag=value") from None
    return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_key_record(text: str) -> KeyRecord:
    """Read one key record (the joined TXT strings) against the rules of the module docstring.

    Never raises: a record that cannot be read is a ``KeyRecord`` with a FAIL finding.
    """
    record = KeyRecord(text)
    try:
        tags = parse_tags(text)
    except ValueError as exc:
        record.findings.append(Finding(Status.FAIL, f"not a tag=value list (RFC 6376 §3.2): {exc}"))
        return record
    record.tags = tags
    problem = _tag_problem(tags)
    if problem:
        record.findings.append(Finding(Status.FAIL, problem))
        return record
    record.testing = "y" in _list(tags.get("t", ""))
    if record.testing:
        record.findings.append(Finding(
            Status.WARN, "testing mode (t=y): receivers treat the mail as unsigned (RFC 6376 §3.6.1)",
        ))
    _read_key(record, tags.get("k", "rsa").lower(), _SPACE.sub("", tags["p"]))
    return record


def _tag_problem(tags: dict[str, str]) -> str | None:
    """Why verifiers would not use this record at all, or ``None``."""
    if "v" in tags and (next(iter(tags)) != "v" or tags["v"] != "DKIM1"):
        return "v= must be DKIM1 and the first tag, or verifiers discard the record (RFC 6376 §3.6.1)"
    key_type = tags.get("k", "rsa").lower()
    if key_type not in ("rsa", "ed25519"):
        return f"unknown key type k={tags['k']}: verifiers cannot use it (RFC 6376 §6.1.2)"
    if "h" in tags and "sha256" not in _list(tags["h"].lower()):
        return f"h={tags['h']} allows no sha256: rsa-sha1 is refused by verifiers (RFC 8301 §3.1)"
    if "s" in tags and not {"*", "email"} & set(_list(tags["s"].lower())):
        return f"s={tags['s']}: the key is not for email (RFC 6376 §3.6.1)"
    if "p" not in tags:
        return "no p= tag: the public key is required (RFC 6376 §3.6.1)"
    return None


def _read_key(record: KeyRecord, key_type: str, data: str) -> None:
    if not data:
        record.revoked = True
        record.findings.append(Finding(Status.FAIL, "key revoked (empty p=, RFC 6376 §3.6.1)"))
        return
    try:
        der = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        record.findings.append(Finding(Status.FAIL, "p= is not base64 (RFC 6376 §3.6.1)"))
        return
    if key_type == "ed25519":
        _read_ed25519(record, der)
    else:
        _read_rsa(record, der)


def _read_ed25519(record: KeyRecord, der: bytes) -> None:
    if len(der) != ED25519_KEY_BYTES:
        record.findings.append(Finding(
            Status.FAIL, f"p= holds {len(der)} bytes, not a 32-byte Ed25519 public key (RFC 8463 §4.2)",
        ))
        return
    record.key_type, record.key_bits = "ed25519", 256


def _read_rsa(record: KeyRecord, der: bytes) -> None:
    try:
        key = load_der_public_key(der)
    except (ValueError, TypeError):
        record.findings.append(Finding(
            Status.FAIL, "p= is not a public key (neither SubjectPublicKeyInfo nor RSAPublicKey DER)",
        ))
        return
    if not isinstance(key, rsa.RSAPublicKey):
        kind = "an EC" if isinstance(key, ec.EllipticCurvePublicKey) else f"a {type(key).__name__}"
        record.findings.append(Finding(Status.FAIL, f"p= is {kind} key, not an RSA key (k=rsa)"))
        return
    record.key_type, record.key_bits = "rsa", key.key_size
    if key.key_size < MIN_RSA_BITS:
        record.findings.append(Finding(
            Status.FAIL, f"RSA key of {key.key_size} bits: receivers reject signatures under "
            f"{MIN_RSA_BITS} bits and such a key can be factored (RFC 8301 §3.2)",
        ))
    elif key.key_size < GOOD_RSA_BITS:
        record.findings.append(Finding(
            Status.WARN, f"RSA key of {key.key_size} bits: use {GOOD_RSA_BITS} bits or more (RFC 8301 §3.2)",
        ))


def _list(value: str) -> list[str]:
    """A colon-separated tag value (``h=sha1:sha256``, ``t=y:s``) as stripped items."""
    return [item.strip() for item in value.split(":") if item.strip()]


@dataclass
class SelectorLookup:
    """What one selector gave: the query, and each TXT RR there read as a key record.

    ``configured`` is True for a selector the project names (the client says it signs with
    it), False for a provider selector tried in case."""

    selector: str
    name: str
    configured: bool
    answer: DnsAnswer
    records: list[KeyRecord] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.records)

    @property
    def dangling(self) -> bool:
        """A CNAME whose target does not exist: a key delegated to a provider that has none."""
        return self.answer.rcode == "NXDOMAIN" and bool(self.answer.cname_chain)

    def as_evidence(self) -> dict:
        return {
            "selector": self.selector,
            "name": self.name,
            "configured": self.configured,
            "found": self.found,
            "cname_chain": self.answer.cname_chain,
            "rcode": self.answer.rcode,
            "keys": [r.as_evidence() for r in self.records],
        }


def lookup_selectors(dns: DnsClient, domain: str, configured: list[str]) -> list[SelectorLookup]:
    """Ask for the key record of each configured selector, then of each provider selector not
    configured, at the same time; results in that order."""
    wanted = [(s, True) for s in configured]
    wanted += [(s, False) for s in provider_selectors() if s not in configured]

    def one(item: tuple[str, bool]) -> SelectorLookup:
        selector, is_configured = item
        name = f"{selector}._domainkey.{domain}"
        answer = dns.query(name, "TXT")
        lookup = SelectorLookup(selector, name, is_configured, answer)
        if answer.answered and answer.rcode == "NOERROR":
            lookup.records = [read_key_record(text) for text in answer.texts]
        return lookup

    return parallel_map(one, wanted, max_workers=LOOKUP_WORKERS, name="dkim")


def judge_dkim(domain: str, lookups: list[SelectorLookup]) -> Result:
    """The verdict on ``domain``'s DKIM keys from its selector lookups.

    - fail: no key at any selector ("no DKIM key found at selectors …", every selector asked
      listed); keys found but none a verifier can use; a configured selector without a
      usable key (absent, revoked, unreadable, a CNAME to nothing); an RSA key under 1024
      bits anywhere (anyone who factors it can sign as the domain).
    - warn: an RSA key of 1024-2047 bits; only Ed25519 keys (many receivers verify RSA only,
      so signers sign with both); a usable key in testing mode (t=y); several key
      records under one selector (verifiers may pick any, RFC 6376 §3.6.2.2); an unusable
      record or a CNAME to nothing under a provider selector while a usable key exists
      elsewhere (a revoked key there is how rotation ends, so it is only listed).
    - error: a selector's query failed (SERVFAIL, timeout) and nothing above failed.
    - pass: at least one usable key and nothing above.
    """
    usable = [(lk, rec) for lk in lookups for rec in lk.records if rec.usable]
    answered = all(lk.answer.answered for lk in lookups)
    # When no selector has a key, one finding says so for all of them, configured ones too.
    name_missing = not answered or any(lk.found for lk in lookups)
    findings: list[Finding] = []
    for lk in lookups:
        # A provider selector's record counts in full only when it is all there is; while a
        # selector is unanswered, a usable key may yet sit there.
        strict = lk.configured or (not usable and answered)
        findings += _selector_findings(lk, strict=strict, name_missing=name_missing)
    if usable and all(rec.key_type == "ed25519" for _, rec in usable):
        findings.append(Finding(
            Status.WARN, "only Ed25519 keys: many receivers (Gmail among them) verify RSA signatures "
            "only and treat mail signed with Ed25519 alone as unsigned; sign with an RSA key too",
        ))
    asked = [lk.selector for lk in lookups]
    if not usable and answered:
        if any(lk.found for lk in lookups):
            findings.insert(0, Finding(Status.FAIL, f"no usable DKIM key for {domain}"))
        else:
            findings.insert(0, Finding(
                Status.FAIL, f"no DKIM key found at selectors {', '.join(asked)} of {domain}",
            ))
    evidence = {
        "domain": domain,
        "selectors_asked": asked,
        "configured_selectors": [lk.selector for lk in lookups if lk.configured],
        "keys_found": [lk.selector for lk in lookups if lk.found],
        "selectors": [lk.as_evidence() for lk in lookups],
        "findings": [f.as_evidence() for f in findings],
    }
    metrics = {"selectors_asked": len(lookups), "keys_found": sum(len(lk.records) for lk in lookups)}
    rsa_bits = [rec.key_bits for lk in lookups for rec in lk.records if rec.key_type == "rsa"]
    if rsa_bits:
        metrics["min_rsa_bits"] = min(rsa_bits)
    status = worst(findings)
    if status is Status.PASS:
        return Result.passed(_found_summary(domain, usable), evidence, metrics=metrics)
    summary = headline(findings)
    if status is Status.ERROR:
        return Result.error(f"could not test: {summary}", evidence, metrics=metrics)
    return Result(status, summary, evidence, _remediation(domain, lookups, usable), metrics)


def _selector_findings(lk: SelectorLookup, *, strict: bool, name_missing: bool) -> list[Finding]:
    """Findings for one selector, prefixed with it. ``strict``: the selector is configured,
    or no usable key exists anywhere, so whatever stands here is what mail is judged by.
    ``name_missing``: report a configured selector without a record by name."""
    if not lk.answer.answered:
        return [Finding(Status.ERROR, describe_failure(lk.name, [lk.answer]))]
    if not lk.found:
        if lk.dangling:
            text = f"{lk.name} is a CNAME to {lk.answer.cname_chain[-1]}, which does not exist"
            return [Finding(Status.FAIL if strict else Status.WARN, f"{lk.selector}: {text}")]
        if lk.configured and name_missing:
            return [Finding(Status.FAIL, f"{lk.selector}: no key at {lk.name}")]
        return []
    findings = []
    if len(lk.records) > 1:
        findings.append(Finding(
            Status.WARN, f"{lk.selector}: {len(lk.records)} key records at {lk.name}; "
            "verifiers may use any one of them (RFC 6376 §3.6.2.2)",
        ))
    for record in lk.records:
        for finding in record.findings:
            status = finding.status
            if status is Status.FAIL and not strict and not record.too_small:
                if record.revoked:
                    continue  # an old key revoked: rotation done right
                status = Status.WARN
            findings.append(Finding(status, f"{lk.selector}: {finding.text}"))
    return findings


def _found_summary(domain: str, usable: list[tuple[SelectorLookup, KeyRecord]]) -> str:
    parts = []
    for lk, record in usable:
        via = f", CNAME to {lk.answer.cname_chain[-1]}" if lk.answer.cname_chain else ""
        parts.append(f"{lk.selector} ({record.describe()}{via})")
    noun = "key" if len(parts) == 1 else "keys"
    return f"DKIM {noun} of {domain}: {', '.join(parts)}"


def _remediation(domain: str, lookups: list[SelectorLookup], usable: list) -> str:
    if not any(lk.found for lk in lookups):
        return (
            f"Turn on DKIM signing at your mail provider and publish the key record it gives you "
            f"(a TXT or CNAME at <selector>._domainkey.{domain}); add the selector to the project "
            f"so the audit checks it. {UNGUESSABLE}."
        )
    records = [(lk, rec) for lk in lookups for rec in lk.records]
    steps = []
    weak = any(rec.key_type == "rsa" and (rec.key_bits or 0) < GOOD_RSA_BITS for _, rec in records)
    configured_broken = any(
        lk.configured and not (lk.found and all(rec.usable for rec in lk.records)) for lk in lookups
    )
    if not usable or weak or configured_broken:
        steps.append(
            "Have the provider generate a 2048-bit RSA key under a new selector, publish it, switch "
            "signing to it, then revoke the old key by publishing its selector with an empty p="
        )
    if any(not rec.usable and not rec.revoked and not rec.too_small for _, rec in records):
        steps.append("Fix or remove the key records that verifiers cannot use")
    if any(rec.testing for _, rec in records):
        steps.append("Remove t=y from the key record once signing is verified")
    if any(lk.dangling for lk in lookups):
        steps.append("Finish the DKIM setup at the provider the CNAME points to, or remove the CNAME")
    if usable and all(rec.key_type == "ed25519" for _, rec in usable):
        steps.append("Sign with a 2048-bit RSA key as well, under a selector of its own")
    if any(len(lk.records) > 1 for lk in lookups):
        steps.append("Keep one key record per selector")
    return ". ".join(steps) + "." if steps else ""
