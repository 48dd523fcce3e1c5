"""DNS through dnspython, against the profile's resolvers, with a record of every query.

We send our own queries (``dns.query``) instead of using ``dns.resolver`` because the
evidence needs the raw answer: an NXDOMAIN that carries a CNAME (RFC 6604 §3: the RCODE
describes the last name in the chain), each CNAME hop, the TTLs, the server asked.

``query_at`` asks one server directly (a zone's authoritative nameserver) instead of the
resolvers: the AA flag and the zone's original TTLs, which a resolver's cache counts down.
"""

from __future__ import annotations

import errno
import ipaddress
import threading
import time
from dataclasses import asdict, dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from checks.engine.net.memo import Memo
from checks.engine.net.profile import NetworkProfile

MAX_CNAME_HOPS = 16
# A socket error that says the address cannot be reached from this machine (no IPv6 route,
# say), which tells nothing about the server itself.
UNREACHABLE_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT}
)


class ResolveError(Exception):
    """A name gave no usable address; ``str(exc)`` says why (NXDOMAIN, no records, timeout)."""

    def __init__(self, message: str, answers: list[DnsAnswer]) -> None:
        super().__init__(message)
        self.answers = answers


@dataclass
class DnsAnswer:
    """One query and what came back.

    ``rcode`` is ``NOERROR``, ``NXDOMAIN``, ``SERVFAIL``, ``REFUSED`` … or ``TIMEOUT`` /
    ``ERROR`` / ``UNREACHABLE`` (no route to the server from here) when no usable response
    arrived; a direct query (``DnsClient.query_at``) may also give ``REFUSED_BY_POLICY`` (the
    outbound policy refused the server: nothing was sent). ``cname_chain`` lists the CNAME
    targets followed from ``name``; ``records`` are the values of ``rdtype`` at the end of
    the chain (a TXT record is a list of its character-strings, not joined). ``ttl`` in
    seconds. ``aa``: the response's Authoritative Answer flag, for direct queries only
    (``None`` for answers from a resolver).
    """

    name: str
    rdtype: str
    rcode: str
    records: list = field(default_factory=list)
    cname_chain: list[str] = field(default_factory=list)
    ttl: int | None = None
    elapsed_ms: float = 0.0
    server: str = ""
    error: str | None = None
    aa: bool | None = None

    @property
    def answered(self) -> bool:
        """True when a server gave an authoritative verdict (data, no data, or NXDOMAIN)."""
        return self.rcode in ("NOERROR", "NXDOMAIN") and self.error is None

    @property
    def void(self) -> bool:
        """True for an answer with no records of the type asked: NOERROR with no data, or
        NXDOMAIN (RFC 7208 §4.6.4 calls such a lookup "void"). A failure is not void."""
        return self.answered and not self.records

    @property
    def texts(self) -> list[str]:
        """A TXT answer's records as text: each record's character-strings joined with nothing
        between them, separate records kept apart (RFC 7208 §3.3, RFC 6376 §3.6.2.2, RFC 7489
        §6.6.3 all read TXT so). ``[]`` for NXDOMAIN, no data or a failure."""
        return ["".join(strings) for strings in self.records] if self.rcode == "NOERROR" else []

    @property
    def final_name(self) -> str:
        return self.cname_chain[-1] if self.cname_chain else self.name

    def as_evidence(self) -> dict:
        data = asdict(self)
        data["elapsed_ms"] = round(self.elapsed_ms, 1)
        return {k: v for k, v in data.items() if v not in (None, [], "")}


