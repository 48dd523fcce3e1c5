"""The sandbox: a client's launch surface, played on loopback from a scenario file.

``Sandbox(scenario)`` starts a real DNS server, an HTTPS server with certificates from a
test CA and a plain HTTP server, all on a /24 of 127.0.0.0/8 of its own (no root needed),
and hands out the ``NetworkProfile`` that points the engine at them::

    with Sandbox(load_scenario("scenarios/demo.yaml")) as sandbox:
        with Net(sandbox.profile) as net:
            ...

Every host named under ``hosts`` gets its own loopback address, and an A record for it
unless the scenario's ``dns`` gives the name an address or a CNAME itself. Hosts with
``edge: cloudflare`` get theirs from a block that the profile declares as Cloudflare's ranges
(``NetworkProfile.cloudflare_ranges``), and their responses carry Cloudflare's headers.

The project's zone also gets its authoritative nameservers (``nameservers``, default ns1 and
ns2 of the apex): each on its own address (.3 to .9) and on the recursive server's port, since
the profile maps port 53 to one port. The recursive server delegates the apex to them (NS
records, and an A record for each nameserver's name).

A scenario's ``smtp:`` runs the project's submission server (``smtp``) on an address of its
own (or its host's, when the name is also under ``hosts``), and our capture server
(``capture``) on the DNS server's address; the profile maps ports 25, 465 and 587 to the
submission server's port. Every sandbox hands out ``mailbox`` and the capture domain in its
profile; without ``smtp:`` nothing delivers there.
"""

from __future__ import annotations

import asyncio
import errno
import random
import shutil
import socket
import tempfile
import threading
from pathlib import Path

from checks.engine.email.mailbox import MemoryMailbox
from checks.engine.net.profile import NetworkProfile
from checks.sandbox.certs import CertificateFactory
from checks.sandbox.dnsserver import DnsServer, Zone
from checks.sandbox.repos import serve_repos
from checks.sandbox.scenario import (
    NameserverSpec,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    project_apex,
)
from checks.sandbox.smtpserver import CAPTURE_DOMAIN, CaptureServer, DkimSigner, SubmissionServer
from checks.sandbox.webserver import WebServer

__all__ = ["Sandbox", "Scenario", "ScenarioError", "load_scenario", "parse_scenario"]

# Host addresses in the sandbox's /24: hosts get .10 to .223; hosts played behind Cloudflare
# (`edge: cloudflare`) get .224 to .254, the /27 that the profile declares as Cloudflare's
# ranges, together with CLOUDFLARE_V6 for AAAA records a scenario writes itself (nothing
# listens there: the sandbox serves IPv4 only).
FIRST_HOST, LAST_HOST = 10, 223
CLOUDFLARE_FIRST, CLOUDFLARE_LAST = 224, 254
CLOUDFLARE_V6 = "2001:db8:cf::/48"
SMTP_PORTS = (25, 465, 587)  # all mapped to the submission server's one port
MAIL_WAIT_S = 5.0  # loopback delivery takes milliseconds


