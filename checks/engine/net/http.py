"""HTTP through httpx, one hop at a time, every connection through the outbound policy.

httpx keeps the URL's hostname for ``Host``, SNI and certificate checks; our network backend
(the only place a socket is opened) resolves that hostname with *our* resolver, asks the
outbound policy about each address, maps the port through the profile, and enforces one
deadline over the whole exchange — so a server that drips bytes cannot hold a check.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import h11
import httpcore
import httpx

from checks.engine.net.dns import DnsClient, ResolveError
from checks.engine.net.memo import Memo
from checks.engine.net.profile import NetworkProfile
from checks.engine.text import first_few

REDIRECT_CODES = (301, 302, 303, 307, 308)
PERMANENT_CODES = (301, 308)
# Addresses one connection tries, in the resolver's order: a hostile zone can give a name
# thousands, and trying them all on every request would make the audit a port scan for it.
MAX_CONNECT_ATTEMPTS = 8

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


class PolicyConnectError(httpcore.ConnectError):
    """Every address of the host was refused by the outbound policy."""


class DnsConnectError(httpcore.ConnectError):
    """The host has no address."""


class RefusedConnectError(httpcore.ConnectError):
    """Every allowed address answered the connection with a reset (nothing listens there)."""


def _remaining(timeout: float | None) -> float | None:
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("total time limit reached")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Clamps every read, write and handshake to the exchange's remaining time."""

    def __init__(self, inner: httpcore.NetworkStream, address: str) -> None:
        self._inner = inner
        self.address = address

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        inner = self._inner.start_tls(ssl_context, server_hostname, _remaining(timeout))
        return _DeadlineStream(inner, self.address)

    def get_extra_info(self, info: str):
        if info == "address":
            return self.address
        return self._inner.get_extra_info(info)


class ConnectAttempts:
    """Connecting to one of a host's addresses, the bookkeeping shared by the sync and async
    backends: ``candidates()`` yields the addresses the outbound policy allows (after the port
    map), at most ``MAX_CONNECT_ATTEMPTS`` tried; ``failed()`` records why one did not answer;
    ``error()`` is the exception that says why none did."""

    def __init__(self, profile: NetworkProfile, addresses: list[str], port: int) -> None:
        self.addresses, self.port = addresses, port
        self.connect_port = profile.port(port)
        self._policy = profile.policy
        self.refusals: list[str] = []
        self.failures: list[str] = []
        self.refused = 0  # failures that were a connection refused (nothing listens)
        self.untried = ""

    def candidates(self):
        for address in self.addresses:
            refusal = self._policy.refusal(address, self.connect_port)
            if refusal:
                self.refusals.append(refusal)
                continue
            if len(self.failures) == MAX_CONNECT_ATTEMPTS:
                left = len(self.addresses) - len(self.failures) - len(self.refusals)
                self.untried = f"; {left} more addresses not tried"
                return
            yield address

    def failed(self, address: str, exc: BaseException, *, refused: bool = False) -> None:
        self.refused += refused
        reason = "connection refused" if refused else (str(exc) or type(exc).__name__)
        self.failures.append(f"{address}:{self.port}: {reason}")

    def error(self) -> httpcore.ConnectError:
        if self.refusals and not self.failures:
            return PolicyConnectError(first_few(self.refusals, separator="; "))  # a name may have thousands
        if self.failures and self.refused == len(self.failures) and not self.refusals:
            return RefusedConnectError(first_few(self.failures, separator="; ") + self.untried)
        return httpcore.ConnectError(first_few(self.failures + self.refusals, separator="; ") + self.untried)


