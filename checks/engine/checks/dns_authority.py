"""What the zone's own nameservers say: every authoritative server asked directly.

A resolver asks one of a zone's nameservers, whichever it picks; if they disagree, visitors
get different answers depending on the resolver, and after a cutover some keep the old
address. Both checks here share one look-up (``authority``): the zone that holds the host
(the closest name at or above it with NS records, through the resolver), each nameserver's
addresses, and the host's A, AAAA and CNAME asked of every address with recursion off. Every
query is memoised by ``DnsClient``, so the two checks never ask a server the same question
twice in one audit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from checks.engine.net.dns import DnsAnswer, DnsClient, describe_failure
from checks.engine.parallel import parallel_map
from checks.engine.registry import Context, check, every_host
from checks.engine.result import Impact, Result, Stage
from checks.engine.text import first_few

HOST_TYPES = ("A", "AAAA", "CNAME")
MAX_NAMESERVERS = 13  # NS names taken from the RRset; more is a mistake or hostile
MAX_ADDRESSES = 4  # addresses taken per nameserver name
# The whole look-up (the climb to the zone, the NS addresses, every server's questions) starts
# no question after this many resolver timeouts: 15 s by default. One question may then still
# run (UDP, then TCP after a truncated answer: two timeouts), so a zone of slow servers costs
# at most 7 timeouts, inside the checks' 30 s, however many servers and labels it has.
BUDGET_TIMEOUTS = 5
TTL_LIMIT_S = 86_400  # a day: longer, and a changed record outlives the launch day in caches
CUTOVER_TTL_S = 300

# How a server did: it answered for the zone; it is lame (no answer, an error RCODE, or an
# answer without AA); or it could not be asked from here (outbound policy, no route).
ANSWERED, LAME, UNTESTED = "answered", "lame", "not tested"

# ---------------------------------------------------------------------------------------------
# The look-up both checks share


@dataclass
class ServerAnswers:
    """One address of one nameserver and what it said about the host.

    ``answers``: rdtype → answer, for the types asked (only A when A already failed);
    ``state``: ``answered``, ``lame`` or ``not tested``, with ``reason`` for the last two;
    ``soa``: the zone's SOA from this server (its serial tells a stale copy).
    """

    nameserver: str
    address: str
    answers: dict[str, DnsAnswer] = field(default_factory=dict)
    soa: DnsAnswer | None = None
    state: str = ANSWERED
    reason: str | None = None

    @property
    def serial(self) -> int | None:
        """The SOA serial (RFC 1035 §3.3.13), ``None`` when not asked or not readable."""
        if self.soa is None or not self.soa.records:
            return None
        fields = str(self.soa.records[0]).split()
        return int(fields[2]) if len(fields) == 7 and fields[2].isdigit() else None

    @property
    def fingerprint(self) -> tuple:
        """What is compared between servers: per type, RCODE, CNAME chain and records."""
        return tuple(
            (t, a.rcode, tuple(a.cname_chain), tuple(sorted(str(r) for r in a.records)))
            for t, a in sorted(self.answers.items())
        )

    def records(self, rdtype: str) -> list[str]:
        """The values of ``rdtype`` at the end of the answer, sorted, names without the dot."""
        answer = self.answers.get(rdtype)
        return sorted(str(r).rstrip(".") for r in answer.records) if answer else []

    def describe(self) -> str:
        """The host's records as this server gives them: ``A 192.0.2.1``, ``CNAME x.example``."""
        a, aaaa, cname = (self.answers.get(t) for t in HOST_TYPES)
        parts = [f"{t} {first_few(self.records(t))}" for t in ("A", "AAAA") if self.records(t)]
        if cname and cname.records:
            return " → ".join([f"CNAME {self.records('CNAME')[0]}", *parts])
        if parts:
            return " and ".join(parts)
        if a and a.rcode == "NXDOMAIN":
            return "NXDOMAIN"
        return "no A, AAAA or CNAME record"

    def as_evidence(self) -> dict:
        first = next(iter(self.answers.values()), None)
        data = {
            "nameserver": self.nameserver,
            "address": self.address,
            "server": first.server if first else "",
            "state": self.state,
            "serial": self.serial,
            "queries": [a.as_evidence() for a in [*self.answers.values(), self.soa] if a is not None],
        }
        if self.state == ANSWERED:
            data.update(answer=self.describe(), records={t: self.records(t) for t in HOST_TYPES})
        else:
            data["reason"] = self.reason
        return data


