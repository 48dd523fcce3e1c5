"""TLS certificate checks of the edge stage."""

from __future__ import annotations

from datetime import UTC, datetime

from checks.engine.names import matching_name
from checks.engine.registry import Context, check, every_host
from checks.engine.result import Impact, Result, Stage, Status

WARN_DAYS = 30
FAIL_DAYS = 7

# OpenSSL X509_V_ERR_* codes we name for people.
_VERIFY = {
    2: "the issuer certificate could not be found",
    18: "the certificate is self-signed",
    19: "the chain ends in a self-signed certificate that is not trusted",
    20: "the chain does not lead to a trusted CA (missing intermediate or unknown issuer)",
    21: "the chain does not lead to a trusted CA (missing intermediate or unknown issuer)",
}
_TIME_CODES = (9, 10)  # not yet valid, expired: reported from the dates themselves


def days_left(not_after: datetime, now: datetime) -> int:
    """Whole days until ``not_after``, truncated toward zero (negative once expired)."""
    return int((not_after - now).total_seconds() / 86400)


@check(
    "tls.certificate",
    stage=Stage.EDGE,
    impact=Impact.BLOCKER,
    title="Valid certificate",
    targets=every_host,
    quick=True,
)
def certificate(target: str, ctx: Context) -> Result:
    """The certificate served on port 443 is one a browser accepts, with time to spare.

    - fail: self-signed; the chain as served does not lead to a trusted CA (a missing
      intermediate is not filled in from AIA) — RFC 5280 §6; not yet valid or expired
      (``notBefore`` / ``notAfter``, RFC 5280 §4.1.2.5); under 7 days left; the host is not
      covered by a subjectAltName (RFC 9525 §6.3, wildcards one label only, CN ignored).
    - warn: under 30 days left.
    - pass: trusted, covers the host, 30 days or more left.
    - fail also: nothing listens on port 443 (connection refused: the port answered "closed").
    - error: no handshake (DNS, policy, timeout, protocol failure).
    Metric: ``days_left``.
    """
    probe = ctx.net.tls.probe(target)
    evidence: dict = {"host": target, "address": probe.address, "elapsed_ms": round(probe.elapsed_ms, 1)}
    if probe.error_kind == "connect" and "refused" in (probe.error or "").lower():
        # A refused connection is an answer, not a failure to test: the port is closed.
        evidence["error_kind"] = probe.error_kind
        evidence["error"] = probe.error
        return Result.fail(
            f"nothing answers HTTPS on port 443 of {target} (connection refused)", evidence,
            remediation=f"Serve {target} over HTTPS with a certificate from a public CA.",
        )
    if probe.error or probe.leaf is None:
        evidence["error_kind"] = probe.error_kind
        return Result.error(f"could not test: {probe.error or 'no certificate served'}", evidence)
    leaf = probe.leaf
    now = datetime.now(UTC)
    days = days_left(leaf.not_after, now)
    matched = matching_name(target, leaf.san_dns, leaf.san_ip)
    evidence.update(
        protocol=probe.protocol,
        verified=probe.verified,
        verify_error=probe.verify_message,
        days_left=days,
        not_after=leaf.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        matched_name=matched,
        chain=[c.as_evidence() for c in probe.chain],
    )
    problems = _problems(target, probe, leaf, now, days, matched)
    evidence["problems"] = [message for _, message in problems]
    metrics = {"days_left": days}
    fails = [m for s, m in problems if s is Status.FAIL]
    warns = [m for s, m in problems if s is Status.WARN]
    if fails:
        return Result.fail(fails[0], evidence, metrics=metrics, remediation=_remedy(problems))
    if warns:
        return Result.warn(warns[0], evidence, metrics=metrics, remediation=_remedy(problems))
    return Result.passed(
        f"trusted certificate for {matched}, {days} days left (until {leaf.not_after:%Y-%m-%d})",
        evidence, metrics=metrics,
    )


def _problems(target, probe, leaf, now, days, matched) -> list[tuple[Status, str]]:
    problems: list[tuple[Status, str]] = []
    self_signed = probe.verify_code == 18 or (len(probe.chain) == 1 and leaf.self_issued
                                              and probe.verified is False)
    if self_signed:
        problems.append((Status.FAIL, f"{target} serves a self-signed certificate"))
    elif probe.verified is False and probe.verify_code not in _TIME_CODES:
        reason = _VERIFY.get(probe.verify_code, probe.verify_message or "verification failed")
        problems.append((Status.FAIL, f"{target}: certificate not trusted: {reason}"))
    if now < leaf.not_before:
        problems.append((Status.FAIL, f"{target}: certificate not valid until {leaf.not_before:%Y-%m-%d}"))
    until = f"{leaf.not_after:%Y-%m-%d}"
    if leaf.not_after <= now:
        problems.append((Status.FAIL, f"{target}: certificate expired {max(0, -days)} days ago ({until})"))
    elif days < FAIL_DAYS:
        problems.append((Status.FAIL, f"{target}: certificate expires in {days} days ({until})"))
    elif days < WARN_DAYS:
        problems.append((Status.WARN, f"{target}: certificate expires in {days} days ({until})"))
    if matched is None:
        names = ", ".join(leaf.san_dns) or "no subjectAltName (the CN is not used)"
        problems.append((Status.FAIL, f"{target} is not covered by the certificate's names: {names}"))
    return problems


def _remedy(problems: list[tuple[Status, str]]) -> str:
    text = " ".join(m for _, m in problems)
    steps = []
    if "expire" in text or "not valid until" in text:
        steps.append("Renew the certificate and automate renewal (ACME, e.g. Let's Encrypt).")
    if "self-signed" in text or "not trusted" in text:
        steps.append("Serve a certificate from a public CA with its full chain (leaf + intermediates).")
    if "not covered" in text:
        steps.append("Issue a certificate whose subjectAltName lists this host.")
    return " ".join(steps)
