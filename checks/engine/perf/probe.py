"""The p95 probe: N requests to one URL at concurrency C over C keep-alive connections.

What it does, as ``wrk -c C`` does: open C connections, each through the outbound policy
(``AsyncGuardedBackend`` of ``net/async_http.py``: our resolver, the policy, the port map);
send ``warmup`` requests on each (not counted: they pay for the TCP and TLS handshakes and
wake the server's caches); then C workers take the N measured requests from one shared
counter, each sending its next request on its own connection as soon as its last answer is
read. Every answer's body is read to its end and discarded (bytes counted, reading stops at
``max_body_bytes``), so the connection is reused as a browser would.

Timings come from httpcore's ``trace`` request extension (httpx docs, "Request extensions:
trace"): ``connection.connect_tcp`` and ``connection.start_tls`` give each connection's TCP
connect and TLS handshake; ``http11.receive_response_headers.complete`` marks the time to
first byte (the end of the response head: a head of one packet arrives with its first byte);
the total is to the last byte of the body. Both count from ``http11.send_request_headers``
(the request's first byte written), as wrk does: a request that had to open a connection
pays for it in ``connect_ms``/``tls_ms``, not in its total (after the warm-up every request
finds its connection open, unless the server closed it). All in milliseconds, on
``time.perf_counter``.

Bounded: each request by ``timeout_s`` (connect, every read and write, and the whole
exchange, so a server that drips bytes cannot hold it), the whole probe by ``deadline_s``
(requests in flight then end as ``deadline`` errors and the rest are not sent), each body by
``max_body_bytes``. Never raises for network failures: a request without a 2xx/3xx answer is
an error sample, with its kind (``dns``, ``policy``, ``refused``, ``connect``, ``tls``,
``timeout``, ``deadline``, ``protocol`` or ``status``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore

from checks.engine.net.async_http import AsyncGuardedBackend
from checks.engine.net.dns import DnsClient, ResolveError
from checks.engine.net.http import (
    HttpExchange,
    describe_core,
)
from checks.engine.net.profile import NetworkProfile
from checks.engine.perf.stats import percentiles

KEPT_BODY_BYTES = 64 * 1024  # of the first answer only: enough to recognise a WAF's block page
# What a browser offers: the member's bytes are the compressed ones, and so is their time.
ACCEPT_ENCODING = "gzip, deflate, br"
_SENDING = "http11.send_request_headers.started"
_HEAD_DONE = "http11.receive_response_headers.complete"


@dataclass(frozen=True)
class ProbeRequest:
    """What each request sends. ``headers`` may carry a session and ``body`` a password:
    both stay out of ``repr``."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    body: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class ProbeSettings:
    """N ``requests`` measured at ``concurrency`` C, after ``warmup`` requests on each
    connection (at least one: it opens the connection and gives the first answer judged);
    ``timeout_s`` per request, ``deadline_s`` for the whole probe (seconds);
    ``max_body_bytes`` read of each answer."""

    requests: int = 50
    concurrency: int = 5
    warmup: int = 1
    timeout_s: float = 10.0
    deadline_s: float = 60.0
    max_body_bytes: int = 2_000_000

    @classmethod
    def from_profile(cls, profile: NetworkProfile) -> ProbeSettings:
        """The profile's ``perf_*`` figures, its HTTP timeout and body cap."""
        return cls(
            requests=max(1, profile.perf_requests), concurrency=max(1, profile.perf_concurrency),
            warmup=max(1, profile.perf_warmup), timeout_s=profile.http_timeout_s,
            deadline_s=profile.perf_deadline_s, max_body_bytes=profile.max_body_bytes,
        )

    def as_evidence(self) -> dict:
        return {"requests": self.requests, "concurrency": self.concurrency,
                "warmup_per_connection": self.warmup, "timeout_s": self.timeout_s,
                "deadline_s": self.deadline_s}


@dataclass
class Sample:
    """One request: on ``connection`` (0 … C-1), its ``status``, time to first byte and total
    (ms), body bytes read (``truncated`` at the cap), or the ``error`` and its ``error_kind``."""

    connection: int
    status: int | None = None
    ttfb_ms: float | None = None
    total_ms: float = 0.0
    body_bytes: int = 0
    truncated: bool = False
    error: str | None = None
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        """A 2xx or 3xx answer, read to its end (or to the cap)."""
        return self.error is None and self.status is not None and 200 <= self.status < 400

    @property
    def failure(self) -> str:
        """What went wrong, grouped for counting: ``HTTP 503``, ``timeout`` …"""
        return self.error_kind if self.error_kind and self.error_kind != "status" else f"HTTP {self.status}"


