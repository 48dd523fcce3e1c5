"""Stage 4, payload: what each page and personal answer costs on the wire and on a slow
phone. Measurement and the Slow 4G estimate are in ``checks/engine/payload.py``."""

from __future__ import annotations

from urllib.parse import urlsplit

from checks.engine.checks.caching import log_in_as, personal_endpoints
from checks.engine.checks.content import html_pages
from checks.engine.net.login import LoginFailed
from checks.engine.payload import (
    MAX_COUNT_BYTES,
    PROFILE_NAME,
    compressible,
    content_encoding,
    load_ms,
    measure,
)
from checks.engine.registry import Context, check, url_targets
from checks.engine.result import Impact, Result, Stage
from checks.engine.spec import ProjectSpec

WARN_SIZE_BYTES = 1_000_000
WARN_LOAD_MS = 2_000
MIN_COMPRESS_BYTES = 1_024  # below this, gzip's header costs more than it saves


@url_targets
def payload_pages(project: ProjectSpec) -> list[str]:
    """Targets: the HTML pages (``content.html_pages``) and the personal endpoints."""
    return list(dict.fromkeys([*html_pages(project), *personal_endpoints(project)]))



@check("performance.payload", stage=Stage.PERFORMANCE, impact=Impact.MEDIUM,
       title="Responses light and compressed for a slow phone", targets=payload_pages, timeout_s=60.0)
def payload(target: str, ctx: Context) -> Result:
    """The response's size on the wire, its compression, and its load time on a slow phone.

    One GET with ``Accept-Encoding: gzip, br`` (personal endpoints logged in as the first test
    account), the body counted as sent — compressed bytes, before decoding; headers and chunk
    framing not counted — up to 50 MB, nothing kept (``checks/engine/payload.py``).
    ``load_ms`` estimates a first visit on Lighthouse's "Slow 4G" profile (150 ms round trip,
    1.6 Mbit/s down; Lighthouse docs, "Network throttling"): 150 ms × 4 round trips (DNS, TCP,
    TLS 1.3, request; 3 on plain HTTP) + size_bytes × 8 / 1,638,400 bit/s.

    - warn: over 1 MB (1,000,000 bytes), or ``load_ms`` over 2000; or a compressible type
      (``text/*``, JSON, JavaScript, XML, SVG) over 1 kB sent without ``Content-Encoding``
      although gzip and br were offered (RFC 9110 §8.4, §12.5.3).
    - fail: never — weight costs speed, not safety; the worst verdict is warn (issue: "warn
      over 1 MB or 2 s").
    - error: no answer, not 2xx, or (personal) no test account or the login failed.
    - pass: otherwise. Metrics ``size_bytes``, ``load_ms``.
    """
    endpoint = next((e for e in ctx.project.endpoints if e.url == target), None)
    headers: tuple[tuple[str, str], ...] = ()
    evidence: dict = {"url": target, "profile": PROFILE_NAME}
    if endpoint is not None and endpoint.is_personal:
        if not ctx.project.accounts:
            return Result.error(f"needs a test account: {target} is personal and is read logged in", evidence)
        try:
            headers = log_in_as(ctx, ctx.project.accounts[0]).headers
        except LoginFailed as exc:
            return Result.error(f"could not log in to read {target}: {exc}", evidence)
        evidence["account"] = ctx.project.accounts[0].label
    transfer = measure(ctx.net.http, target, headers=headers)
    if transfer.error:
        return Result.error(f"could not read {target}: {transfer.error}", evidence)
    if not 200 <= (transfer.status or 0) < 300:
        return Result.error(f"{target} answered HTTP {transfer.status}: its payload was not measured",
                            {**evidence, "status": transfer.status})
    size, encoding = transfer.size_bytes, content_encoding(transfer)
    estimate = load_ms(size, https=urlsplit(target).scheme == "https")
    content_type = transfer.header("content-type") or ""
    shown = f"over {MAX_COUNT_BYTES:,} bytes" if transfer.over else f"{size:,} bytes"
    evidence.update({"status": transfer.status, "size_bytes": size, "size_capped": transfer.over,
                     "content_type": content_type, "content_encoding": encoding or None,
                     "load_ms": estimate})
    metrics = {"size_bytes": size, "load_ms": estimate}
    problems = []
    if size > WARN_SIZE_BYTES:
        problems.append(f"{shown} on the wire (over 1,000,000)")
    if estimate > WARN_LOAD_MS:
        about = "at least" if transfer.over else "about"
        problems.append(f"{about} {estimate / 1000:.1f} s on {PROFILE_NAME} (over 2 s)")
    if compressible(content_type) and not encoding and size > MIN_COMPRESS_BYTES:
        media = content_type.split(";")[0].strip()
        problems.append(f"{media} sent uncompressed although gzip and br were offered")
    if problems:
        return Result.warn(f"{target}: {'; '.join(problems)}", evidence, metrics=metrics, remediation=(
            "Turn on gzip or Brotli for text responses at the server or CDN, and trim the page: "
            "paginate lists, lazy-load images, split large bundles."))
    compression = f", {encoding}" if encoding else ""
    return Result.passed(f"{target}: {shown}{compression}, about {estimate / 1000:.1f} s on {PROFILE_NAME}",
                         evidence, metrics=metrics)