class Sandbox:
    """Runs a scenario's servers on a background event loop until ``stop()``."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.network = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}"
        self.dns_address = f"{self.network}.2"
        addresses = _host_addresses(self.network, scenario)
        self.addresses = {host: addresses[host] for host in scenario.hosts}
        self.smtp_addresses = {name: addresses[name] for name in addresses if name not in scenario.hosts}
        smtp = scenario.smtp
        self.smtp_address = addresses[smtp.host] if smtp else None
        self.smtp_outbound_address = addresses[smtp.outbound or smtp.host] if smtp else None
        self.mailbox = MemoryMailbox()
        self.dkim: DkimSigner | None = None
        self.smtp: SubmissionServer | None = None
        self.capture: CaptureServer | None = None
        self.apex = project_apex(scenario.project)
        self.nameserver_specs = _nameserver_specs(scenario, self.apex)
        self.nameserver_addresses = {
            name: f"{self.network}.{3 + i}" for i, name in enumerate(self.nameserver_specs)
        }
        self.nameservers: dict[str, DnsServer] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tmp: Path | None = None
        self.profile: NetworkProfile | None = None
        self.dns: DnsServer | None = None
        self.https: WebServer | None = None
        self.http: WebServer | None = None
        self.repo_commits: dict[str, list[str]] = {}  # repos: name -> commit ids, oldest first

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> NetworkProfile:
        """Start every server; returns the profile that reaches them. Idempotent."""
        if self.profile is not None:
            return self.profile
        self._tmp = Path(tempfile.mkdtemp(prefix="lr-sandbox-"))
        factory = CertificateFactory(self._tmp)
        certs = {host: factory.issue(host, spec.certificate) for host, spec in self.scenario.hosts.items()}
        served, self.repo_commits = serve_repos(self.scenario, self._tmp)  # repos: built with git
        self._make_mail_servers(factory)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sandbox", daemon=True)
        self._thread.start()
        zone = Zone(self._zone_data(), self.scenario.dns_latency_ms)
        self.dns = DnsServer(zone, self.dns_address)
        self.nameservers = {name: self._nameserver(spec) for name, spec in self.nameserver_specs.items()}
        self.https = WebServer("https", served, certs)
        self.http = WebServer("http", served, certs)
        try:
            self._run(self._start_servers())
        except BaseException:
            self.stop()
            raise
        port_map = {80: self.http.port, 443: self.https.port, 53: self.dns.port}
        allowed_ports = [self.http.port, self.https.port, self.dns.port]
        if self.smtp is not None:
            port_map.update(dict.fromkeys(SMTP_PORTS, self.smtp.port))
            allowed_ports.append(self.smtp.port)
        self.profile = NetworkProfile(
            nameservers=(self.dns_address,),
            dns_port=self.dns.port,
            extra_ca_pem=factory.ca_pem,
            port_map=port_map,
            allowed_networks=(f"{self.network}.0/24",),
            cloudflare_ranges=(f"{self.network}.{CLOUDFLARE_FIRST}/27", CLOUDFLARE_V6),
            allowed_ports=tuple(allowed_ports),
            mail_capture_domain=CAPTURE_DOMAIN,
            mailbox=self.mailbox,
            mail_wait_s=MAIL_WAIT_S,
        )
        return self.profile

    def _make_mail_servers(self, factory: CertificateFactory) -> None:
        """The submission server of ``smtp:`` (with its DKIM key, made here, and a certificate
        for its name) and the capture server it delivers to; none without ``smtp:``."""
        spec = self.scenario.smtp
        if spec is None:
            return
        self.dkim = DkimSigner(spec.sign) if spec.sign else None
        self.capture = CaptureServer(self.mailbox, self.dns_address)
        # Its own file name: the name may also be a web host, with a certificate of its own.
        certificate = factory.issue(f"smtp-{spec.host}", {"san": [spec.host]})
        self.smtp = SubmissionServer(
            spec, address=self.smtp_address, outbound_address=self.smtp_outbound_address,
            certificate=certificate, capture=self.capture, signer=self.dkim,
        )

    def stop(self) -> None:
        """Stop the servers and the loop, remove the key files. Safe to call twice."""
        if self._loop is not None:
            if self._loop.is_running():
                try:
                    self._run(self._stop_servers(), timeout=10)
                finally:
                    self._loop.call_soon_threadsafe(self._loop.stop)
                    if self._thread:
                        self._thread.join(timeout=10)
            self._loop.close()
            self._loop = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self.profile = None

    def _run(self, coroutine, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _zone_data(self, overrides: dict | None = None) -> dict:
        """The scenario's ``dns`` with ``overrides`` (one nameserver's) laid over it by name,
        an A record for each host, smtp name and nameserver that has no address of its own,
        the DKIM key of ``smtp.sign`` unless the zone gives its name, and the apex's NS
        records naming the nameservers unless the zone gives NS there."""
        zone = {**self.scenario.dns, **(overrides or {})}
        if self.dkim is not None and self.dkim.record_name not in zone:
            zone[self.dkim.record_name] = {"TXT": [self.dkim.txt_strings()]}
        named = {**self.addresses, **self.smtp_addresses, **self.nameserver_addresses}
        for host, address in named.items():
            node = zone.get(host)
            if node is None:
                zone[host] = {"A": [address]}
            elif isinstance(node, dict) and not {"A", "AAAA", "CNAME"} & set(node):
                zone[host] = {**node, "A": [address]}
        apex_node = zone.get(self.apex) if self.apex else None
        if self.nameserver_specs and self.apex:
            if apex_node is None:
                zone[self.apex] = {"NS": list(self.nameserver_specs)}
            elif isinstance(apex_node, dict) and not {"NS", "CNAME"} & set(apex_node):
                zone[self.apex] = {**apex_node, "NS": list(self.nameserver_specs)}
        return zone

    def _nameserver(self, spec: NameserverSpec) -> DnsServer:
        """One authoritative server of the apex's zone: the zone with the server's own records,
        and an SOA at the apex (given, or made up with serial 1) carrying its ``serial``."""
        zone = self._zone_data(spec.dns)
        node = zone.get(self.apex)
        if isinstance(node, dict):
            first = next(iter(self.nameserver_specs))
            soa = node.get("SOA") or [f"{first}. hostmaster.{self.apex}. 1 3600 600 1209600 300"]
            fields = (" ".join(map(str, soa[0])) if isinstance(soa[0], list) else str(soa[0])).split()
            if spec.serial is not None:
                fields[2] = str(spec.serial)
            zone[self.apex] = {**node, "SOA": [" ".join(fields)]}
        return DnsServer(
            Zone(zone, self.scenario.dns_latency_ms, origin=self.apex),
            self.nameserver_addresses[spec.name],
            authoritative=spec.authoritative,
            failure=spec.failure,
        )

    async def _start_dns(self) -> None:
        """The recursive server on a free port, then every nameserver on that same port of its
        own address (the profile maps port 53 to one port); all of them again on another port
        when one address has it taken."""
        servers = [self.dns, *self.nameservers.values()]
        for attempt in range(20):
            try:
                await self.dns.start()
                for server in servers[1:]:
                    await server.start(self.dns.port)
                return
            except OSError as exc:
                for server in servers:
                    await server.stop()
                if exc.errno != errno.EADDRINUSE or attempt == 19:
                    raise

    async def _start_servers(self) -> None:
        await self._start_dns()
        if self.smtp is not None:
            await self.capture.start()
            await self.smtp.start()
        await self._start_web()

    async def _start_web(self) -> None:
        if not self.addresses:
            return
        for server in (self.https, self.http):
            # A host whose routes for this scheme are ``false`` gets no listener on its
            # address, so a connection there is refused, as on a host with the port closed.
            bindings = {
                host: address for host, address in self.addresses.items()
                if server.routes_of(self.scenario.hosts[host]) is not None
            }
            if not bindings:
                server.port = _free_port(self.dns_address)  # nothing listens: refused
                continue
            for attempt in range(20):
                try:
                    await server.start(bindings, _free_port(next(iter(bindings.values()))))
                    break
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE or attempt == 19:
                        raise

    async def _stop_servers(self) -> None:
        # The submission server first: its deliveries in flight still reach the capture server.
        for server in (self.smtp, self.capture, self.https, self.http, self.dns, *self.nameservers.values()):
            if server is not None:
                await server.stop()


def _nameserver_specs(scenario: Scenario, apex: str | None) -> dict[str, NameserverSpec]:
    """The scenario's nameservers; when it declares none, two that agree (ns1 and ns2 of the
    apex), so that every scenario's zone is delegated and consistent."""
    if scenario.nameservers is not None:
        return scenario.nameservers
    if apex is None:
        return {}
    return {name: NameserverSpec(name) for name in (f"ns1.{apex}", f"ns2.{apex}")}


