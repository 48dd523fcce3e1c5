"""A real DNS server on loopback (UDP and TCP), answering from a scenario's zone.

It answers the way a recursive resolver does: CNAMEs inside the zone are followed and put
in the answer, and the RCODE describes the last name of the chain (RFC 6604 §3), so an
NXDOMAIN can carry a CNAME. A name may answer ``SERVFAIL`` or never answer (``TIMEOUT``),
for every type or, given as a type's value (``{TXT: TIMEOUT}``), for that type only.
Answers too large for the client's UDP size come back truncated (TC), as RFC 1035 §4.2.1
says, so clients must retry over TCP.

The same server plays a zone's **authoritative** nameserver (``authoritative=True``): AA set,
RA clear, only names at or below the zone's origin (others are REFUSED, as a server that does
not serve a zone answers), and a CNAME chain followed only while it stays inside the zone
(RFC 1034 §4.3.2 step 3a). ``failure`` makes a lame server: ``TIMEOUT`` never answers,
``REFUSED`` and ``SERVFAIL`` answer every query with that RCODE.
"""

from __future__ import annotations

import asyncio
import struct

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

from checks.sandbox.tasks import HandlerTasks

DEFAULT_TTL = 300


class Zone:
    """Name → records, built from a scenario's ``dns`` mapping plus the hosts' addresses.

    ``origin``: the zone's apex when an authoritative server serves it; ``None`` for the
    recursive server, which answers every name it holds.
    """

    def __init__(self, data: dict, default_latency_ms: float = 0.0, *, origin: str | None = None) -> None:
        self.origin = origin
        self.nodes: dict[str, object] = {}
        self.latency_ms: dict[str, float] = {}
        self.default_latency_ms = default_latency_ms
        for name, node in data.items():
            self.nodes[name] = node if isinstance(node, str) else self._records(name, node)
            if isinstance(node, dict) and "latency_ms" in node:
                self.latency_ms[name] = float(node["latency_ms"])

    def _records(self, name: str, node: dict) -> dict[int, dns.rrset.RRset]:
        ttl = int(node.get("ttl", DEFAULT_TTL))
        records = {}
        owner = dns.name.from_text(name)
        for rdtype_text, values in node.items():
            if rdtype_text in ("latency_ms", "ttl"):
                continue
            rdtype = dns.rdatatype.from_text(rdtype_text)
            if isinstance(values, str):  # TIMEOUT / SERVFAIL for this type only
                records[rdtype] = values
                continue
            if not values:  # `A: []`: no records of the type (an empty RRset is not valid wire)
                continue
            rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, rdtype)
            rrset.update_ttl(ttl)
            for value in values:
                rrset.add(make_rdata(rdtype, value))
            records[rdtype] = rrset
        return records

    def delay_s(self, name: str) -> float:
        return self.latency_ms.get(name, self.default_latency_ms) / 1000

    def serves(self, name: str) -> bool:
        """True when ``name`` is at or below the origin (always, without an origin)."""
        return self.origin is None or name == self.origin or name.endswith("." + self.origin)

    def answer(self, qname: str, qtype: int) -> tuple[int, list[dns.rrset.RRset]] | None:
        """``(rcode, answer rrsets)``, or ``None`` when the server must stay silent."""
        name, answer = qname, []
        for _ in range(16):
            if not self.serves(name):
                # Outside the zone: the question is REFUSED; a CNAME leading out of it is the
                # whole answer, and the resolver follows it elsewhere (RFC 1034 §4.3.2).
                return (dns.rcode.NOERROR, answer) if answer else (dns.rcode.REFUSED, [])
            node = self.nodes.get(name)
            if node is None:
                if any(n.endswith("." + name) for n in self.nodes):
                    return dns.rcode.NOERROR, answer  # empty non-terminal
                return dns.rcode.NXDOMAIN, answer
            if node == "TIMEOUT":
                return None
            if node == "SERVFAIL":
                return dns.rcode.SERVFAIL, []
            cname = node.get(dns.rdatatype.CNAME)
            if isinstance(cname, dns.rrset.RRset) and qtype != dns.rdatatype.CNAME:
                answer.append(cname)
                name = cname[0].target.to_text(omit_final_dot=True).lower()
                continue
            if node.get(qtype) == "TIMEOUT":
                return None
            if node.get(qtype) == "SERVFAIL":
                return dns.rcode.SERVFAIL, []
            if qtype in node:
                answer.append(node[qtype])
            return dns.rcode.NOERROR, answer
        return dns.rcode.SERVFAIL, []  # CNAME loop: resolvers give up with SERVFAIL