@dataclass
class Authority:
    """The zone holding ``host`` and its nameservers' answers about it.

    ``zone`` is ``None`` when no NS records were found; ``failed`` is the query that stopped
    the climb (SERVFAIL, timeout). ``nameservers`` are the NS names asked (the first
    ``MAX_NAMESERVERS`` in order), ``not_asked`` the rest. An NS name with no address is
    in ``missing`` (with why) when the resolver said so (NXDOMAIN, no records: a fault of
    the delegation), in ``unknown`` when it could not tell (the name's look-up failed).
    """

    host: str
    zone: str | None = None
    nameservers: list[str] = field(default_factory=list)
    not_asked: list[str] = field(default_factory=list)
    zone_queries: list[DnsAnswer] = field(default_factory=list)
    failed: DnsAnswer | None = None
    address_queries: list[DnsAnswer] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    servers: list[ServerAnswers] = field(default_factory=list)
    gave_up: str | None = None  # why the climb stopped before a zone was found (the budget)

    def in_state(self, state: str) -> list[ServerAnswers]:
        return [s for s in self.servers if s.state == state]

    def label(self, server: ServerAnswers) -> str:
        """The nameserver's name, with the address when the name has several."""
        several = sum(1 for s in self.servers if s.nameserver == server.nameserver) > 1
        return f"{server.nameserver} ({server.address})" if several else server.nameserver

    def as_evidence(self) -> dict:
        data = {
            "host": self.host,
            "zone": self.zone,
            "nameservers": self.nameservers,
            "servers": [s.as_evidence() for s in self.servers],
            "zone_queries": [a.as_evidence() for a in self.zone_queries],
        }
        if self.not_asked:
            data["nameservers_not_asked"] = self.not_asked
        if self.missing or self.unknown:
            data["unresolved_nameservers"] = {**self.missing, **self.unknown}
            data["nameserver_queries"] = [a.as_evidence() for a in self.address_queries]
        return data


def authority(dns: DnsClient, host: str) -> Authority:
    """Find the zone of ``host`` and ask each of its nameservers' addresses about ``host``.

    The zone is the closest of ``host`` and its parents (down to two labels) whose NS query
    returns records through the resolver; a name that is a CNAME cannot be a zone apex
    (RFC 1034 §3.6.2), so its answer is passed over. Servers are asked in parallel. No
    question is started after ``BUDGET_TIMEOUTS`` resolver timeouts: what was not asked by
    then is reported as not tested (``gave_up`` for the climb, ``not tested`` for a server).
    """
    auth = Authority(host=host)
    budget_s = BUDGET_TIMEOUTS * dns.profile.dns_timeout_s
    deadline = time.monotonic() + budget_s
    out_of_time = f"the look-up's {budget_s:g} s budget ran out"
    labels = host.lower().rstrip(".").split(".")
    for candidate in (".".join(labels[i:]) for i in range(len(labels) - 1)):
        if time.monotonic() > deadline:
            auth.gave_up = f"{out_of_time} before the zone of {host} was found"
            return auth
        answer = dns.query(candidate, "NS")
        auth.zone_queries.append(answer)
        if not answer.answered:
            auth.failed = answer
            return auth
        if answer.records and not answer.cname_chain:
            auth.zone = candidate
            names = sorted({str(r).lower().rstrip(".") or "." for r in answer.records})
            auth.nameservers, auth.not_asked = names[:MAX_NAMESERVERS], names[MAX_NAMESERVERS:]
            break
    if auth.zone is None:
        return auth

    def addresses_of(name: str) -> list[DnsAnswer] | None:
        return dns.address_answers(name) if time.monotonic() <= deadline else None

    targets = []
    looked_up = parallel_map(addresses_of, auth.nameservers, name="ns")
    for name, answers in zip(auth.nameservers, looked_up, strict=True):
        if answers is None:
            auth.unknown[name] = f"not looked up: {out_of_time}"
            continue
        auth.address_queries += answers
        addresses = [str(r) for a in answers for r in a.records][:MAX_ADDRESSES]
        if addresses:
            targets += [(name, address) for address in addresses]
        elif all(a.answered for a in answers):
            auth.missing[name] = describe_failure(name, answers)
        else:
            auth.unknown[name] = describe_failure(name, answers)
    auth.servers = parallel_map(
        lambda t: _ask_server(dns, auth.zone, host, *t, deadline=deadline, out_of_time=out_of_time),
        targets, name="ns",
    )
    return auth