def _host_addresses(network: str, scenario: Scenario) -> dict[str, str]:
    """Each host's address in ``network`` (a /24 given as its first three octets), in the
    file's order, then ``smtp.host`` and ``smtp.outbound`` unless they are hosts (they share
    the host's address); ``edge: cloudflare`` hosts from the Cloudflare block. Raises
    ``ScenarioError`` when a block runs out."""
    blocks = {None: (FIRST_HOST, LAST_HOST), "cloudflare": (CLOUDFLARE_FIRST, CLOUDFLARE_LAST)}
    used = dict.fromkeys(blocks, 0)
    names = {host: spec.edge for host, spec in scenario.hosts.items()}
    smtp_names = [n for n in (scenario.smtp.names if scenario.smtp else ()) if n not in names]
    names.update(dict.fromkeys(smtp_names))
    addresses = {}
    for name, edge in names.items():
        first, last = blocks[edge]
        if first + used[edge] > last:
            kind = "hosts" if edge is None else f"hosts with edge: {edge}"
            counting = ", counting smtp.host and smtp.outbound" if edge is None and smtp_names else ""
            raise ScenarioError(f"a scenario may declare at most {last - first + 1} {kind}{counting}")
        addresses[name] = f"{network}.{first + used[edge]}"
        used[edge] += 1
    return addresses


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]