class DnsClient:
    """Asks the profile's resolvers; every (name, type) is asked at most once per client."""

    def __init__(self, profile: NetworkProfile) -> None:
        self.profile = profile
        self._memo = Memo()
        self._count_lock = threading.Lock()
        self.queries_sent = 0
        self.nameservers = list(profile.nameservers) or _system_nameservers()

    def query(self, name: str, rdtype: str) -> DnsAnswer:
        """Ask for ``rdtype`` records of ``name``; never raises for DNS failures."""
        key = (name.lower().rstrip("."), rdtype.upper())
        return self._memo.get(key, lambda: self._ask(*key))

    def query_at(self, server: str, name: str, rdtype: str) -> DnsAnswer:
        """Ask ``server`` (an IP address) itself for ``rdtype`` records of ``name``, recursion
        not desired: how a zone's nameserver answers, with its AA flag and original TTLs.

        UDP, again over TCP when truncated, to port 53 through the profile's port map. The
        outbound policy decides first: a refused address gives ``REFUSED_BY_POLICY`` and no
        socket. Memoised per (server, name, type), counted in ``queries_sent``; never raises
        for DNS failures.
        """
        key = ("at", server, name.lower().rstrip("."), rdtype.upper())
        return self._memo.get(key, lambda: self._ask_at(*key[1:]))

    def address_answers(self, host: str) -> list[DnsAnswer]:
        """The A and AAAA answers of ``host``, asked at the same time (a name that times out
        costs one timeout, not two)."""
        aaaa = threading.Thread(target=self.query, args=(host, "AAAA"), daemon=True)
        aaaa.start()
        a_answer = self.query(host, "A")
        aaaa.join()
        return [a_answer, self.query(host, "AAAA")]  # memoised: no second query

    def addresses(self, host: str) -> list[str]:
        """IPv4 then IPv6 addresses of ``host`` (an IP literal is returned as is).

        Raises ``ResolveError`` when neither A nor AAAA gives an address.
        """
        literal = host.strip("[]")
        try:
            return [str(ipaddress.ip_address(literal))]
        except ValueError:
            pass
        answers = self.address_answers(host)
        found = [r for a in answers for r in a.records]
        if found:
            return found
        raise ResolveError(describe_failure(host, answers), answers)

    def cname_loop(self, name: str) -> list[str] | None:
        """The CNAME targets from ``name`` when they come back to a name already seen, else
        ``None``; asks for each hop's CNAME record itself (one query per hop, memoised).

        Many resolvers answer an address query for a looping chain with SERVFAIL and no
        records; walking the chain hop by hop tells a loop (RFC 1034 §3.6.2: loops should be
        detected and reported as errors) from a broken server.
        """
        seen, chain, current = [name.lower().rstrip(".")], [], name
        for _ in range(MAX_CNAME_HOPS):
            answer = self.query(current, "CNAME")
            if not answer.records:
                return None
            target = str(answer.records[0]).lower().rstrip(".")
            chain.append(target)
            if target in seen:
                return chain
            seen.append(target)
            current = target
        return None

    def _ask(self, name: str, rdtype: str) -> DnsAnswer:
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            return DnsAnswer(name, rdtype, "ERROR", error=f"invalid name: {exc}")
        query = dns.message.make_query(qname, rdtype, use_edns=0, payload=1232)
        started = time.monotonic()
        answer = DnsAnswer(name, rdtype, "ERROR", error="no nameserver configured")
        for server in self.nameservers:
            answer, _ = self._exchange(query, name, rdtype, server, self.profile.dns_port)
            if answer.rcode in ("NOERROR", "NXDOMAIN"):
                break  # an answer; otherwise the next resolver is asked
        answer.elapsed_ms = (time.monotonic() - started) * 1000
        return answer

    def _ask_at(self, server: str, name: str, rdtype: str) -> DnsAnswer:
        port = self.profile.port(53)
        refusal = self.profile.policy.refusal(server, port)
        if refusal:
            return DnsAnswer(name, rdtype, "REFUSED_BY_POLICY", server=_where(server, port), error=refusal)
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            return DnsAnswer(name, rdtype, "ERROR", server=_where(server, port), error=f"invalid name: {exc}")
        query = dns.message.make_query(qname, rdtype, use_edns=0, payload=1232)
        query.flags &= ~dns.flags.RD  # a nameserver's own data, not what it could look up
        started = time.monotonic()
        answer, response = self._exchange(query, name, rdtype, server, port)
        if response is not None:
            answer.aa = bool(response.flags & dns.flags.AA)
        answer.elapsed_ms = (time.monotonic() - started) * 1000
        return answer

    def _exchange(
        self, query: dns.message.Message, name: str, rdtype: str, server: str, port: int
    ) -> tuple[DnsAnswer, dns.message.Message | None]:
        """Send ``query`` (for ``name``) to ``server`` (UDP, then TCP when truncated), counted in
        ``queries_sent``: the parsed answer and the response, or a failed answer and ``None``."""
        where, timeout_s = _where(server, port), self.profile.dns_timeout_s
        with self._count_lock:
            self.queries_sent += 1
        try:
            response, _ = dns.query.udp_with_fallback(query, server, timeout=timeout_s, port=port)
        except dns.exception.Timeout:
            error = f"no answer from {where} within {timeout_s:g} s"
            return DnsAnswer(name, rdtype, "TIMEOUT", server=where, error=error), None
        except OSError as exc:
            rcode = "UNREACHABLE" if exc.errno in UNREACHABLE_ERRNOS else "ERROR"
            return DnsAnswer(name, rdtype, rcode, server=where, error=f"{where}: {exc}"), None
        except (EOFError, dns.exception.DNSException) as exc:
            error = f"{where}: {_failure_text(exc)}"
            return DnsAnswer(name, rdtype, "ERROR", server=where, error=error), None
        return _parse(name, rdtype, query.question[0].name, response, where), response


