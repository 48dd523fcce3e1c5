"""DNS checks of the edge stage."""

from __future__ import annotations

from checks.engine.net.dns import describe_failure
from checks.engine.registry import Context, check, every_host
from checks.engine.result import Impact, Result, Stage
from checks.engine.text import first_few


@check(
    "dns.resolves",
    stage=Stage.EDGE,
    impact=Impact.BLOCKER,
    title="Host resolves to an address",
    targets=every_host,
    quick=True,
)
def resolves(target: str, ctx: Context) -> Result:
    """The host has A or AAAA records, directly or through a CNAME chain.

    - pass: at least one address; evidence names every CNAME hop (RFC 1034 §3.6.2) and the
      addresses, so ``www → cdn.example.net → 192.0.2.80`` is not reported as a bare A.
    - fail: NXDOMAIN, including NXDOMAIN at the end of a CNAME chain (RFC 6604 §3: the RCODE
      describes the last name — a dangling CNAME); NOERROR with no address records; a CNAME
      loop, seen in the answer or, when the resolver answers SERVFAIL as most do for a loop,
      by asking for each hop's CNAME record (RFC 1034 §3.6.2).
    - error: SERVFAIL, REFUSED or timeout — the name could not be tested.
    Metrics: ``addresses``, ``cname_hops``, ``ttl_s`` (lowest TTL on the path).
    """
    answers = ctx.net.dns.address_answers(target)
    a = answers[0]
    addresses = [r for ans in answers for r in ans.records]
    evidence = {
        "record_type": _record_type(answers),
        "cname_chain": a.cname_chain,
        "addresses": addresses,
        "queries": [ans.as_evidence() for ans in answers],
    }
    if a.cname_chain and a.answered:
        # The last name of the chain and its RCODE (RFC 6604 §3), named for the reader: a
        # target that is NXDOMAIN is a dangling CNAME.
        evidence.update(target=a.cname_chain[-1], target_status=a.rcode)
    metrics = {"addresses": len(addresses), "cname_hops": len(a.cname_chain)}
    ttls = [ans.ttl for ans in answers if ans.ttl is not None]
    if ttls:
        metrics["ttl_s"] = min(ttls)
    loop = a.cname_chain if a.error == "CNAME loop" else None
    if loop is None and not addresses and a.rcode == "SERVFAIL":
        loop = _servfail_loop(target, ctx, evidence)
    if loop:
        metrics["cname_hops"] = len(loop)
        return Result.fail(
            f"{target} is a CNAME loop: {' → '.join([target, *loop])}", evidence, metrics=metrics,
            remediation="Point the CNAME at a name that resolves to an address.",
        )
    path = " → ".join([target, *a.cname_chain])
    if addresses:
        return Result.passed(f"{path} → {first_few(addresses)}", evidence, metrics=metrics)
    if not all(ans.answered for ans in answers):
        return Result.error(describe_failure(target, answers), evidence)
    if a.rcode == "NXDOMAIN" and a.cname_chain:
        return Result.fail(
            describe_failure(target, answers), evidence, metrics=metrics,
            remediation=(
                f"Remove the CNAME or re-create {a.cname_chain[-1]} at its provider. A CNAME "
                "to a name nobody holds can be claimed by someone else (subdomain takeover)."
            ),
        )
    return Result.fail(
        describe_failure(target, answers), evidence, metrics=metrics,
        remediation=f"Add an A (and AAAA) or CNAME record for {target} at the DNS provider.",
    )


def _servfail_loop(target: str, ctx: Context, evidence: dict) -> list[str] | None:
    """A CNAME loop behind a SERVFAIL (how most resolvers answer one), with its queries
    added to ``evidence``; ``None`` when the SERVFAIL has another cause."""
    loop = ctx.net.dns.cname_loop(target)
    if loop:
        evidence.update(record_type="CNAME", cname_chain=loop)
        evidence["queries"] += [
            ctx.net.dns.query(name, "CNAME").as_evidence() for name in [target, *loop[:-1]]
        ]
    return loop


def _record_type(answers: list) -> str | None:
    """What the name itself holds: ``CNAME`` (a chain), ``A``, ``AAAA``, or ``None``."""
    a, aaaa = answers
    if a.cname_chain or aaaa.cname_chain:
        return "CNAME"
    if a.records:
        return "A"
    return "AAAA" if aaaa.records else None