def _ask_server(dns: DnsClient, zone: str, host: str, nameserver: str, address: str, *,
                deadline: float, out_of_time: str) -> ServerAnswers:
    """A first; when that is a usable authoritative answer, AAAA, CNAME and the zone's SOA.
    A server that fails the first question is not asked the rest: it is lame already. Past
    ``deadline`` no host question is started (the server is ``not tested``) and the SOA, which
    only adds the serial to the evidence, is left out."""
    server = ServerAnswers(nameserver, address)
    for rdtype in HOST_TYPES:
        if time.monotonic() > deadline:
            server.state, server.reason = UNTESTED, f"not asked: {out_of_time}"
            return server
        answer = server.answers[rdtype] = dns.query_at(address, host, rdtype)
        server.state, server.reason = _judge(answer, zone, dns.profile.dns_timeout_s)
        if server.state != ANSWERED:
            return server
    if time.monotonic() <= deadline:
        server.soa = dns.query_at(address, zone, "SOA")
    return server


def _judge(answer: DnsAnswer, zone: str, timeout_s: float) -> tuple[str, str | None]:
    """``(state, reason)`` for one direct answer (lame delegation: RFC 9499 §7)."""
    if answer.rcode in ("REFUSED_BY_POLICY", "UNREACHABLE"):
        return UNTESTED, answer.error
    if answer.rcode == "TIMEOUT":
        return LAME, f"does not answer (no reply within {timeout_s:g} s)"
    if answer.rcode in ("NOERROR", "NXDOMAIN"):
        if answer.aa:
            return ANSWERED, None
        return LAME, f"answers without the AA flag: it does not serve {zone} itself"
    if answer.rcode == "ERROR":
        return LAME, f"gives no usable answer ({answer.error})"
    return LAME, f"answers {answer.rcode}"


def _untestable(auth: Authority) -> str | None:
    """Why nothing could be compared, or ``None`` when at least one server answered."""
    if auth.gave_up:
        return auth.gave_up
    if auth.failed is not None:
        return describe_failure(auth.failed.name, [auth.failed])
    if auth.zone is None:
        return f"no NS records for {auth.host} or its parents"
    if auth.in_state(ANSWERED):
        return None
    why = [f"{auth.label(s)} {s.reason}" if s.state == LAME else f"{auth.label(s)}: {s.reason}"
           for s in auth.servers]
    why += [f"{name}: {reason}" for name, reason in {**auth.missing, **auth.unknown}.items()]
    return f"no nameserver of {auth.zone} answered for {auth.host}: " + first_few(why, separator="; ")


# ---------------------------------------------------------------------------------------------
# dns.authoritative


