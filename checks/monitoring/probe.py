"""One probe of a monitor, and many at once: plain Python on asyncio (no Django here).

A probe is one HTTP request to the monitor's URL through ``AsyncHttpClient`` (our resolver,
the outbound policy, the profile's trust and port map), judged as:

- ``ok`` when the final response's status is ``expected_status`` and, with a ``keyword``, the
  keyword appears (case-sensitive, as bytes of its UTF-8 form) in the first
  ``BODY_CAP_BYTES`` of the body;
- redirects are followed (up to ``MAX_REDIRECTS``, each hop policy-checked) unless the
  expected status is itself a redirect code (a monitor of a redirect checks the redirect);
- the error reason is one short sentence: ``connect refused``, ``timeout after 10 s``,
  ``status 503, expected 200``, ``keyword 'Welcome' missing``, ``outbound policy refused
  10.0.0.5: private``, ``shop.example does not exist (NXDOMAIN)``, ``TLS failed: certificate
  verify failed: certificate has expired``.

``latency_ms`` is the time from sending the request (resolution and connection included) to
the final response's head — and to the end of the read body when a keyword is searched;
every hop when redirects are followed — in milliseconds; ``None`` when no response came.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from checks.engine.net.async_http import AsyncHttpClient
from checks.engine.net.http import REDIRECT_CODES
from checks.engine.net.profile import NetworkProfile

BODY_CAP_BYTES = 64 * 1024  # the keyword is searched in at most this much of the body
MAX_REDIRECTS = 5
MAX_ERROR_CHARS = 500  # Probe.error's length
DEFAULT_CONCURRENCY = 100  # probes in flight at once in one process


@dataclass(frozen=True)
class ProbeTarget:
    """What to probe: ``monitor_id`` (for the caller), the request and what counts as up.
    ``due_at``: when it fell due (UTC), ``timeout_s`` in seconds."""

    monitor_id: int
    url: str
    method: str = "GET"
    timeout_s: float = 10.0
    expected_status: int = 200
    keyword: str = ""
    due_at: datetime | None = None


@dataclass(frozen=True)
class ProbeOutcome:
    """What a probe found: ``at`` is when it started (UTC); ``status_code`` of the final
    response (``None`` when none came); ``latency_ms``; ``error`` empty when ``ok``."""

    monitor_id: int
    due_at: datetime | None
    at: datetime
    ok: bool
    status_code: int | None
    latency_ms: float | None
    error: str = ""

    @property
    def lag_s(self) -> float | None:
        """Seconds from falling due to starting (``None`` without ``due_at``)."""
        return (self.at - self.due_at).total_seconds() if self.due_at else None


def judge(target: ProbeTarget, status: int | None, body: bytes, error: str | None) -> tuple[bool, str]:
    """``(ok, reason)`` for a final response (or the error that stopped it); ``reason`` is ""
    when ok. The status is judged before the keyword (a 503 page is down whatever it says)."""
    if error:
        return False, error
    if status != target.expected_status:
        return False, f"status {status}, expected {target.expected_status}"
    if target.keyword and target.keyword.encode("utf-8") not in body:
        return False, f"keyword {target.keyword!r} missing"
    return True, ""


def _reason(kind: str | None, error: str | None) -> str | None:
    """The short sentence for a failed exchange (see the module docstring)."""
    if error is None:
        return None
    if kind == "refused":
        return "connect refused"
    if kind == "connect":
        return f"connect failed: {error}"
    return error  # policy, dns, tls and timeout errors are already one readable sentence


async def probe(client: AsyncHttpClient, target: ProbeTarget) -> ProbeOutcome:
    """Probe ``target`` once with ``client``; never raises for network failures."""
    at = datetime.now(UTC)
    started = time.monotonic()
    follow = 0 if target.expected_status in REDIRECT_CODES else MAX_REDIRECTS
    hops = await client.request(
        target.method, target.url, timeout_s=target.timeout_s,
        max_body_bytes=BODY_CAP_BYTES if target.keyword else 0, follow_redirects=follow,
    )
    final = hops[-1]
    latency_ms = (time.monotonic() - started) * 1000 if final.status is not None else None
    ok, reason = judge(target, final.status, final.body, _reason(final.error_kind, final.error))
    return ProbeOutcome(
        monitor_id=target.monitor_id, due_at=target.due_at, at=at, ok=ok,
        status_code=final.status, latency_ms=latency_ms, error=reason[:MAX_ERROR_CHARS],
    )


def failed(target: ProbeTarget, reason: str) -> ProbeOutcome:
    """An outcome for a probe that could not be sent (its network could not be set up)."""
    return ProbeOutcome(
        monitor_id=target.monitor_id, due_at=target.due_at, at=datetime.now(UTC), ok=False,
        status_code=None, latency_ms=None, error=reason[:MAX_ERROR_CHARS],
    )


async def probe_all(
    profile: NetworkProfile, targets: list[ProbeTarget], *, concurrency: int = DEFAULT_CONCURRENCY
) -> list[ProbeOutcome]:
    """Probe every target through ``profile``, at most ``concurrency`` at once, in the order
    given (outcomes in the same order). One client (one resolver cache) for the batch."""
    gate = asyncio.Semaphore(concurrency)
    async with AsyncHttpClient(profile, max_connections=concurrency) as client:

        async def one(target: ProbeTarget) -> ProbeOutcome:
            async with gate:
                try:
                    return await probe(client, target)
                except Exception as exc:  # a bug must not lose the batch's other outcomes
                    return failed(target, f"probe failed: {type(exc).__name__}: {exc}")

        return list(await asyncio.gather(*(one(t) for t in targets)))
