"""Async HTTP through httpx, every connection through the outbound policy — for monitors.

``AsyncHttpClient`` is the asynchronous twin of ``HttpClient`` (``http.py``): many probes run
at once on one event loop. It keeps the same seams:

- ``AsyncGuardedBackend`` is the only place a socket is opened. It resolves the URL's
  hostname with *our* resolver (the sync ``DnsClient`` of ``dns.py``, run in a worker thread:
  one resolver, one set of nameservers, one record of queries, no second DNS stack), asks the
  profile's ``OutboundPolicy`` about every address, maps the port through the profile, and
  connects to the allowed address. httpx keeps the hostname for ``Host``, SNI and certificate
  verification (against the profile's trust: system store plus ``extra_ca_pem``).
- One deadline (``timeout_s``) bounds the whole exchange — resolving, connecting, TLS, the
  request, the response head and the capped body — so a server that drips bytes cannot
  hold a probe past it.
- Results are ``HttpExchange`` records, as in ``http.py``; ``error_kind`` is one of ``dns``,
  ``policy``, ``connect``, ``refused`` (the peer answered the connection with a reset: RST),
  ``tls``, ``timeout``, ``protocol``.

Connections are not kept alive between requests (``max_keepalive_connections=0``): a probe
is one fresh connection, so a server that stopped accepting new connections is seen as down
at once, not after a pooled connection closes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import anyio
import httpcore
import httpx

from checks.engine.net.dns import DnsClient, ResolveError
from checks.engine.net.http import (
    ConnectAttempts,
    DnsConnectError,
    HttpExchange,
    RefusedConnectError,
    _describe,
    _fetchable,
    error_text,
    is_refusal,
)
from checks.engine.net.profile import NetworkProfile


class AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens sockets for async httpx: our resolver (in a thread), the policy, the port map.

    ``resolver_limit``: at most this many resolutions at once in threads (each may hold a
    thread for the DNS timeout).
    """

    def __init__(self, profile: NetworkProfile, dns: DnsClient, *, resolver_limit: int = 32) -> None:
        self.profile = profile
        self.dns = dns
        self._inner = httpcore.AnyIOBackend()
        self._limiter = anyio.CapacityLimiter(resolver_limit)
        self.connections_opened = 0

    async def resolve(self, host: str) -> list[str]:
        """``DnsClient.addresses(host)`` in a worker thread; abandoned (not awaited) when the
        probe's deadline cancels it, the thread then ends at the DNS timeout. Raises
        ``ResolveError`` like ``DnsClient.addresses``."""
        return await anyio.to_thread.run_sync(
            self.dns.addresses, host, abandon_on_cancel=True, limiter=self._limiter
        )

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = await self.resolve(host)
        except ResolveError as exc:
            raise DnsConnectError(str(exc)) from None
        attempts = ConnectAttempts(self.profile, addresses, port)
        for address in attempts.candidates():
            try:
                stream = await self._inner.connect_tcp(
                    address, attempts.connect_port, timeout=timeout, socket_options=socket_options
                )
            except httpcore.ConnectTimeout:
                raise  # the probe's own deadline: no second address within it
            except httpcore.ConnectError as exc:
                attempts.failed(address, exc, refused=is_refusal(exc))
                continue
            self.connections_opened += 1
            return _AddressedStream(stream, address)
        raise attempts.error()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class _AddressedStream(httpcore.AsyncNetworkStream):
    """The inner stream, answering ``get_extra_info("address")`` with the address connected to
    (the response then says which of the host's addresses answered)."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, address: str) -> None:
        self._inner = inner
        self.address = address

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        inner = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _AddressedStream(inner, self.address)

    def get_extra_info(self, info: str):
        if info == "address":
            return self.address
        return self._inner.get_extra_info(info)


class AsyncHttpClient:
    """Sends requests on one event loop, concurrently; ``aclose()`` (or ``async with``) when done.

    ``max_connections``: connections open at once (further requests wait for one, inside
    their own deadline). One ``DnsClient`` is shared by every request of the client, so a
    name asked by many requests is resolved once (memoised for the client's life: make a
    client per batch of work, not per process).
    """

    def __init__(self, profile: NetworkProfile, dns: DnsClient | None = None, *,
                 max_connections: int = 100) -> None:
        self.profile = profile
        self.dns = dns or DnsClient(profile)
        self.backend = AsyncGuardedBackend(profile, self.dns, resolver_limit=min(max_connections, 64))
        context = profile.ssl_context()
        transport = httpx.AsyncHTTPTransport(verify=context)
        # httpx builds its own pool with the default backend; ours is the policy seam.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=context, network_backend=self.backend,
            max_connections=max_connections, max_keepalive_connections=0,
        )
        # Sent through the transport, not an httpx.AsyncClient, as in http.py: we judge a
        # redirect's Location ourselves (a hostile one must not sink the exchange).
        self._transport = transport

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncHttpClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        timeout_s: float,
        content: bytes | None = None,
        headers: Iterable[tuple[str, str]] = (),
        max_body_bytes: int = 0,
        follow_redirects: int = 0,
    ) -> list[HttpExchange]:
        """Send ``method url`` and follow up to ``follow_redirects`` redirects (GET after a
        303, else the same method; each hop resolved and policy-checked again).

        Returns the hops, last one final; never raises for network failures (the last hop's
        ``error``/``error_kind`` say what failed). ``timeout_s`` (seconds) bounds the whole
        chain. Each body is read up to ``max_body_bytes`` bytes (0: not read at all; the
        connection is closed after the head); ``truncated`` says the cap was reached.
        ``elapsed_ms`` of each hop is from the start of its request to its last byte read.
        """
        hops: list[HttpExchange] = []
        deadline = time.monotonic() + timeout_s
        current, current_method, body = url, method, content
        seen = {url}
        while True:
            left = deadline - time.monotonic()
            exchange = await self._send(current_method, current, body, tuple(headers), left, max_body_bytes)
            hops.append(exchange)
            if exchange.error_kind == "timeout":
                exchange.error = f"timeout after {timeout_s:g} s"
            if exchange.error or not exchange.is_redirect or len(hops) > follow_redirects:
                return hops
            target = exchange.location
            if not _fetchable(target) or target in seen:
                exchange.error_kind = "protocol"
                exchange.error = ("redirect loop" if target in seen
                                  else "redirect to a location that cannot be fetched")
                return hops
            seen.add(target)
            if exchange.status == 303 or (exchange.status in (301, 302) and current_method == "POST"):
                current_method, body = "GET", None  # RFC 9110 §15.4.4, §15.4.2 note
            current = target

    async def _send(self, method, url, content, headers, left_s, max_body_bytes) -> HttpExchange:
        exchange = HttpExchange(url=url, method=method)
        started = time.monotonic()
        try:
            if left_s <= 0:
                raise TimeoutError
            async with asyncio.timeout(left_s):
                request = httpx.Request(
                    method, url, content=content,
                    # identity: a body we search is read as sent, with no decompression bomb.
                    headers=[("User-Agent", self.profile.user_agent), ("Accept-Encoding", "identity"),
                             *headers],
                    extensions={"timeout": httpx.Timeout(left_s).as_dict()},
                )
                response = await self._transport.handle_async_request(request)
                try:
                    exchange.status = response.status_code
                    exchange.http_version = response.http_version
                    exchange.headers = [
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
                    ]
                    stream = response.extensions.get("network_stream")
                    exchange.address = stream.get_extra_info("address") if stream else None
                    if max_body_bytes > 0:
                        exchange.body, exchange.truncated = await _read_capped(response, max_body_bytes)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException, httpcore.TimeoutException):
            exchange.error_kind, exchange.error = "timeout", "timed out"
        except httpx.HTTPError as exc:
            cause = exc.__cause__
            if isinstance(cause, RefusedConnectError):
                exchange.error_kind, exchange.error = "refused", str(cause)
            else:
                exchange.error_kind, exchange.error = _describe(exc)
        except (ValueError, UnicodeError) as exc:  # malformed URL or header from the peer
            exchange.error_kind, exchange.error = "protocol", error_text(exc)
        finally:
            exchange.elapsed_ms = (time.monotonic() - started) * 1000
        return exchange


async def _read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """The decoded body up to ``cap`` bytes, and whether there was more."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > cap:
            return bytes(body[:cap]), True
    return bytes(body), False
