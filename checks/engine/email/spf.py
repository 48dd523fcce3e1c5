"""SPF evaluation (RFC 7208): a domain's record, and check_host() for a sending address.

Our own evaluator on ``DnsClient`` (so the sandbox, the outbound policy and the per-audit memo
apply to every query). pyspf, the reference implementation the RFC 7208 test suite comes
from, was tried first: its DNS layer can be replaced, but it counts void lookups per DNS
query instead of per term (an ``mx`` whose three hosts have no address is three voids and a
permerror for it, one void for §4.6.4), reports an include loop only as "too many DNS
lookups", stops at the first match or at the 11th lookup (so an audit cannot learn a
record's lookup count), and keeps no include tree. checkdmarc has no check_host() at all.

Two readings of a record:
- ``check_host(dns, ip, domain, sender, helo)``: §4–§6 as a receiver evaluates it for one
  address: pass, fail, softfail, neutral, none, permerror or temperror, with the exp=
  explanation of a fail.
- ``walk_record(dns, domain)``: the audit's reading. Every term is evaluated as for an address
  no mechanism matches (the worst case for the limits), ``a`` asks for A and AAAA, and the
  lookups are counted past the limits so the evidence can say "13 lookups", not "more than 10".

Limits (§4.6.4): at most 10 terms that query DNS (include, a, mx, ptr, exists, redirect); at
most 2 void lookups, counted per term (a term whose lookups found no records, NOERROR-nodata or
NXDOMAIN; ``a`` asking A and AAAA is still one term); an ``mx`` with more than 10 MX records is
a permerror; a ``ptr`` or %{p} checks the first 10 PTR names only. exp= lookups count toward
neither limit (§4.6.4). An include or redirect back to a record already being evaluated is a
loop, reported as such (a permerror that the lookup limit would reach anyway).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from checks.engine.email.spf_macro import MacroContext, expand_domain, expand_explanation, uses_ip_macros
from checks.engine.email.spf_records import (
    MAX_DNS_LOOKUPS,
    MAX_MX_RECORDS,
    MAX_PTR_NAMES,
    MAX_VOID_LOOKUPS,
    WALK_LOOKUP_CAP,
    IpAddress,
    PermError,
    RecordLookup,
    SpfNode,
    SpfOutcome,
    SpfResult,
    TempError,
    failure,
    is_queryable,
    is_valid_domain,
    lookup_record,
    mx_hosts,
)
from checks.engine.email.spf_syntax import Mechanism, SpfRecord, SpfSyntaxError, parse_record
from checks.engine.net.dns import DnsAnswer, DnsClient

__all__ = [
    "PermError", "SpfNode", "SpfOutcome", "SpfResult", "TempError", "check_host", "check_mail_from",
    "lookup_record", "walk_record",
]


def check_host(
    dns_client: DnsClient, ip: str | IpAddress, domain: str, sender: str, helo: str = ""
) -> SpfOutcome:
    """check_host(<ip>, <domain>, <sender>) of RFC 7208 §4 for one address.

    ``sender`` is the MAIL FROM (or ``postmaster@<helo>``); without a local-part "postmaster" is
    used (§4.3). An IPv4-mapped IPv6 address is treated as IPv4 (§5). Raises ``ValueError``
    for an ``ip`` that is not an address.
    """
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return _Evaluation(dns_client, address, _with_local_part(sender), helo).run(domain)


def check_mail_from(dns_client: DnsClient, ip: str | IpAddress, mail_from: str, helo: str) -> SpfOutcome:
    """The SPF result of a message's MAIL FROM (§2.4): its domain, or, for a null reverse-path,
    the HELO identity ``postmaster@<helo>`` (§2.3)."""
    sender = mail_from if mail_from else f"postmaster@{helo}"
    return check_host(dns_client, ip, sender.rpartition("@")[2], sender, helo)


def walk_record(dns_client: DnsClient, domain: str) -> SpfOutcome:
    """The audit's reading of ``domain``'s record: every term evaluated for an address that no
    mechanism matches, lookups counted past the limits (up to ``WALK_LOOKUP_CAP``), the whole
    include tree kept. The result is what such an address gets (or permerror / temperror)."""
    return _Evaluation(dns_client, None, f"postmaster@{domain}", domain).run(domain)


def _with_local_part(sender: str) -> str:
    local, at, domain = sender.rpartition("@")
    if not at:
        return f"postmaster@{sender}"
    return sender if local else f"postmaster@{domain}"


@dataclass
class _Verdict:
    result: SpfResult
    mechanism: Mechanism | None = None
    record: SpfRecord | None = None
    domain: str = ""


class _Evaluation:
    """One top-level evaluation and the nested ones it starts: the counters are shared (§4.6.4
    limits apply to the whole evaluation, includes and redirects included)."""

    def __init__(self, dns_client: DnsClient, ip: IpAddress | None, sender: str, helo: str) -> None:
        self.dns = dns_client
        self.ip = ip
        self.walk = ip is None
        self.sender = sender
        self.helo = helo
        self.lookups = 0
        self.voids = 0
        self.over_limit: PermError | None = None  # walk: the first limit passed
        self._stack: list[str] = []
        self._ptr_names: list[str] | None = None

    def run(self, domain: str) -> SpfOutcome:
        domain = domain[:-1] if domain.endswith(".") else domain
        tree = SpfNode(domain)
        outcome = SpfOutcome(SpfResult.NONE, domain, "", tree=tree)
        try:
            verdict = self._check_host(domain, tree)
            if self.over_limit:
                raise self.over_limit
        except PermError as exc:
            outcome.result, outcome.problem, outcome.summary = SpfResult.PERMERROR, exc.problem, str(exc)
        except TempError as exc:
            outcome.result, outcome.problem, outcome.summary = SpfResult.TEMPERROR, "dns", str(exc)
        else:
            outcome.result = verdict.result
            outcome.matched = verdict.mechanism.text if verdict.mechanism else None
            outcome.summary = tree.error if verdict.result is SpfResult.NONE else self._why(verdict, domain)
            if verdict.result is SpfResult.FAIL and not self.walk:
                outcome.explanation = self._explanation(verdict)
        outcome.dns_lookups, outcome.void_lookups = self.lookups, self.voids
        return outcome

    # -- records ---------------------------------------------------------------------------

    def _check_host(self, domain: str, node: SpfNode) -> _Verdict:
        """§4.3–§4.7 for one domain; raises ``PermError`` / ``TempError``."""
        valid = is_valid_domain(domain)
        lookup = lookup_record(self.dns, domain) if valid else RecordLookup(domain, malformed=True)
        if lookup.malformed:
            node.error = f"{domain!r} is not a valid domain name"
            return _Verdict(SpfResult.NONE, domain=domain)
        if lookup.error:
            node.error = lookup.error
            raise TempError(lookup.error)
        if not lookup.records:
            node.error = f"{domain} has no SPF record"
            return _Verdict(SpfResult.NONE, domain=domain)
        if len(lookup.records) > 1:
            node.error = f"{len(lookup.records)} SPF records"
            raise PermError(
                "multiple-records", f"{domain} has {len(lookup.records)} SPF records (RFC 7208 §4.5)"
            )
        node.record = lookup.records[0]
        try:
            record = parse_record(node.record)
        except SpfSyntaxError as exc:
            node.error = str(exc)
            raise PermError("syntax", f"syntax error in {domain}'s record: {exc}") from None
        self._stack.append(domain.lower())
        try:
            return self._evaluate(record, domain, node)
        finally:
            self._stack.pop()

    def _evaluate(self, record: SpfRecord, domain: str, node: SpfNode) -> _Verdict:
        for mechanism in record.mechanisms:
            if mechanism.name == "all" or self._matches(mechanism, domain, node):
                return _Verdict(SpfResult(mechanism.result), mechanism, record, domain)
        if record.redirect is not None:  # §6.1: only when no mechanism matched (and no all)
            return self._redirect(record, domain, node)
        return _Verdict(SpfResult.NEUTRAL, None, record, domain)  # §4.7

    def _redirect(self, record: SpfRecord, domain: str, node: SpfNode) -> _Verdict:
        term = f"redirect={record.redirect}"
        self._count_lookup(term, node)
        target = self._target(record.redirect, domain, term, node)
        if target is None:
            return _Verdict(SpfResult.NEUTRAL, None, record, domain)
        child = SpfNode(target, "redirect", term)
        node.children.append(child)
        self._check_loop(target, child)
        verdict = self._check_host(target, child)
        if verdict.result is SpfResult.NONE:
            raise PermError("redirect-none", f"{term}: {target} has no SPF record (RFC 7208 §6.1)")
        return verdict

    def _check_loop(self, target: str, child: SpfNode) -> None:
        if target.lower() in self._stack:
            path = " → ".join([*self._stack, target.lower()])
            child.error = "loop"
            raise PermError("loop", f"{child.via} loop: {path}")

    # -- mechanisms ------------------------------------------------------------------------

    def _matches(self, mechanism: Mechanism, domain: str, node: SpfNode) -> bool:
        """§5: does ``mechanism`` match the address? Raises PermError / TempError."""
        if mechanism.name in ("ip4", "ip6"):
            return self.ip is not None and self.ip in mechanism.network
        self._count_lookup(mechanism.text, node)
        target = self._target(mechanism.domain_spec, domain, mechanism.text, node)
        if target is None:
            return False
        if not is_queryable(target):
            node.notes.append(f"{mechanism.text}: {target!r} is not a valid domain name; no match")
            return False
        match mechanism.name:
            case "include":
                return self._include(mechanism, target, node)
            case "a":
                return self._a(mechanism, target, node)
            case "mx":
                return self._mx(mechanism, target, node)
            case "ptr":
                return self._ptr(mechanism, target, node)
            case _:
                return self._exists(mechanism, target, node)

    def _include(self, mechanism: Mechanism, target: str, node: SpfNode) -> bool:
        """§5.2: pass matches; fail, softfail, neutral do not; none is a permerror."""
        child = SpfNode(target, "include", mechanism.text)
        node.children.append(child)
        self._check_loop(target, child)
        verdict = self._check_host(target, child)
        if verdict.result is SpfResult.NONE:
            raise PermError(
                "include-none", f"{mechanism.text}: {target} has no SPF record (RFC 7208 §5.2)"
            )
        return verdict.result is SpfResult.PASS

    def _a(self, mechanism: Mechanism, target: str, node: SpfNode) -> bool:
        """§5.3: the A (IPv4 sender) or AAAA (IPv6 sender) records of the target, each widened
        to the mechanism's prefix length. The walk asks both at once and counts the term void
        only when neither has an address: it then matches nobody (one void per term)."""
        if self.ip is None:
            answers = self.dns.address_answers(target)
            failed = next((a for a in answers if not a.answered), None)
            if failed:
                raise TempError(failure(failed))
        else:
            answers = [self._query(target, "A" if self.ip.version == 4 else "AAAA")]
        addresses = [r for answer in answers for r in answer.records]
        if not addresses:
            self._void(mechanism.text, node)
            return False
        return self._in_prefix(addresses, mechanism)

    def _mx(self, mechanism: Mechanism, target: str, node: SpfNode) -> bool:
        """§5.4: the addresses of the target's MX hosts; more than 10 MX records is a
        permerror (§4.6.4); no fallback to the target's own A record (§5.4)."""
        answer = self._query(target, "MX")
        if not answer.records:
            self._void(mechanism.text, node)
            return False
        if len(answer.records) > MAX_MX_RECORDS:
            raise PermError(
                "mx-limit",
                f"{mechanism.text}: {target} has {len(answer.records)} MX records, over the limit "
                f"of {MAX_MX_RECORDS} (RFC 7208 §4.6.4)",
            )
        if self.ip is None:
            return False
        rdtype = "A" if self.ip.version == 4 else "AAAA"
        return any(self._in_prefix(self._query(host, rdtype).records, mechanism) for host in mx_hosts(answer))

    def _ptr(self, mechanism: Mechanism, target: str, node: SpfNode) -> bool:
        """§5.5: a validated PTR name of the address equal to or under the target."""
        if self.ip is None:
            node.notes.append(f"{mechanism.text}: depends on the sending address; not evaluated")
            return False
        names = self._validated_names(mechanism.text, node)
        target = target.lower()
        return any(name == target or name.endswith("." + target) for name in names)

    def _exists(self, mechanism: Mechanism, target: str, node: SpfNode) -> bool:
        """§5.7: any A record at the target (A even for an IPv6 sender)."""
        if not self._query(target, "A").records:
            self._void(mechanism.text, node)
            return False
        return not self.walk  # the walk stands for an address no mechanism matches

    def _validated_names(self, term: str | None = None, node: SpfNode | None = None) -> list[str]:
        """§5.5: the PTR names of the address (first 10) whose A/AAAA records include it. A
        failed PTR or address lookup only removes names (§5.5), it is never a temperror."""
        reverse = self.dns.query(self.ip.reverse_pointer, "PTR")
        if self._ptr_names is None:
            names = [str(r).rstrip(".").lower() for r in reverse.records][:MAX_PTR_NAMES]
            rdtype = "A" if self.ip.version == 4 else "AAAA"
            self._ptr_names = [
                name for name in names if is_queryable(name)
                and any(_same_address(r, self.ip) for r in self.dns.query(name, rdtype).records)
            ]
        if term is not None and reverse.void:
            self._void(term, node)
        return self._ptr_names

    def _p_macro(self, domain: str) -> str:
        """%{p} (§7.3): the validated name equal to the domain, else one under it, else any."""
        names = self._validated_names()
        domain = domain.lower()
        for name in names:
            if name == domain:
                return name
        for name in names:
            if name.endswith("." + domain):
                return name
        return names[0] if names else "unknown"

    # -- shared steps ----------------------------------------------------------------------

    def _target(self, spec: str | None, domain: str, term: str, node: SpfNode) -> str | None:
        """The expanded target name (§4.8: the current domain when none is given); ``None`` in
        the walk when it depends on the sending address."""
        if spec is None:
            return domain
        if self.walk and uses_ip_macros(spec):
            node.notes.append(f"{term}: depends on the sending address; not evaluated")
            return None
        try:
            return expand_domain(spec, self._context(domain))
        except SpfSyntaxError as exc:  # checked at parse time; kept for safety
            raise PermError("syntax", str(exc)) from None

    def _context(self, domain: str) -> MacroContext:
        return MacroContext(
            sender=self.sender, domain=domain, ip=self.ip, helo=self.helo,
            validated_name=(lambda: self._p_macro(domain)) if self.ip is not None else None,
        )

    def _query(self, name: str, rdtype: str) -> DnsAnswer:
        """A lookup a mechanism depends on: a failure or timeout is a temperror (§5)."""
        answer = self.dns.query(name, rdtype)
        if not answer.answered:
            raise TempError(failure(answer))
        return answer

    def _in_prefix(self, addresses: list[str], mechanism: Mechanism) -> bool:
        if self.ip is None:
            return False
        prefix = mechanism.cidr4 if self.ip.version == 4 else mechanism.cidr6
        for text in addresses:
            address = ipaddress.ip_address(text)
            if address.version == self.ip.version and self.ip in ipaddress.ip_network(
                f"{address}/{prefix}", strict=False
            ):
                return True
        return False

    def _count_lookup(self, term: str, node: SpfNode) -> None:
        self.lookups += 1
        node.dns_lookups += 1
        if self.lookups > MAX_DNS_LOOKUPS:
            self._over_limit(PermError(
                "lookup-limit",
                f"more than {MAX_DNS_LOOKUPS} DNS lookups ({term} in {node.domain} is number "
                f"{self.lookups}) (RFC 7208 §4.6.4)",
            ))
        if self.lookups > WALK_LOOKUP_CAP:
            raise PermError("lookup-limit", f"more than {WALK_LOOKUP_CAP} DNS lookups; stopped counting")

    def _void(self, term: str, node: SpfNode) -> None:
        self.voids += 1
        node.void_terms.append(term)
        if self.voids > MAX_VOID_LOOKUPS:
            self._over_limit(PermError(
                "void-limit",
                f"more than {MAX_VOID_LOOKUPS} void lookups ({term} in {node.domain} is number "
                f"{self.voids}) (RFC 7208 §4.6.4)",
            ))

    def _over_limit(self, error: PermError) -> None:
        """A receiver stops here (permerror); the audit notes the first one and counts on."""
        if not self.walk:
            raise error
        if self.over_limit is None:
            self.over_limit = error

    # -- reporting -------------------------------------------------------------------------

    def _why(self, verdict: _Verdict, domain: str) -> str:
        where = f" in {verdict.domain}" if verdict.domain and verdict.domain != domain else ""
        if verdict.mechanism is None:
            return f"no mechanism matched{where}: default neutral (RFC 7208 §4.7)"
        if self.walk:
            return f"{verdict.mechanism.text}{where} ends the record"
        return f"{self.ip} matched {verdict.mechanism.text}{where}"

    def _explanation(self, verdict: _Verdict) -> str | None:
        """§6.2: the exp= text of the record that gave the fail (the top record, or the one a
        redirect led to — never an included one). Any problem means no explanation."""
        if verdict.record is None or verdict.record.exp is None:
            return None
        ctx = self._context(verdict.domain)
        try:
            name = expand_domain(verdict.record.exp, ctx)
        except SpfSyntaxError:
            return None
        answer = self.dns.query(name, "TXT") if is_queryable(name) else None
        if answer is None or not answer.answered or len(answer.records) != 1:
            return None
        text = answer.texts[0] if answer.texts else ""
        if not text.isascii():
            return None
        try:
            return expand_explanation(text, ctx)
        except SpfSyntaxError:
            return None


def _same_address(text: str, ip: IpAddress) -> bool:
    try:
        return ipaddress.ip_address(text) == ip
    except ValueError:
        return False
