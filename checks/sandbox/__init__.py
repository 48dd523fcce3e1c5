"""The sandbox: a client's launch surface, played on loopback from a scenario file.

``Sandbox(scenario)`` starts a real DNS server, an HTTPS server with certificates from a
test CA and a plain HTTP server, all on a /24 of 127.0.0.0/8 of its own (no root needed),
and hands out the ``NetworkProfile`` that points the engine at them::

    with Sandbox(load_scenario("scenarios/demo.yaml")) as sandbox:
        with Net(sandbox.profile) as net:
            ...

Every host named under ``hosts`` gets its own loopback address, and an A record for it
unless the scenario's ``dns`` gives the name an address or a CNAME itself.
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

from checks.engine.net.profile import NetworkProfile
from checks.sandbox.certs import CertificateFactory
from checks.sandbox.dnsserver import DnsServer, Zone
from checks.sandbox.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from checks.sandbox.webserver import WebServer

__all__ = ["Sandbox", "Scenario", "ScenarioError", "load_scenario", "parse_scenario"]


class Sandbox:
    """Runs a scenario's servers on a background event loop until ``stop()``."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.network = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}"
        self.dns_address = f"{self.network}.2"
        self.addresses = {
            host: f"{self.network}.{10 + i}" for i, host in enumerate(scenario.hosts)
        }
        if len(self.addresses) > 240:
            raise ScenarioError("a scenario may declare at most 240 hosts")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tmp: Path | None = None
        self.profile: NetworkProfile | None = None
        self.dns: DnsServer | None = None
        self.https: WebServer | None = None
        self.http: WebServer | None = None

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
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sandbox", daemon=True)
        self._thread.start()
        zone = Zone(self._zone_data(), self.scenario.dns_latency_ms)
        self.dns = DnsServer(zone, self.dns_address)
        self.https = WebServer("https", self.scenario.hosts, certs)
        self.http = WebServer("http", self.scenario.hosts, certs)
        try:
            self._run(self._start_servers())
        except BaseException:
            self.stop()
            raise
        self.profile = NetworkProfile(
            nameservers=(self.dns_address,),
            dns_port=self.dns.port,
            extra_ca_pem=factory.ca_pem,
            port_map={80: self.http.port, 443: self.https.port},
            allowed_networks=(f"{self.network}.0/24",),
            allowed_ports=(self.http.port, self.https.port),
        )
        return self.profile

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

    def _zone_data(self) -> dict:
        zone = dict(self.scenario.dns)
        for host, address in self.addresses.items():
            node = zone.get(host)
            if node is None:
                zone[host] = {"A": [address]}
            elif isinstance(node, dict) and not {"A", "AAAA", "CNAME"} & set(node):
                zone[host] = {**node, "A": [address]}
        return zone

    async def _start_servers(self) -> None:
        await self.dns.start()
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
        for server in (self.https, self.http, self.dns):
            if server is not None:
                await server.stop()


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]
