"""Measuring what a response costs on the wire, and on a slow phone.

``measure`` sends one GET offering compression and counts the body's bytes as they arrive,
before any ``Content-Encoding`` is undone (httpcore's raw stream: httpx decodes later, we
never do), up to ``MAX_COUNT_BYTES``; no byte is kept. The connection goes through the
audit's ``GuardedBackend`` (our resolver, the outbound policy, the port map), like every
other request. ``load_ms`` estimates the time on Lighthouse's "Slow 4G" mobile profile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpcore

from checks.engine.net.http import HttpClient, describe_core

ACCEPT_ENCODING = "gzip, br"
COMPRESSIONS = ("gzip", "br", "zstd", "deflate", "x-gzip")
MAX_COUNT_BYTES = 50_000_000  # counted, not kept; past it the size is reported as "over"
# Lighthouse's mobile throttling, "Slow 4G" (lighthouse docs/throttling.md and
# core/config/constants.js `throttling.mobileSlow4G`): 150 ms TCP round trip, 1.6 Mbit/s
# (1.6 × 1024 kbit/s) down.
PROFILE_NAME = "Lighthouse Slow 4G (150 ms RTT, 1.6 Mbit/s down)"
RTT_MS = 150
DOWN_BITS_PER_S = 1.6 * 1024 * 1000
# Round trips before the first body byte of a new HTTPS visit: DNS, TCP handshake, TLS 1.3
# handshake (RFC 8446 §2: one round trip), request to first byte. Plain HTTP: one fewer.
HTTPS_ROUND_TRIPS = 4
HTTP_ROUND_TRIPS = 3
# Media types worth compressing (text); images, video, fonts in woff2 are compressed already.
_TEXT_TYPES = ("application/json", "application/javascript", "application/xml", "application/xhtml+xml",
               "application/manifest+json", "application/ld+json", "image/svg+xml")


@dataclass
class Transfer:
    """One measured GET: ``status``, the response ``headers``, ``size_bytes`` (body bytes as
    sent, Content-Encoding applied; chunked framing and header bytes not counted), ``over``
    (the count stopped at ``MAX_COUNT_BYTES``: the size is at least that), ``elapsed_ms``,
    or ``error`` / ``error_kind`` when there is no answer."""

    url: str
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    size_bytes: int = 0
    over: bool = False
    elapsed_ms: float = 0.0
    error: str | None = None
    error_kind: str | None = None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def measure(http: HttpClient, url: str, *, headers: tuple[tuple[str, str], ...] = (),
            timeout_s: float | None = None) -> Transfer:
    """GET ``url`` with ``Accept-Encoding: gzip, br`` plus ``headers`` and count the raw body
    (see ``Transfer``). Never raises for network failures. The whole exchange is bounded by
    ``timeout_s`` (default the profile's ``http_timeout_s``), checked after every chunk, and
    each read by the profile's read timeout: a server that drips bytes is stopped."""
    profile = http.profile
    limit_s = timeout_s or profile.http_timeout_s
    transfer = Transfer(url)
    started = time.monotonic()
    request_headers = [("User-Agent", profile.user_agent), ("Accept-Encoding", ACCEPT_ENCODING), *headers]
    timeouts = {"connect": profile.connect_timeout_s, "read": limit_s, "write": limit_s, "pool": limit_s}
    try:
        pool = httpcore.ConnectionPool(ssl_context=profile.ssl_context(), network_backend=http.backend,
                                       max_connections=1)
        options = {"timeout": timeouts}
        with pool, pool.stream("GET", url, headers=request_headers, extensions=options) as response:
            transfer.status = response.status
            transfer.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers]
            for chunk in response.iter_stream():
                transfer.size_bytes += len(chunk)
                if transfer.size_bytes > MAX_COUNT_BYTES:
                    transfer.size_bytes, transfer.over = MAX_COUNT_BYTES, True
                    break
                if time.monotonic() - started > limit_s:
                    raise httpcore.ReadTimeout(f"the body took longer than {limit_s:g} s")
    except httpcore.TimeoutException as exc:
        transfer.error_kind, transfer.error = "timeout", f"timed out: {exc}"
    except (httpcore.ConnectError, httpcore.ProtocolError, httpcore.NetworkError,
            httpcore.UnsupportedProtocol, ValueError) as exc:
        transfer.error_kind, transfer.error = describe_core(exc)
    finally:
        transfer.elapsed_ms = (time.monotonic() - started) * 1000
    return transfer


def compressible(content_type: str | None) -> bool:
    """A text type (``text/*``, JSON, JavaScript, XML, SVG, ``+json`` / ``+xml``) that gzip or
    Brotli shrinks several times (web.dev, "Enable text compression")."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))


def content_encoding(transfer: Transfer) -> str:
    """The ``Content-Encoding`` the response was sent with, lower case (``""``: none)."""
    return ",".join(v.strip().lower() for k, v in transfer.headers if k.lower() == "content-encoding")


def load_ms(size_bytes: int, *, https: bool = True) -> float:
    """Estimated time to load a response of ``size_bytes`` on a new connection on ``PROFILE_NAME``:
    ``RTT_MS × round trips (4 for HTTPS, 3 for HTTP) + size_bytes × 8 / DOWN_BITS_PER_S × 1000``.
    TCP slow start and server time are left out, so it is a lower bound."""
    trips = HTTPS_ROUND_TRIPS if https else HTTP_ROUND_TRIPS
    return round(RTT_MS * trips + size_bytes * 8 / DOWN_BITS_PER_S * 1000, 1)