class GuardedBackend(httpcore.NetworkBackend):
    """The single place HTTP opens sockets: our resolver, the policy, the port map."""

    def __init__(self, profile: NetworkProfile, dns: DnsClient) -> None:
        self.profile = profile
        self.dns = dns
        self._inner = httpcore.SyncBackend()
        self._lock = threading.Lock()
        self.connections_opened = 0

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = self.dns.addresses(host)
        except ResolveError as exc:
            raise DnsConnectError(str(exc)) from None
        attempts = ConnectAttempts(self.profile, addresses, port)
        for address in attempts.candidates():
            try:
                stream = self._inner.connect_tcp(
                    address, attempts.connect_port, timeout=_remaining(timeout),
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                attempts.failed(address, exc)
                continue
            with self._lock:
                self.connections_opened += 1
            return _DeadlineStream(stream, address)
        raise attempts.error()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class HttpExchange:
    """One request and its response (or the reason there is none).

    ``headers`` keep every field in order, repeats included (RFC 9110 §5.3: a recipient must
    not fold fields it does not know to be list-valued). ``body`` is capped at the profile's
    ``max_body_bytes``; ``truncated`` says it was. ``error_kind`` is one of ``dns``,
    ``policy``, ``connect``, ``tls``, ``timeout``, ``protocol``.
    """

    url: str
    method: str = "GET"
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    truncated: bool = False
    elapsed_ms: float = 0.0
    address: str | None = None
    http_version: str | None = None
    error: str | None = None
    error_kind: str | None = None

    def header(self, name: str) -> str | None:
        """The first field named ``name`` (case-insensitive), or ``None``."""
        values = self.header_fields(name)
        return values[0] if values else None

    def header_fields(self, name: str) -> list[str]:
        """Every field named ``name``, in order, unjoined."""
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def is_redirect(self) -> bool:
        return self.status in REDIRECT_CODES and self.header("location") is not None

    @property
    def location(self) -> str | None:
        """The redirect target made absolute against this request's URL."""
        value = self.header("location")
        return urljoin(self.url, value.strip()) if value is not None else None

    def as_evidence(self, *headers: str) -> dict:
        """A compact record: URL, status, location, address, time, chosen headers, error."""
        data: dict = {"url": self.url, "method": self.method}
        if self.status is not None:
            data["status"] = self.status
        if self.is_redirect:
            data["location"] = self.location
        if self.address:
            data["address"] = self.address
        data["elapsed_ms"] = round(self.elapsed_ms, 1)
        for name in headers:
            values = self.header_fields(name)
            if values:
                data.setdefault("headers", []).extend([name, v] for v in values)
        if self.error:
            data["error"] = self.error
            data["error_kind"] = self.error_kind
        return data


@dataclass
class RedirectChain:
    """The hops from a start URL; ``end`` is ``final``, ``loop``, ``capped``, ``error`` or
    ``bad_location`` (a redirect to a scheme other than http/https, or no host)."""

    hops: list[HttpExchange]
    end: str

    @property
    def final(self) -> HttpExchange:
        return self.hops[-1]

    @property
    def redirects(self) -> int:
        return sum(1 for h in self.hops if h.is_redirect)

    def as_evidence(self) -> list[dict]:
        return [h.as_evidence() for h in self.hops]


class HttpClient:
    """Fetches URLs one hop at a time; identical GETs in one audit are sent once."""

    def __init__(self, profile: NetworkProfile, dns: DnsClient) -> None:
        self.profile = profile
        self.backend = GuardedBackend(profile, dns)
        # One context for both: loading the system trust store costs tens of ms of CPU.
        context = profile.ssl_context()
        transport = httpx.HTTPTransport(verify=context)
        # httpx builds its own pool with the default backend; ours is the policy seam.
        transport._pool = httpcore.ConnectionPool(
            ssl_context=context, network_backend=self.backend,
            max_connections=64, keepalive_expiry=5.0,
        )
        # We send through the transport, not an httpx.Client: the client parses a redirect's
        # Location even when it does not follow it, and a hostile Location (javascript:, raw
        # UTF-8) would then sink the whole exchange. We judge Location ourselves.
        self._transport = transport
        self._timeout = httpx.Timeout(profile.http_timeout_s, connect=profile.connect_timeout_s)
        self._memo = Memo()

    def close(self) -> None:
        self._transport.close()

    def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: tuple[tuple[str, str], ...] = (),
        timeout_s: float | None = None,
        body: bytes = b"",
    ) -> HttpExchange:
        """One request, no redirects followed; never raises for network failures. ``body``
        is sent as the request content (a login form's fields); GET and HEAD without a body
        are sent once per audit (memoised)."""
        key = (method, url, headers, timeout_s, body)
        if method in ("GET", "HEAD") and not body:
            return self._memo.get(key, lambda: self._fetch(*key))
        return self._fetch(*key)

    def follow(self, url: str, *, max_hops: int | None = None) -> RedirectChain:
        """Follow redirects ourselves, each hop resolved and policy-checked again."""
        max_hops = self.profile.max_redirects if max_hops is None else max_hops
        hops: list[HttpExchange] = []
        seen: set[str] = set()
        current = url
        while True:
            exchange = self.fetch(current)
            hops.append(exchange)
            if exchange.error:
                return RedirectChain(hops, "error")
            if not exchange.is_redirect:
                return RedirectChain(hops, "final")
            seen.add(current)
            target = exchange.location
            if not _fetchable(target):
                return RedirectChain(hops, "bad_location")
            if target in seen:
                return RedirectChain(hops, "loop")
            if len(hops) > max_hops:
                return RedirectChain(hops, "capped")
            current = target

    def _fetch(self, method, url, headers, timeout_s, body=b"") -> HttpExchange:
        exchange = HttpExchange(url=url, method=method)
        started = time.monotonic()
        token = _deadline.set(started + (timeout_s or self.profile.http_timeout_s))
        try:
            request = httpx.Request(
                method, url, headers=[("User-Agent", self.profile.user_agent), *headers],
                content=body or None, extensions={"timeout": self._timeout.as_dict()},
            )
            with contextlib.closing(self._transport.handle_request(request)) as response:
                response.request = request
                exchange.status = response.status_code
                exchange.http_version = response.http_version
                exchange.headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
                ]
                stream = response.extensions.get("network_stream")
                exchange.address = stream.get_extra_info("address") if stream else None
                exchange.body, exchange.truncated = self._read_capped(response)
        except httpx.HTTPError as exc:
            exchange.error_kind, exchange.error = _describe(exc)
        except (httpcore.ReadTimeout, httpcore.ConnectTimeout) as exc:
            exchange.error_kind, exchange.error = "timeout", f"timed out: {exc}"
        except httpx.InvalidURL as exc:
            exchange.error_kind, exchange.error = "protocol", f"not a URL that can be fetched: {exc}"
        except (ValueError, UnicodeError) as exc:  # malformed URL or header from the peer
            exchange.error_kind, exchange.error = "protocol", error_text(exc)
        finally:
            _deadline.reset(token)
            exchange.elapsed_ms = (time.monotonic() - started) * 1000
        if exchange.error and exchange.error_kind == "timeout":
            exchange.error = f"{exchange.error} (after {exchange.elapsed_ms / 1000:.1f} s)"
        return exchange

    def _read_capped(self, response: httpx.Response) -> tuple[bytes, bool]:
        cap = self.profile.max_body_bytes
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > cap:
                return bytes(body[:cap]), True
        return bytes(body), False


