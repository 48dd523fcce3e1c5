"""A captured message judged as a receiver judges it: DKIM, SPF and DMARC alignment.

- DKIM (RFC 6376 §6): every ``DKIM-Signature`` verified by dkimpy, its key fetched through
  our ``DnsClient`` (so the sandbox, the outbound policy and the audit's memo apply). A key
  that cannot be fetched because DNS failed is ``temperror`` (§6.1.2 TEMPFAIL); a missing,
  revoked or too small key or a signature that does not match is ``fail`` (PERMFAIL).
- SPF (RFC 7208 §2.4): check_host() for the connecting address and the envelope sender (the
  HELO identity for a null reverse-path), by our own evaluator (``spf.py``).
- DMARC (RFC 7489 §3.1, §4.2; DMARCbis keeps both rules): the message passes when a DKIM
  signature passes with a ``d=`` aligned with the From domain, or SPF passes for an envelope
  domain aligned with it. Relaxed alignment (the default, ``adkim=r``/``aspf=r``) compares
  organisational domains (Public Suffix List); strict compares the names themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

import dkim

from checks.engine.email.dkim import KeyRecord, read_key_record
from checks.engine.email.dmarc import discover, organisational_domain, read_policy
from checks.engine.email.mailbox import CapturedMessage
from checks.engine.email.spf import check_mail_from
from checks.engine.email.spf_records import SpfResult
from checks.engine.net.dns import DnsClient
from checks.engine.text import printable

MAX_SIGNATURES = 5  # more is not a real sender's message; verifying each costs a DNS lookup
MAX_HEADERS = 60
MAX_HEADER_CHARS = 1000
MAX_NAME_CHARS = 253  # a DNS name's length (RFC 1035 §2.3.4): d= and s= are kept no longer
MAX_REASON_CHARS = 300


@dataclass
class DkimSignature:
    """One signature's verification: ``result`` is ``pass``, ``fail`` or ``temperror``;
    ``domain`` and ``selector`` its ``d=`` and ``s=``; ``key_bits`` the key's size when read;
    ``reason`` why it did not pass."""

    domain: str
    selector: str
    result: str
    reason: str = ""
    key_bits: int | None = None

    def as_evidence(self) -> dict:
        return {"d": self.domain, "s": self.selector, "result": self.result, "reason": self.reason,
                "key_bits": self.key_bits}


@dataclass
class Alignment:
    """The DMARC verdict on one message. ``policy_domain`` is where the record was found
    (``None``: no record, so receivers apply no DMARC policy); ``adkim``/``aspf`` the modes used;
    ``dkim_aligned`` the ``d=`` of an aligned passing signature; ``spf_aligned`` whether SPF
    passed for an aligned envelope domain; ``result`` ``pass`` or ``fail``."""

    from_domain: str
    policy_domain: str | None
    policy: str | None
    adkim: str
    aspf: str
    dkim_aligned: str | None
    spf_aligned: bool

    @property
    def result(self) -> str:
        return "pass" if self.dkim_aligned or self.spf_aligned else "fail"

    def as_evidence(self) -> dict:
        return {"from_domain": self.from_domain, "policy_domain": self.policy_domain, "p": self.policy,
                "adkim": self.adkim, "aspf": self.aspf, "dkim_aligned": self.dkim_aligned,
                "spf_aligned": self.spf_aligned, "result": self.result}


@dataclass
class ReceivedReport:
    """Everything the receiving side learned about one message."""

    message: CapturedMessage
    from_domain: str
    spf_domain: str
    spf_result: str
    spf_summary: str
    signatures: list[DkimSignature] = field(default_factory=list)
    alignment: Alignment | None = None
    headers: list[list[str]] = field(default_factory=list)

    @property
    def dkim_result(self) -> str:
        """``pass`` when any signature passed; else ``temperror`` if one could not be checked;
        ``fail`` when signatures exist and none passed; ``none`` when unsigned."""
        results = {s.result for s in self.signatures}
        for result in ("pass", "temperror", "fail"):
            if result in results:
                return result
        return "none"

    def as_evidence(self) -> dict:
        return {
            "peer_ip": self.message.peer_ip, "helo": self.message.helo, "mail_from": self.message.mail_from,
            "from_domain": self.from_domain,
            "spf": {"domain": self.spf_domain, "result": self.spf_result, "summary": self.spf_summary},
            "dkim": {"result": self.dkim_result, "signatures": [s.as_evidence() for s in self.signatures]},
            "dmarc": self.alignment.as_evidence() if self.alignment else None,
            "headers": self.headers,
        }


def judge_received(dns_client: DnsClient, message: CapturedMessage) -> ReceivedReport:
    """DKIM, SPF and DMARC of ``message`` as its receiver sees them; never raises."""
    parsed = BytesHeaderParser(policy=compat32).parsebytes(message.data)
    from_domain = header_from_domain(parsed.get_all("From") or [])
    helo = message.helo or "unknown"
    spf = check_mail_from(dns_client, message.peer_ip, message.mail_from, helo)
    report = ReceivedReport(
        message=message, from_domain=from_domain, spf_domain=spf.domain,
        spf_result=str(spf.result), spf_summary=spf.summary,
        signatures=verify_signatures(dns_client, message.data, len(parsed.get_all("DKIM-Signature") or [])),
        headers=[[name, printable(" ".join(str(value).split()))[:MAX_HEADER_CHARS]]
                 for name, value in parsed.items()[:MAX_HEADERS]],
    )
    if from_domain:
        report.alignment = align(dns_client, from_domain, report.signatures,
                                 spf.domain if spf.result is SpfResult.PASS else None)
    return report


def header_from_domain(values: list[str]) -> str:
    """The domain of the one RFC5322.From address (RFC 7489 §6.6.1); ``""`` when there is
    none or several (such a message fails DMARC)."""
    addresses = [address for _, address in getaddresses([str(v) for v in values]) if "@" in address]
    if len(addresses) != 1:
        return ""
    return addresses[0].rpartition("@")[2].lower().rstrip(".")


def verify_signatures(dns_client: DnsClient, data: bytes, count: int) -> list[DkimSignature]:
    """Each of the first ``count`` DKIM signatures of ``data`` (at most ``MAX_SIGNATURES``)."""
    return [_verify_one(dns_client, data, index) for index in range(min(count, MAX_SIGNATURES))]


def _verify_one(dns_client: DnsClient, data: bytes, index: int) -> DkimSignature:
    log = _Collector()
    dns_failures: list[str] = []
    keys: list[KeyRecord] = []

    def txt(name: bytes, timeout: float = 5) -> bytes | None:
        text = name.decode("ascii", "replace").rstrip(".")
        if not _queryable(text):
            return None  # no such key can exist: PERMFAIL (RFC 6376 §6.1.2), not a DNS failure
        answer = dns_client.query(text, "TXT")
        if not answer.answered:
            dns_failures.append(f"{answer.name}: {answer.error or answer.rcode}")
            raise dkim.DnsTimeoutError(dns_failures[-1])
        texts = answer.texts
        keys.extend(read_key_record(t) for t in texts[:1])
        return texts[0].encode("utf-8", "replace") if texts else None

    verifier = dkim.DKIM(data, logger=log.logger, minkey=1024)
    try:
        passed = verifier.verify(idx=index, dnsfunc=txt)
        reason = log.last() or "the signature does not match the message"
    except dkim.DKIMException as exc:  # a body hash mismatch, an unreadable signature header
        passed, reason = False, str(exc)
    domain = _ascii(getattr(verifier, "domain", b""))[:MAX_NAME_CHARS]
    selector = _ascii(getattr(verifier, "selector", b""))[:MAX_NAME_CHARS]
    key_bits = getattr(verifier, "keysize", None)
    if passed:
        return DkimSignature(domain, selector, "pass", key_bits=key_bits)
    if dns_failures:
        reason = f"DNS failed: {dns_failures[-1]}"
        return DkimSignature(domain, selector, "temperror", reason[:MAX_REASON_CHARS])
    if keys and keys[0].revoked:
        reason = "the key is revoked (empty p=, RFC 6376 §3.6.1)"
    return DkimSignature(domain, selector, "fail", printable(reason)[:MAX_REASON_CHARS], key_bits)


def align(dns_client: DnsClient, from_domain: str, signatures: list[DkimSignature],
          spf_pass_domain: str | None) -> Alignment:
    """The DMARC verdict for a From domain: its record's ``adkim``/``aspf`` (default relaxed)
    applied to the passing signatures and to the SPF-passing envelope domain."""
    found = discover(dns_client, from_domain)
    tags = read_policy(found.records[0]).tags if len(found.records) == 1 else {}
    adkim, aspf = tags.get("adkim", "r").lower(), tags.get("aspf", "r").lower()
    aligned_dkim = next(
        (s.domain for s in signatures if s.result == "pass" and aligned(s.domain, from_domain, adkim)), None
    )
    return Alignment(
        from_domain=from_domain, policy_domain=found.found_at, policy=tags.get("p"),
        adkim=adkim, aspf=aspf, dkim_aligned=aligned_dkim,
        spf_aligned=bool(spf_pass_domain) and aligned(spf_pass_domain, from_domain, aspf),
    )


def aligned(domain: str, from_domain: str, mode: str) -> bool:
    """Identifier alignment (RFC 7489 §3.1.1, §3.1.2): strict (``s``) needs the same name,
    relaxed (``r``) the same organisational domain."""
    a, b = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not a or not b:
        return False
    if mode == "s":
        return a == b
    return organisational_domain(a) == organisational_domain(b)


class _Collector(logging.Handler):
    """Keeps what dkimpy logs about a verification, to say why a signature failed."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []
        self.logger = logging.Logger("launchready.dkim")  # not registered: nothing reaches the app's logs
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def last(self) -> str:
        return self.messages[-1] if self.messages else ""


def _queryable(name: str) -> bool:
    """True for a name DNS can hold: 1–63 octet labels of printable ASCII, 253 octets at most."""
    labels = name.split(".")
    return (0 < len(name) <= MAX_NAME_CHARS and all(0 < len(label) <= 63 for label in labels)
            and name.isascii() and name.isprintable() and "\ufffd" not in name)


def _ascii(value: bytes | str) -> str:
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    return text.lower().rstrip(".")