def make_rdata(rdtype: int, value) -> dns.rdata.Rdata:
    """One record of ``rdtype`` from a scenario value (the ``shared/cases`` conventions).

    Raises ``dns.exception.DNSException``, ``ValueError`` or ``TypeError`` for a value that
    is not a valid record of that type (an A that is not an IPv4 address, a TXT string over
    255 octets, a CAA that is not ``[flags, tag, value]``).
    """
    if rdtype in (dns.rdatatype.TXT, dns.rdatatype.SPF):  # SPF (type 99): TXT's format
        strings = value if isinstance(value, list) else [value]
        return dns.rdata.get_rdata_class(dns.rdataclass.IN, rdtype)(
            dns.rdataclass.IN, rdtype, [str(s).encode("utf-8") for s in strings]
        )
    if isinstance(value, list):
        if rdtype == dns.rdatatype.CAA:
            flags, tag, val = value
            text = f'{flags} {tag} "{val}"'
        else:
            text = " ".join(str(v) for v in value)
    else:
        text = str(value)
    return dns.rdata.from_text(
        dns.rdataclass.IN, rdtype, text, origin=dns.name.root, relativize=False
    )


class DnsServer:
    """Serves ``zone`` on ``address`` over UDP and TCP on one port (``self.port``).

    ``authoritative``: answer as the zone's nameserver (AA set, RA clear) instead of as a
    recursive resolver (RA set, AA clear). ``failure``: ``TIMEOUT``, ``REFUSED`` or
    ``SERVFAIL`` for every query, whatever the zone holds (a lame server).
    """

    def __init__(
        self, zone: Zone, address: str, *, authoritative: bool = False, failure: str | None = None
    ) -> None:
        self.zone = zone
        self.address = address
        self.authoritative = authoritative
        self.failure = failure
        self.port = 0
        self.queries = 0
        self._udp = None
        self._tcp = None
        self.handlers = HandlerTasks()

    async def start(self, port: int = 0) -> None:
        """Listen on ``port`` (0: any free one) over UDP, then TCP on the same port.
        Raises ``OSError`` (``EADDRINUSE``) when the port is taken on this address."""
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(self.address, port)
        )
        self.port = self._udp.get_extra_info("sockname")[1]
        self._tcp = await asyncio.start_server(
            self.handlers.callback(self._serve_tcp), self.address, self.port
        )

    async def stop(self) -> None:
        """Stop listening and end running handlers; ``start()`` may be called again."""
        udp, tcp, self._udp, self._tcp = self._udp, self._tcp, None, None
        if udp:
            udp.close()
        if tcp:
            tcp.close()
        await self.handlers.cancel_all()
        if tcp:
            await tcp.wait_closed()

    async def respond(self, wire: bytes, *, max_size: int | None) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        self.queries += 1
        question = query.question[0]
        qname = question.name.to_text(omit_final_dot=True).lower()
        await asyncio.sleep(self.zone.delay_s(qname))
        if self.failure == "TIMEOUT":
            return None
        if self.failure is not None:
            verdict = dns.rcode.from_text(self.failure), []
        else:
            verdict = self.zone.answer(qname, question.rdtype)
        if verdict is None:
            return None
        rcode, rrsets = verdict
        response = dns.message.make_response(query)
        if not self.authoritative:
            response.flags |= dns.flags.RA
        elif rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            response.flags |= dns.flags.AA  # the zone's own data (RFC 1035 §4.1.1)
        response.set_rcode(rcode)
        response.answer = list(rrsets)
        limit = max_size or 65535
        if max_size is not None:
            limit = max(512, query.payload if query.edns >= 0 else 512)
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            response.answer = []
            response.flags |= dns.flags.TC
            return response.to_wire()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await self.respond(await reader.readexactly(length), max_size=None)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.server.handlers.start(self._reply(data, addr))

    async def _reply(self, data: bytes, addr) -> None:
        reply = await self.server.respond(data, max_size=512)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