@check(
    "dns.authoritative",
    stage=Stage.EDGE,
    impact=Impact.HIGH,
    title="Every authoritative nameserver gives the same answer",
    targets=every_host,
)
def authoritative(target: str, ctx: Context) -> Result:
    """Each nameserver of the host's zone, asked directly, gives the same A, AAAA and CNAME.

    The zone's NS set and each nameserver's addresses come through the resolver; every
    address is then asked with recursion off, so the answer is that server's own copy of the
    zone. RFC 1034 §4.2.2: every server of a zone must hold the same data; RFC 2181 §5.2: an
    RRset is one unit (its records and TTL the same wherever it is served); secondaries learn
    of a change through NOTIFY and zone transfers (RFC 1996), and drift when those fail.
    - fail: the servers' answers differ (a stale copy, a split record such as a CNAME on one
      and an A on another) — evidence holds each server's answer and SOA serial, which shows
      the stale one; a delegated server that does not answer, answers REFUSED or SERVFAIL, or
      answers without the AA flag while others answer (lame delegation, RFC 9499 §7,
      RFC 1034 §4.2.2); an NS name that the resolver says has no address (NXDOMAIN or no A /
      AAAA), while other servers answer: resolvers that pick it fail.
    - pass: every address of every nameserver answered authoritatively with the same records
      (NXDOMAIN on all of them is the same answer).
    - error: the zone's NS look-up failed, no NS records at the host or above it, no server
      answered at all; or every server that answered agrees but another could not be asked
      from here (the outbound policy refused its address, no route) or its name's look-up
      failed — a pass would claim a server that was never asked. So does an NS set of more
      than 13 names: the rest are not asked; and a server not asked within the look-up's
      budget (five resolver timeouts, ``BUDGET_TIMEOUTS``: slow or many servers, a host of
      very many labels).
    """
    auth = authority(ctx.net.dns, target)
    evidence = auth.as_evidence()
    untestable = _untestable(auth)
    if untestable:
        return Result.error(f"could not test: {untestable}", evidence)
    answered, lame = auth.in_state(ANSWERED), auth.in_state(LAME)
    groups: dict[tuple, list[ServerAnswers]] = {}
    for server in answered:
        groups.setdefault(server.fingerprint, []).append(server)
    faults, remedies = [], []
    if len(groups) > 1:
        faults.append(_disagreement(auth, list(groups.values())))
        remedies.append(
            f"Make every nameserver of {auth.zone} serve the same copy of the zone: compare their SOA "
            "serials, fix the zone transfer or NOTIFY (RFC 1996) that did not reach the stale one, or "
            "remove it from the NS records at the registrar and in the zone."
        )
    faults += [f"lame delegation: {auth.label(s)} {s.reason}" for s in lame]
    faults += [f"NS {name} has no address: {why}" for name, why in auth.missing.items()]
    broken = sorted({s.nameserver for s in lame} | set(auth.missing))
    if broken:
        remedies.append(
            f"Remove {', '.join(broken)} from the NS records of {auth.zone} (at the registrar and in the "
            "zone), or make it serve the zone: resolvers that pick it wait, fail, or get no answer."
        )
    if faults:
        return Result.fail(first_few(faults, separator="; "), evidence, remediation=" ".join(remedies))
    answer = answered[0].describe()
    not_asked = [f"{auth.label(s)}: {s.reason}" for s in auth.in_state(UNTESTED)]
    not_asked += [f"{name}: {why}" for name, why in auth.unknown.items()]
    if auth.not_asked:
        capped = f"{first_few(auth.not_asked)}: only the first {MAX_NAMESERVERS} NS names are asked"
        not_asked.insert(0, capped)
    if not_asked:
        names = ", ".join(auth.label(s) for s in answered) if len(answered) <= 3 else _servers(answered)
        return Result.error(
            f"could not test {first_few(not_asked, separator='; ')}; {names} "
            f"{'gives' if len(answered) == 1 else 'give'} {answer}", evidence,
        )
    if len(answered) == 1:
        return Result.passed(
            f"{target}: {answer}, from the only nameserver of {auth.zone} ({answered[0].nameserver})",
            evidence,
        )
    return Result.passed(f"{target}: {answer}, from all {_servers(answered)} of {auth.zone}", evidence)


def _disagreement(auth: Authority, groups: list[list[ServerAnswers]]) -> str:
    """``the nameservers of Z disagree on H: ns1 (serial 2) gives A …; ns2 (serial 1) gives A …``.
    Serials are named only when they differ: then they show which copy is stale."""
    serials = {s.serial for group in groups for s in group}
    parts = []
    for group in groups:
        names = first_few(
            [auth.label(s) + (f" (serial {s.serial})" if len(serials) > 1 else "") for s in group],
            separator=" and ",
        )
        parts.append(f"{names} {'give' if len(group) > 1 else 'gives'} {group[0].describe()}")
    return f"the nameservers of {auth.zone} disagree on {auth.host}: " + first_few(parts, separator="; ")


def _servers(servers: list[ServerAnswers]) -> str:
    """``2 nameservers``, or ``3 addresses of 2 nameservers`` when a name has several."""
    names = {s.nameserver for s in servers}
    plural = "s" if len(names) != 1 else ""
    if len(names) == len(servers):
        return f"{len(servers)} nameserver{plural}"
    return f"{len(servers)} addresses of {len(names)} nameserver{plural}"


# ---------------------------------------------------------------------------------------------
# dns.ttl


