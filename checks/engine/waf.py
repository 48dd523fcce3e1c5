"""Responses that are not the site's answer: a WAF or bot shield blocking the scanner.

A web application firewall that takes our scanner for a bot answers 403 (or 429, or a 503
"checking your browser" page) in place of the site. Judging that response — "no HSTS header",
"serves 403 instead of redirecting" — would blame the site for our own block, so every HTTP
check asks ``blocked_result`` first and reports ``error`` with the service's name instead.

We match the block pages' published markers ourselves: wafw00f, the field's fingerprinting
tool, was considered and not used, because it identifies a WAF by sending attack payloads
through its own HTTP stack (outside our outbound policy) rather than by reading a response we
already hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.engine.net.http import HttpExchange
from checks.engine.result import Result

BLOCK_STATUSES = (401, 403, 406, 429, 503)
BODY_SCAN_BYTES = 65_536  # block pages are small; never scan a whole hostile body


@dataclass(frozen=True)
class Signature:
    """One service's marker: a header (name, value substring or "" for any value) or a body
    substring; ``server`` narrows a body marker to responses with that Server field,
    ``with_header`` to responses carrying that field (one the service adds to every response).

    A field a service adds to *every* response it passes (Imperva's X-Iinfo, DataDome's
    X-DataDome, Azure's X-Azure-Ref) is never a marker by itself: the site's own 403 behind
    the service carries it too, and must still be judged."""

    service: str
    header: tuple[str, str] | None = None
    body: str | None = None
    server: str | None = None
    with_header: str | None = None


SIGNATURES = (
    # Cloudflare: managed challenge / block ("Sorry, you have been blocked", error 1020).
    Signature("Cloudflare", header=("cf-mitigated", "challenge")),
    Signature("Cloudflare", body="cf-error-details", server="cloudflare"),
    Signature("Cloudflare", body="attention required! | cloudflare", server="cloudflare"),
    Signature("Cloudflare", body="just a moment...", server="cloudflare"),
    Signature("Cloudflare", body="/cdn-cgi/challenge-platform/", server="cloudflare"),
    Signature("Vercel firewall", header=("x-vercel-mitigated", "")),
    Signature("AWS WAF", header=("x-amzn-waf-action", "")),
    Signature("AWS WAF", body="request blocked.", server="cloudfront"),
    Signature("Akamai", body="reference&#32;&#35;", server="akamaighost"),
    Signature("Akamai", body="access denied", server="akamaighost"),
    Signature("Imperva", body="incapsula incident id"),
    Signature("Imperva", body="/_incapsula_resource"),
    Signature("Sucuri", header=("x-sucuri-block", "")),
    Signature("Sucuri", body="sucuri website firewall"),
    # DataDome: its captcha / block page loads from captcha-delivery.com; X-DD-B marks a block
    # answered as JSON (DataDome, "Protection API", response headers).
    Signature("DataDome", header=("x-dd-b", "")),
    Signature("DataDome", body="captcha-delivery.com"),
    Signature("Azure Front Door", body="the request is blocked.", with_header="x-azure-ref"),
    Signature("F5 BIG-IP ASM",
              body="the requested url was rejected. please consult with your administrator"),
    Signature("ModSecurity", body="mod_security"),
)


@dataclass(frozen=True)
class Block:
    """Who blocked us and by which marker, for the evidence."""

    service: str
    marker: str

    def as_evidence(self) -> dict:
        return {"service": self.service, "marker": self.marker}


def find_block(exchange: HttpExchange) -> Block | None:
    """The WAF block this response is, or ``None`` when it is the site's own answer.

    Only statuses in ``BLOCK_STATUSES`` can be blocks; a 429 without a known marker is still
    one (RFC 6585 §4: the server refuses to serve us for now). A plain 403 without a marker is
    the site's own answer (an admin area closed to the world is a finding, not a block).
    """
    if exchange.error or exchange.status not in BLOCK_STATUSES:
        return None
    server = (exchange.header("server") or "").lower()
    body = exchange.body[:BODY_SCAN_BYTES].decode("utf-8", "replace").lower()
    for signature in SIGNATURES:
        marker = _match(signature, exchange, server, body)
        if marker:
            return Block(signature.service, marker)
    if exchange.status == 429:
        return Block("rate limiting", "status 429 Too Many Requests")
    return None


def _match(signature: Signature, exchange: HttpExchange, server: str, body: str) -> str | None:
    if signature.server is not None and signature.server not in server:
        return None
    if signature.with_header is not None and exchange.header(signature.with_header) is None:
        return None
    if signature.header is not None:
        name, value = signature.header
        fields = exchange.header_fields(name)
        if not any(value in f.lower() for f in fields):
            return None
        return f"{name}: {fields[0]}"
    if signature.body is not None and signature.body in body:
        where = f" from server {server!r}" if signature.server else ""
        where += f" with {signature.with_header}" if signature.with_header else ""
        return f"page contains {signature.body!r}{where}"
    return None


def blocked_result(exchange: HttpExchange, evidence: dict) -> Result | None:
    """``Result.error`` naming the service when ``exchange`` is a WAF block, else ``None``."""
    block = find_block(exchange)
    if block is None:
        return None
    return Result.error(
        f"could not test: {exchange.url} answered {exchange.status} from {block.service}, "
        f"which blocked the scanner ({block.marker})",
        {**evidence, "blocked_by": block.as_evidence(), "elapsed_ms": round(exchange.elapsed_ms, 1)},
        remediation=(f"Allow the Launch Ready scanner through {block.service} for the audit "
                     "(an allow rule for its address or user agent), then re-run."),
    )
