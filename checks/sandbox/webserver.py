"""The sandbox's HTTP and HTTPS servers: h11 over asyncio, one listener per scheme.

Every host address shares the listeners; TLS picks the host's certificate from SNI and
HTTP routes on the ``Host`` field, as a shared load balancer does. Responses are written
exactly as the scenario says: repeated header fields stay repeated, latency is real time.
"""

from __future__ import annotations

import asyncio
import fnmatch
import ssl

import h11

from checks.sandbox.certs import ServedCert
from checks.sandbox.scenario import HostSpec, Route

CHUNK = 64 * 1024
_TLS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def find_route(routes: list[Route], method: str, target: str) -> Route | None:
    """First route whose path matches ``target`` (query ignored) and whose method fits."""
    path = target.split("?", 1)[0]
    for route in routes:
        if route.method and route.method != method:
            continue
        if route.path == path or ("*" in route.path and fnmatch.fnmatchcase(path, route.path)):
            return route
    return None


class WebServer:
    """Serves every host of a scenario over ``scheme`` (``http`` or ``https``)."""

    def __init__(self, scheme: str, hosts: dict[str, HostSpec], certs: dict[str, ServedCert]):
        self.scheme = scheme
        self.hosts = hosts
        self.certs = certs
        self.port = 0
        self.requests = 0
        self._server: asyncio.AbstractServer | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}

    async def start(self, addresses: list[str], port: int) -> None:
        ssl_context = self._ssl_context() if self.scheme == "https" else None
        self._server = await asyncio.start_server(
            self._serve, host=addresses, port=port, ssl=ssl_context,
            ssl_handshake_timeout=10 if ssl_context else None,
        )
        self.port = port

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    def _ssl_context(self) -> ssl.SSLContext:
        for name, spec in self.hosts.items():
            cert = self.certs[name]
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = min(_TLS[v] for v in spec.tls_versions)
            ctx.maximum_version = max(_TLS[v] for v in spec.tls_versions)
            ctx.load_cert_chain(cert.chain_path, cert.key_path)
            self._contexts[name] = ctx
        default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        first = next(iter(self.certs.values()))
        default.load_cert_chain(first.chain_path, first.key_path)
        default.sni_callback = self._pick_certificate
        return default

    def _pick_certificate(self, ssl_object, server_name, _context):
        host = (server_name or "").lower()
        spec = self.hosts.get(host)
        if spec is None or spec.https is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        ssl_object.context = self._contexts[host]
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await _next_request(conn, reader)
                if request is None:
                    break
                self.requests += 1
                await self._respond(conn, writer, request)
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    break
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _respond(self, conn: h11.Connection, writer, request: h11.Request) -> None:
        method = request.method.decode()
        target = request.target.decode("latin-1")
        host = _host_field(request)
        spec = self.hosts.get(host)
        routes = (spec.https if self.scheme == "https" else spec.http) if spec else None
        route = find_route(routes or [], method, target)
        if route is None:
            body = f"no route for {method} {self.scheme}://{host}{target}\n".encode()
            route = Route(path=target, status=404 if spec else 421, body=body,
                          headers=[("Content-Type", "text/plain")])
        if route.latency_ms:
            await asyncio.sleep(route.latency_ms / 1000)
        headers = [(k, _expand(v, route, target, host)) for k, v in route.headers]
        if route.stream == "endless":
            await self._send_endless(conn, writer, route, headers)
            return
        if not any(k.lower() == "content-length" for k, _ in headers):
            headers.append(("Content-Length", str(len(route.body))))
        out = conn.send(h11.Response(status_code=route.status, headers=headers))
        out += conn.send(h11.Data(data=route.body)) if route.body and method != "HEAD" else b""
        out += conn.send(h11.EndOfMessage())
        writer.write(out)
        await writer.drain()

    async def _send_endless(self, conn, writer, route: Route, headers) -> None:
        writer.write(conn.send(h11.Response(status_code=route.status, headers=headers)))
        chunk = (route.body or b"x") * max(1, CHUNK // max(1, len(route.body or b"x")))
        while not writer.is_closing():
            writer.write(conn.send(h11.Data(data=chunk)))
            await writer.drain()
            if route.chunk_delay_ms:
                await asyncio.sleep(route.chunk_delay_ms / 1000)


def _expand(value: str, route: Route, target: str, host: str) -> str:
    """Fill ``{path}`` (the request target), ``{host}``, and ``{rest}`` (what a trailing
    ``*`` of the route's path matched, with the query)."""
    prefix = route.path[:-1] if route.path.endswith("*") else route.path
    rest = target[len(prefix):] if target.startswith(prefix) else target
    return value.replace("{path}", target).replace("{host}", host).replace("{rest}", rest)


def _host_field(request: h11.Request) -> str:
    for name, value in request.headers:
        if name == b"host":
            return value.decode("latin-1").rsplit(":", 1)[0].lower()
    return ""


async def _next_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    request = None
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(CHUNK)
            conn.receive_data(data)
            if not data and conn.their_state is h11.IDLE:
                return None
            continue
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.EndOfMessage):
            return request
        elif isinstance(event, h11.ConnectionClosed):
            return None