@check(
    "dns.ttl",
    stage=Stage.EDGE,
    impact=Impact.LOW,
    title="TTL short enough for the launch cutover",
    targets=every_host,
)
def ttl(target: str, ctx: Context) -> Result:
    """The host's A, AAAA or CNAME TTL at its authoritative nameservers is at most one day.

    A resolver may keep a record for its TTL (RFC 1034 §3.6, RFC 1035 §3.2.1), so after a
    change some visitors reach the old address for up to that long. At launch the cutover moves
    the launch hosts' records, so every host of the project counts as about to change. The TTL
    judged is the zone's own, asked of each nameserver directly: a resolver's copy counts down.
    For a CNAME host the CNAME's TTL is judged (the target's records are its provider's);
    otherwise the A and AAAA RRsets'. The highest TTL over all servers counts.
    - warn: above 86400 s — a record about to change stays cached for days after the cutover.
    - pass: at most 86400 s.
    - fail: not given — a long TTL delays a change, it breaks nothing by itself.
    - skipped: no A, AAAA or CNAME record at the nameservers (nothing cached to go stale).
    - error: no nameserver answered authoritatively (see ``dns.authoritative``).
    Metric: ``max_ttl_s``.
    """
    auth = authority(ctx.net.dns, target)
    untestable = _untestable(auth)
    if untestable:
        return Result.error(f"could not test: {untestable}", auth.as_evidence())
    records, by_server = [], {}
    for server in auth.in_state(ANSWERED):
        label = auth.label(server)
        for rdtype, answer in _own_rrsets(server):
            by_server.setdefault(label, {})[rdtype] = answer.ttl
            for value in server.records(rdtype):
                records.append({"type": rdtype, "value": value, "ttl_s": answer.ttl, "nameserver": label})
    evidence = {"host": target, "zone": auth.zone, "records": _highest(records),
                "ttl_s_by_nameserver": by_server, "limit_s": TTL_LIMIT_S}
    if not records:
        return Result.skipped(f"{target} has no A, AAAA or CNAME record at its nameservers", evidence)
    top = max(evidence["records"], key=lambda r: r["ttl_s"])
    highest = top["ttl_s"]
    metrics = {"max_ttl_s": highest}
    if highest <= TTL_LIMIT_S:
        return Result.passed(f"{target}: highest TTL {highest} s ({top['type']}), at most a day",
                             evidence, metrics=metrics)
    days = _days(highest)
    return Result.warn(
        f"{target}: {top['type']} TTL is {highest} s ({days}): a record about to change stays "
        f"cached up to {days} after the cutover; lower it to {CUTOVER_TTL_S} s {days} ahead",
        evidence, metrics=metrics,
        remediation=(
            f"At the DNS provider, set the TTL of {target}'s {top['type']} record to {CUTOVER_TTL_S} s at "
            f"least {days} before the launch cutover (the old TTL must run out first); raise it "
            "again once the launch has settled."
        ),
    )


def _days(seconds: int) -> str:
    """``2 days``, ``1.5 days``, ``24855 days``: whole days from ten on, never ``2.49e+04``."""
    days = seconds / TTL_LIMIT_S
    text = f"{days:.0f}" if days >= 10 else f"{days:.1f}".removesuffix(".0")
    return f"{text} day{'' if text == '1' else 's'}"


def _own_rrsets(server: ServerAnswers) -> list[tuple[str, DnsAnswer]]:
    """The host's own RRsets with their TTLs: its CNAME, or else its A and AAAA (an A answer
    that went through a CNAME carries the lowest TTL of the chain, not the host's own)."""
    cname = server.answers["CNAME"]
    if cname.records:
        return [("CNAME", cname)]
    return [(t, a) for t in ("A", "AAAA") if (a := server.answers[t]).records and not a.cname_chain]


def _highest(records: list[dict]) -> list[dict]:
    """One entry per record (type, value) with the highest TTL any server gave it."""
    best: dict[tuple[str, str], dict] = {}
    for record in records:
        key = (record["type"], record["value"])
        if key not in best or record["ttl_s"] > best[key]["ttl_s"]:
            best[key] = record
    return sorted(best.values(), key=lambda r: (HOST_TYPES.index(r["type"]), r["value"]))
