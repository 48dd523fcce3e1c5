"""The sandbox's HTTP and HTTPS servers: h11 over asyncio.

HTTP has one listener on every host's address and routes on the ``Host`` field. HTTPS has
one listener per host, on that host's address, whose TLS context carries the host's
certificate and TLS versions; a connection whose SNI names another host of the scenario (a
CNAME to a shared address) gets that host's certificate but the listener's versions, since
OpenSSL settles the version bounds before the SNI callback runs. A host that accepts TLS 1.0
or 1.1, or serves a weak key or a SHA-1 signature, gets OpenSSL's security level 0: OpenSSL 3
refuses all three at its default level. Responses are written exactly as the scenario says:
repeated header fields stay repeated, latency is real time; a host with ``edge: cloudflare``
adds the headers Cloudflare's proxy adds, unless the route gives them itself.
"""

from __future__ import annotations

import asyncio
import fnmatch
import secrets
import ssl
import warnings

import h11

from checks.sandbox.certs import ServedCert, is_weak
from checks.sandbox.members import MAX_LOGIN_BYTES, MemberApp
from checks.sandbox.scenario import HostSpec, Route
from checks.sandbox.tasks import HandlerTasks

CHUNK = 64 * 1024
_TLS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_LEGACY = ("TLSv1", "TLSv1.1")


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
        self._route_hits: dict[int, int] = {}  # id(route) -> requests it answered (slow_every)
        self._servers: list[asyncio.AbstractServer] = []
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._handlers = HandlerTasks()
        self.member_app = MemberApp({n: h.members for n, h in hosts.items() if h.members is not None})

    def routes_of(self, spec: HostSpec) -> list[Route] | None:
        """The host's routes for this server's scheme; ``None`` when nothing answers there."""
        return spec.https if self.scheme == "https" else spec.http

    async def start(self, bindings: dict[str, str], port: int) -> None:
        """Listen on ``port`` of each address in ``bindings`` (host → address)."""
        callback = self._handlers.callback(self._serve)
        if self.scheme == "http":
            self._servers.append(
                await asyncio.start_server(callback, host=list(bindings.values()), port=port)
            )
        else:
            self._make_contexts()
            for host, address in bindings.items():
                self._servers.append(await asyncio.start_server(
                    callback, host=address, port=port, ssl=self._contexts[host],
                    ssl_handshake_timeout=10,
                ))
        self.port = port

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        await self._handlers.cancel_all()
        for server in self._servers:
            await server.wait_closed()

    def _make_contexts(self) -> None:
        for name, spec in self.hosts.items():
            cert = self.certs[name]
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            if is_weak(spec.certificate) or set(_LEGACY) & set(spec.tls_versions):
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():  # Python deprecates TLS 1.0/1.1; serving them is the fault
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = min(_TLS[v] for v in spec.tls_versions)
                ctx.maximum_version = max(_TLS[v] for v in spec.tls_versions)
            ctx.load_cert_chain(cert.chain_path, cert.key_path)
            ctx.sni_callback = self._pick_certificate
            self._contexts[name] = ctx

    def _pick_certificate(self, ssl_object, server_name, _context):
        host = (server_name or "").lower()
        if not host:
            return None  # no SNI: the listener's own host answers
        spec = self.hosts.get(host)
        if spec is None or spec.https is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        if ssl_object.context is not self._contexts[host]:
            ssl_object.context = self._contexts[host]
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                received = await _next_request(conn, reader)
                if received is None:
                    break
                self.requests += 1
                await self._respond(conn, writer, *received)
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    break
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _respond(self, conn: h11.Connection, writer, request: h11.Request, content: bytes) -> None:
        method = request.method.decode()
        target = request.target.decode("latin-1")
        host = _host_field(request)
        spec = self.hosts.get(host)
        routes = self.routes_of(spec) if spec else None
        route = find_route(routes or [], method, target)
        if route is None:
            body = f"no route for {method} {self.scheme}://{host}{target}\n".encode()
            route = Route(path=target, status=404 if spec else 421, body=body,
                          headers=[("Content-Type", "text/plain")])
        latency_ms = self._latency_ms(route)
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        route = self.member_app.respond(host, route, method, target, request.headers, content)
        # Bytes, so a scenario can send raw UTF-8 in a field the way a careless server does.
        headers = [(k.encode("ascii"), _expand(v, route, target, host).encode("utf-8"))
                   for k, v in route.headers]
        if spec is not None and spec.edge == "cloudflare":
            headers = _cloudflare_headers(headers)
        if route.stream == "endless":
            await self._send_endless(conn, writer, route, headers)
            return
        if not any(k.lower() == b"content-length" for k, _ in headers):
            headers.append((b"Content-Length", str(len(route.body)).encode()))
        out = conn.send(h11.Response(status_code=route.status, headers=headers))
        out += conn.send(h11.Data(data=route.body)) if route.body and method != "HEAD" else b""
        out += conn.send(h11.EndOfMessage())
        writer.write(out)
        await writer.drain()

    def _latency_ms(self, route: Route) -> float:
        """``slow_ms`` for every ``slow_every``-th request to ``route``, else ``latency_ms``."""
        if not route.slow_every:
            return route.latency_ms
        hits = self._route_hits[id(route)] = self._route_hits.get(id(route), 0) + 1
        return route.slow_ms if hits % route.slow_every == 0 else route.latency_ms

    async def _send_endless(self, conn, writer, route: Route, headers) -> None:
        writer.write(conn.send(h11.Response(status_code=route.status, headers=headers)))
        chunk = (route.body or b"x") * max(1, CHUNK // max(1, len(route.body or b"x")))
        while not writer.is_closing():
            writer.write(conn.send(h11.Data(data=chunk)))
            await writer.drain()
            # Always yield to the loop: drain() returns at once while the transport is not
            # paused, and once the client hangs up its writes are dropped, so the transport
            # never pauses; only the loop's callbacks mark the writer closing. Without this
            # the loop spins here and every other server of the sandbox stops answering.
            await asyncio.sleep(route.chunk_delay_ms / 1000)


def _cloudflare_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """What Cloudflare's proxy adds to a response: ``Server: cloudflare`` and a ``CF-RAY`` (the
    request's id: 16 hex digits, then the data centre; ``SBX`` here). A route that gives a
    ``Server`` or ``CF-RAY`` of its own sends exactly its own fields, so a scenario can play an
    origin answering on a Cloudflare address."""
    if any(name.lower() in (b"server", b"cf-ray") for name, _ in headers):
        return headers
    ray = f"{secrets.token_hex(8)}-SBX".encode()
    return [(b"Server", b"cloudflare"), (b"CF-RAY", ray), *headers]


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


async def _next_request(
    conn: h11.Connection, reader: asyncio.StreamReader,
) -> tuple[h11.Request, bytes] | None:
    """The next request and its body (kept up to ``MAX_LOGIN_BYTES``: a login form)."""
    request, content = None, b""
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
        elif isinstance(event, h11.Data) and len(content) < MAX_LOGIN_BYTES:
            content += bytes(event.data[:MAX_LOGIN_BYTES - len(content)])
        elif isinstance(event, h11.EndOfMessage):
            return (request, content) if request is not None else None
        elif isinstance(event, h11.ConnectionClosed):
            return None