def _where(server: str, port: int) -> str:
    """``192.0.2.1:53``, ``[2001:db8::1]:53``: the server as evidence names it."""
    return f"[{server}]:{port}" if ":" in server else f"{server}:{port}"


def _failure_text(exc: Exception) -> str:
    """dnspython's words for a failed exchange; ``EOFError`` (a TCP connection closed before
    the whole answer came) has none of its own."""
    if isinstance(exc, EOFError):
        return "the connection closed before the answer came"
    return str(exc) or type(exc).__name__


def _parse(name: str, rdtype: str, qname: dns.name.Name, response, where: str) -> DnsAnswer:
    rcode = dns.rcode.to_text(response.rcode())
    if response.flags & dns.flags.TC:
        # Only possible over TCP (a truncated UDP answer is retried there). TC means "cut to fit
        # the channel" (RFC 1035 §4.1.1); over TCP nothing had to be cut, so the records that
        # came are not the whole answer and an empty one is not "no data".
        return DnsAnswer(name, rdtype, "ERROR", server=where,
                         error=f"{where}: the answer is truncated (TC) even over TCP")
    answer = DnsAnswer(name, rdtype, rcode, server=where)
    wanted = dns.rdatatype.from_text(rdtype)
    current, ttls = qname, []
    for _ in range(MAX_CNAME_HOPS):
        if wanted == dns.rdatatype.CNAME:
            break
        rrset = response.get_rrset(
            response.answer, current, dns.rdataclass.IN, dns.rdatatype.CNAME
        )
        if rrset is None:
            break
        target = rrset[0].target
        ttls.append(rrset.ttl)
        if target.to_text(omit_final_dot=True).lower() in [name.lower(), *answer.cname_chain]:
            answer.cname_chain.append(target.to_text(omit_final_dot=True).lower())
            answer.error = "CNAME loop"
            return answer
        answer.cname_chain.append(target.to_text(omit_final_dot=True).lower())
        current = target
    else:
        if wanted != dns.rdatatype.CNAME:
            answer.error = f"CNAME chain longer than {MAX_CNAME_HOPS} hops"
            return answer
    rrset = response.get_rrset(response.answer, current, dns.rdataclass.IN, wanted)
    if rrset is not None:
        ttls.append(rrset.ttl)
        answer.records = [_value(rdata) for rdata in rrset]
    answer.ttl = min(ttls) if ttls else None
    return answer


def _value(rdata):
    if rdata.rdtype == dns.rdatatype.TXT:
        return [s.decode("utf-8", "backslashreplace") for s in rdata.strings]
    if rdata.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return rdata.address
    return rdata.to_text()


def describe_failure(host: str, answers: list[DnsAnswer]) -> str:
    """One sentence for why ``host`` has no address, from its A and AAAA answers."""
    for answer in answers:
        if not answer.answered:
            reason = answer.error or "server failure"
            return f"{host}: {answer.rdtype} query failed ({answer.rcode}: {reason})"
    chain = answers[0].cname_chain
    if answers[0].rcode == "NXDOMAIN":
        if chain:
            return f"{host} is a CNAME to {chain[-1]}, which does not exist (NXDOMAIN)"
        return f"{host} does not exist (NXDOMAIN)"
    return f"{host} has no A or AAAA records"


def _system_nameservers() -> list[str]:
    try:
        return list(dns.resolver.Resolver().nameservers)
    except dns.resolver.NoResolverConfiguration:
        return []