def _fetchable(url: str) -> bool:
    """An absolute http(s) URL with a host that httpx can send (a Location may be anything)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    try:
        httpx.URL(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except (httpx.InvalidURL, ValueError, UnicodeError):
        return False
    return True


# What a request we could not send says, instead of the exception's own text: h11 quotes the
# offending header value in full, and that value may be a test account's token or cookie.
UNSENDABLE = ("the request could not be sent: a header value holds a line break or another "
              "character HTTP forbids (RFC 9110 §5.5)")


def error_text(exc: BaseException) -> str:
    """``exc`` as a message for evidence: its text, except for a request we refused to send
    (``LocalProtocolError`` of httpx, httpcore or h11), which would quote a header value."""
    if isinstance(exc, httpx.LocalProtocolError | httpcore.LocalProtocolError | h11.LocalProtocolError):
        return UNSENDABLE
    return str(exc) or type(exc).__name__


def is_refusal(exc: BaseException) -> bool:
    """True when ``exc`` or an exception in its cause chain is a ``ConnectionRefusedError``
    (anyio wraps it as ``OSError('All connection attempts failed')``, httpcore wraps that)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ConnectionRefusedError):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def describe_core(exc: BaseException) -> tuple[str, str]:
    """``(error_kind, message)`` for an exception httpcore raised (the stage 4 probes talk to
    httpcore directly), in the words ``HttpExchange`` uses: ``policy``, ``dns``, ``refused``,
    ``tls``, ``connect``, ``protocol``."""
    text = error_text(exc)
    if isinstance(exc, PolicyConnectError):
        return "policy", text
    if isinstance(exc, DnsConnectError):
        return "dns", text
    if isinstance(exc, RefusedConnectError) or is_refusal(exc):
        return "refused", text
    if isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__ or exc.__context__, ssl.SSLError) \
            or "SSL" in text or "certificate" in text:
        return "tls", f"TLS failed: {_openssl_plain(text)}"
    if isinstance(exc, httpcore.ConnectError):
        return "connect", text
    return "protocol", text


def _describe(exc: httpx.HTTPError) -> tuple[str, str]:
    cause = exc.__cause__
    if isinstance(cause, PolicyConnectError):
        return "policy", str(cause)
    if isinstance(cause, DnsConnectError):
        return "dns", str(cause)
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"timed out ({type(exc).__name__})"
    text = error_text(exc)
    if isinstance(cause, ssl.SSLError) or "SSL" in text or "certificate" in text:
        return "tls", f"TLS failed: {_openssl_plain(text)}"
    if isinstance(exc, httpx.ConnectError):
        return "connect", text
    return "protocol", text


_OPENSSL_NOISE = re.compile(r"\[SSL: [A-Z0-9_]+\]\s*|\s*\(_ssl\.c:\d+\)")


def _openssl_plain(text: str) -> str:
    """OpenSSL's message without its library tags and C line numbers, for people to read:
    ``[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired
    (_ssl.c:1006)`` → ``certificate verify failed: certificate has expired``."""
    return _OPENSSL_NOISE.sub("", text).strip()