@dataclass
class Connection:
    """One TCP connection opened by the probe: which worker's, the ``address`` connected to,
    its TCP ``connect_ms`` and TLS ``tls_ms`` (``None`` over plain HTTP)."""

    connection: int
    address: str | None
    connect_ms: float
    tls_ms: float | None

    def as_evidence(self) -> dict:
        data = {"connection": self.connection, "address": self.address,
                "connect_ms": round(self.connect_ms, 1)}
        if self.tls_ms is not None:
            data["tls_ms"] = round(self.tls_ms, 1)
        return data


@dataclass
class ProbeReport:
    """What one probe saw. ``samples``: the measured requests, in the order they finished;
    ``warmup``: the uncounted ones; ``first``: the first warm-up answer as an ``HttpExchange``
    (head and up to ``KEPT_BODY_BYTES`` of body: what a WAF check reads), ``None`` when no
    request was answered; ``unsent``: measured requests never sent (the deadline came first)."""

    request: ProbeRequest
    settings: ProbeSettings
    samples: list[Sample] = field(default_factory=list)
    warmup: list[Sample] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    first: HttpExchange | None = None
    unsent: int = 0
    deadline_reached: bool = False
    elapsed_ms: float = 0.0

    @property
    def answered(self) -> bool:
        """Some warm-up request got an HTTP answer (any status): the endpoint was reached."""
        return self.first is not None

    @property
    def ok_samples(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    @property
    def errors(self) -> int:
        """Measured requests without a 2xx/3xx answer, the unsent ones included."""
        return len(self.samples) - len(self.ok_samples) + self.unsent

    def failures(self) -> dict[str, int]:
        """``{"HTTP 503": 3, "timeout": 1, "unsent": 2}``, most frequent first."""
        counts = Counter(s.failure for s in self.samples if not s.ok)
        if self.unsent:
            counts["unsent"] = self.unsent
        return dict(counts.most_common())

    def total_percentiles(self) -> dict[str, float]:
        """p50/p95/p99 of the successful samples' total time (ms); ``{}`` with none."""
        return percentiles([s.total_ms for s in self.ok_samples])

    def ttfb_percentiles(self) -> dict[str, float]:
        """p50/p95/p99 of the successful samples' time to first byte (ms)."""
        return percentiles([s.ttfb_ms for s in self.ok_samples if s.ttfb_ms is not None])


def run_probe(profile: NetworkProfile, dns: DnsClient, request: ProbeRequest,
              settings: ProbeSettings) -> ProbeReport:
    """Probe ``request.url`` as the module docstring says, on an event loop of its own (call it
    from a thread without a running loop: a check's worker thread). Never raises for network
    failures: they are error samples. The host is resolved first (the resolver memoises it),
    so ``connect_ms`` is the TCP connect, not the DNS lookup."""
    with contextlib.suppress(ResolveError):  # the probe's first request reports it
        dns.addresses(urlsplit(request.url).hostname or "")
    return asyncio.run(_Probe(profile, dns, request, settings).run())


class _Trace:
    """The ``trace`` extension of one request: when each httpcore event happened."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.address: str | None = None

    async def __call__(self, event: str, info: dict) -> None:
        self.marks[event] = time.perf_counter()
        if event == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            self.address = stream.get_extra_info("address") if stream is not None else None

    def span_ms(self, name: str) -> float | None:
        started, done = self.marks.get(f"{name}.started"), self.marks.get(f"{name}.complete")
        return (done - started) * 1000 if started is not None and done is not None else None


class _Probe:
    def __init__(self, profile: NetworkProfile, dns: DnsClient, request: ProbeRequest,
                 settings: ProbeSettings) -> None:
        self.request = request
        self.settings = settings
        self.report = ProbeReport(request, settings)
        self.backend = AsyncGuardedBackend(profile, dns, resolver_limit=settings.concurrency)
        self.ssl_context = profile.ssl_context()
        self.headers = [("User-Agent", profile.user_agent), ("Accept-Encoding", ACCEPT_ENCODING),
                        *request.headers]
        self.left = settings.requests
        self.deadline = 0.0

    async def run(self) -> ProbeReport:
        started = time.perf_counter()
        self.deadline = started + self.settings.deadline_s
        # One pool of one connection per worker: C keep-alive connections, as wrk opens.
        pools = [httpcore.AsyncConnectionPool(
            ssl_context=self.ssl_context, network_backend=self.backend,
            max_connections=1, max_keepalive_connections=1, retries=0,
        ) for _ in range(self.settings.concurrency)]
        try:
            # The outer bound is a safety net: every request is already clamped to the deadline.
            async with asyncio.timeout(self.settings.deadline_s + self.settings.timeout_s):
                await asyncio.gather(*(self._warm(i, pool) for i, pool in enumerate(pools)))
                if self.report.answered:
                    await asyncio.gather(*(self._work(i, pool) for i, pool in enumerate(pools)))
                else:
                    self.left = 0  # nothing answers: the measured requests would only repeat it
        except TimeoutError:
            self.report.deadline_reached = True
        finally:
            for pool in pools:
                await pool.aclose()
        self.report.unsent = self.left if self.report.answered else 0
        self.report.deadline_reached |= self.report.unsent > 0
        self.report.elapsed_ms = (time.perf_counter() - started) * 1000
        return self.report

    async def _warm(self, worker: int, pool: httpcore.AsyncConnectionPool) -> None:
        for _ in range(self.settings.warmup):
            keep = self.report.first is None
            sample, first = await self._send(worker, pool, keep_body=keep)
            self.report.warmup.append(sample)
            if first is not None and self.report.first is None:
                self.report.first = first

    async def _work(self, worker: int, pool: httpcore.AsyncConnectionPool) -> None:
        while self.left > 0 and time.perf_counter() < self.deadline:
            self.left -= 1  # one event loop: no other worker runs between the test and this
            sample, _ = await self._send(worker, pool)
            self.report.samples.append(sample)

    async def _send(self, worker: int, pool: httpcore.AsyncConnectionPool, *,
                    keep_body: bool = False) -> tuple[Sample, HttpExchange | None]:
        sample = Sample(connection=worker)
        trace = _Trace()
        left_s = self.deadline - time.perf_counter()
        timeout_s = min(self.settings.timeout_s, max(left_s, 0.001))
        clamped = timeout_s < self.settings.timeout_s
        extensions = {"timeout": {k: timeout_s for k in ("connect", "read", "write", "pool")},
                      "trace": trace}
        exchange = HttpExchange(url=self.request.url, method=self.request.method) if keep_body else None
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                async with pool.stream(self.request.method, self.request.url, headers=self.headers,
                                       content=self.request.body or None, extensions=extensions) as response:
                    sample.status = response.status
                    if _HEAD_DONE in trace.marks:
                        sample.ttfb_ms = (trace.marks[_HEAD_DONE] - trace.marks.get(_SENDING, started)) * 1000
                    kept = await self._read_body(response, sample, keep_body)
                    if exchange is not None:
                        exchange.status, exchange.body = response.status, kept
                        exchange.headers = [(k.decode("latin-1"), v.decode("latin-1"))
                                            for k, v in response.headers]
        except (TimeoutError, httpcore.TimeoutException):
            sample.error_kind, sample.error = _timed_out(trace, clamped, self.settings.timeout_s)
        except (httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError, ValueError) as exc:
            sample.error_kind, sample.error = describe_core(exc)
        finally:
            sample.total_ms = (time.perf_counter() - trace.marks.get(_SENDING, started)) * 1000
        self._note_connection(worker, trace)
        if sample.error is None and not sample.ok:
            sample.error_kind, sample.error = "status", f"HTTP {sample.status}"
        if exchange is not None:
            exchange.address, exchange.elapsed_ms = trace.address, sample.total_ms
        return sample, (exchange if sample.status is not None else None)

    async def _read_body(self, response: httpcore.Response, sample: Sample, keep: bool) -> bytes:
        """Read to the end, counting bytes; stop at the cap (the pool then drops the
        connection, and the next request opens another). Returns the kept prefix."""
        kept = bytearray()
        async for chunk in response.aiter_stream():
            sample.body_bytes += len(chunk)
            if keep and len(kept) < KEPT_BODY_BYTES:
                kept += chunk[: KEPT_BODY_BYTES - len(kept)]
            if sample.body_bytes > self.settings.max_body_bytes:
                sample.truncated = True
                break
        return bytes(kept)

    def _note_connection(self, worker: int, trace: _Trace) -> None:
        connect_ms = trace.span_ms("connection.connect_tcp")
        if connect_ms is not None:
            self.report.connections.append(
                Connection(worker, trace.address, connect_ms, trace.span_ms("connection.start_tls"))
            )


def _timed_out(trace: _Trace, clamped: bool, timeout_s: float) -> tuple[str, str]:
    """``(error_kind, message)`` of a request that ran out of time: ``deadline`` (the probe's
    end came first), ``timeout`` (sent, no answer in time: the endpoint is slow) or ``connect``
    (no connection in time: a firewall dropping packets is no latency)."""
    if clamped:
        return "deadline", "the probe's deadline came first"
    if "http11.send_request_headers.started" in trace.marks:
        return "timeout", f"no answer within {timeout_s:g} s"
    return "connect", f"no connection within {timeout_s:g} s"



