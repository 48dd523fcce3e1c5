"""TLS protocol versions and key / signature strength, checks of the edge stage."""

from __future__ import annotations

from typing import NamedTuple

from checks.engine.net.tls import TLS_VERSIONS, CertInfo, VersionAnswer
from checks.engine.parallel import parallel_map
from checks.engine.registry import Context, check, every_host
from checks.engine.result import Impact, Result, Stage, Status

LABELS = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3"}
LEGACY = ("TLSv1", "TLSv1.1")
MODERN = ("TLSv1.2", "TLSv1.3")

RSA_MIN_BITS = 2048  # CA/B Forum BR §6.1.5; NIST SP 800-57 Part 1 §5.6.1 (112-bit strength)
EC_MIN_BITS = 256
BR_CURVES = ("secp256r1", "secp384r1", "secp521r1")  # P-256, P-384, P-521: CA/B Forum BR §6.1.5
WEAK_HASHES = {"md2": "MD2", "md4": "MD4", "md5": "MD5", "sha1": "SHA-1"}  # CA/B Forum BR §7.1.3.2


@check(
    "tls.protocols",
    stage=Stage.EDGE,
    impact=Impact.HIGH,
    title="TLS protocol versions",
    targets=every_host,
)
def protocols(target: str, ctx: Context) -> Result:
    """The host accepts TLS 1.2 and TLS 1.3 and nothing older: one handshake per version,
    each offering that version only (TLS 1.0, 1.1, 1.2, 1.3).

    - fail: TLS 1.0 or TLS 1.1 accepted (RFC 8996 §2 and §3: MUST NOT negotiate them);
      neither TLS 1.2 nor TLS 1.3 accepted (RFC 9325 §3.1.1: TLS 1.2 MUST be supported).
    - warn: TLS 1.3 not accepted (RFC 8446; RFC 9325 §3.1.1: SHOULD support TLS 1.3; NIST SP
      800-52r2 §3.1: servers shall support TLS 1.3 from 1 January 2024).
    - pass: TLS 1.2 and TLS 1.3 accepted, or TLS 1.3 only.
    - error: the host does not answer (DNS, outbound policy, nothing listens on port 443), or
      a version could not be tested (this client cannot offer it, a timeout) and nothing
      found so far is a fail. A version this client cannot offer is never counted as refused.
    Evidence: each version ``accepted`` (with the cipher), ``refused`` (with the alert or
    error) or ``not tested`` (with the reason).
    """
    # All four handshakes at once: a host that accepts TCP and then stalls costs one
    # handshake timeout, not four in a row.
    answers = parallel_map(lambda version: ctx.net.tls.accepts(target, version), TLS_VERSIONS,
                           name="tls-versions")
    unreachable = next((i for i, a in enumerate(answers) if _unreachable(a)), None)
    if unreachable is not None:  # DNS, policy, no TCP answer: the same for every version
        answers = answers[: unreachable + 1]
    evidence: dict = {
        "host": target,
        "address": next((a.address for a in answers if a.address), None),
        "versions": [_version_evidence(a) for a in answers] + [
            {"version": LABELS[v], "result": "not tested", "detail": "the host did not answer"}
            for v in TLS_VERSIONS[len(answers):]
        ],
    }
    if _unreachable(answers[-1]) or not any(a.accepted is not None for a in answers):
        cause = next((a for a in answers if a.error_kind != "client"), answers[-1])
        evidence["error_kind"] = cause.error_kind
        return Result.error(f"could not test: {cause.detail}", evidence)
    by_version = {a.version: a for a in answers}
    accepted = [a.version for a in answers if a.accepted]
    evidence["accepted"] = [LABELS[v] for v in accepted]
    problems = _protocol_problems(target, by_version)
    evidence["problems"] = [message for _, message in problems]
    fails = [m for s, m in problems if s is Status.FAIL]
    if fails:
        return Result.fail(fails[0], evidence, remediation=(
            f"Accept only TLS 1.2 and TLS 1.3 on {target}'s server or CDN (nginx: "
            "ssl_protocols TLSv1.2 TLSv1.3; Cloudflare: Minimum TLS Version 1.2)."
        ))
    untested = [a for a in answers if a.accepted is None]
    if untested:
        found = _join([LABELS[v] for v in accepted]) or "none"
        reasons = "; ".join(f"{LABELS[a.version]}: {a.detail}" for a in untested)
        return Result.error(f"could not test {reasons} (accepted: {found})", evidence)
    warns = [m for s, m in problems if s is Status.WARN]
    if warns:
        return Result.warn(warns[0], evidence, remediation=(
            f"Enable TLS 1.3 next to TLS 1.2 on {target} (nginx: ssl_protocols TLSv1.2 TLSv1.3; "
            "OpenSSL 1.1.1 or later)."
        ))
    return Result.passed(f"{target} accepts {_join([LABELS[v] for v in accepted])} only", evidence)


def _protocol_problems(target: str, answers: dict[str, VersionAnswer]) -> list[tuple[Status, str]]:
    """Only what was observed counts: a version not tested is neither accepted nor refused."""
    problems: list[tuple[Status, str]] = []
    legacy = [LABELS[v] for v in LEGACY if answers[v].accepted]
    if legacy:
        problems.append((Status.FAIL, f"{target} accepts {_join(legacy)}, which RFC 8996 forbids"))
    if all(answers[v].accepted is False for v in MODERN):
        problems.append((Status.FAIL, f"{target} accepts neither TLS 1.2 nor TLS 1.3"))
    elif answers["TLSv1.3"].accepted is False:
        problems.append((Status.WARN, f"{target} does not accept TLS 1.3"))
    return problems


def _unreachable(answer: VersionAnswer) -> bool:
    return answer.accepted is None and answer.error_kind != "client" and not answer.connected


def _version_evidence(answer: VersionAnswer) -> dict:
    result = {True: "accepted", False: "refused", None: "not tested"}[answer.accepted]
    return {"version": LABELS[answer.version], "result": result, "detail": answer.detail}


def _join(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class Weakness(NamedTuple):
    """One problem of one certificate: ``aspect`` is ``key`` or ``signature``."""

    status: Status
    role: str
    aspect: str
    message: str


@check(
    "tls.key_strength",
    stage=Stage.EDGE,
    impact=Impact.HIGH,
    title="Certificate key and signature strength",
    targets=every_host,
)
def key_strength(target: str, ctx: Context) -> Result:
    """Every certificate the host serves (leaf and intermediates) has a strong key and a
    strong signature.

    - fail: an RSA key under 2048 bits, an EC key under 256 bits, a DSA key (CA/Browser Forum
      Baseline Requirements §6.1.5; NIST SP 800-57 Part 1 §5.6.1: 112-bit strength at least);
      a signature with SHA-1 or MD5 (CA/B BR §7.1.3.2). A root sent along is exempt from the
      signature rule: a trust anchor's self-signature is never verified (RFC 5280 §6.1.1).
    - warn: a key type or EC curve public CAs may not issue (Ed25519, secp256k1; BR §6.1.5), a
      signature algorithm not recognised.
    - pass: RSA 2048+ or EC P-256 / P-384 / P-521 keys signed with SHA-256 or stronger.
    - error: no certificate could be read (DNS, outbound policy, connection, handshake).
    Metric: ``leaf_key_bits``. Evidence: per certificate its key, signature and problems.
    """
    probe = ctx.net.tls.probe(target)
    evidence: dict = {"host": target, "address": probe.address}
    if probe.error or not probe.chain:
        evidence["error_kind"] = probe.error_kind
        return Result.error(f"could not test: {probe.error or 'no certificate served'}", evidence)
    findings = [chain_findings(cert, i) for i, cert in enumerate(probe.chain)]
    evidence["certificates"] = [entry for entry, _ in findings]
    problems = [problem for _, cert_problems in findings for problem in cert_problems]
    leaf = probe.chain[0]
    metrics = {"leaf_key_bits": leaf.key_bits} if leaf.key_bits else {}
    for status, verdict in ((Status.FAIL, Result.fail), (Status.WARN, Result.warn)):
        found = [p for p in problems if p.status is status]
        if found:
            return verdict(f"{target}: {found[0].message}", evidence, metrics=metrics,
                           remediation=_strength_remedy(found))
    count = len(probe.chain)
    served = "1 certificate" if count == 1 else f"{count} certificates"
    return Result.passed(
        f"{target}: strong keys and signatures ({served} served; "
        f"leaf: {_key_text(leaf)}, {leaf.signature_algorithm})",
        evidence, metrics=metrics,
    )


def chain_findings(cert: CertInfo, position: int) -> tuple[dict, list[Weakness]]:
    """Judge one served certificate (``position`` 0 = the leaf): its evidence entry and its
    problems (status ``fail`` or ``warn``); rules as in ``tls.key_strength``."""
    role = "leaf" if position == 0 else ("root" if cert.self_issued else "intermediate")
    problems = _key_problems(cert, role)
    if role != "root":  # a trust anchor's self-signature is not part of path validation
        problems += _signature_problems(cert, role)
    entry = {
        "position": position,
        "role": role,
        "subject": cert.subject,
        "key_type": cert.key_type,
        "key_bits": cert.key_bits,
        "signature_algorithm": cert.signature_algorithm,
        "signature_hash": cert.signature_hash,
        "verdict": str(_worst(problems)),
        "problems": [p.message for p in problems],
    }
    return entry, problems


def _key_problems(cert: CertInfo, role: str) -> list[Weakness]:
    bits = cert.key_bits
    if cert.key_type == "RSA":
        if bits is None or bits < RSA_MIN_BITS:
            return [Weakness(Status.FAIL, role, "key",
                             f"{role} certificate has a {bits}-bit RSA key (2048 bits at least)")]
        return []
    if cert.key_type.startswith("EC "):
        curve = cert.key_type[3:]
        if bits is None or bits < EC_MIN_BITS:
            return [Weakness(Status.FAIL, role, "key",
                             f"{role} certificate has a {bits}-bit EC key on {curve} (256 bits at least)")]
        if curve not in BR_CURVES:
            return [Weakness(Status.WARN, role, "key", f"{role} certificate's EC curve {curve} is not "
                                                       "one public CAs may use (P-256, P-384, P-521)")]
        return []
    if cert.key_type == "DSA":
        return [Weakness(Status.FAIL, role, "key",
                         f"{role} certificate has a DSA key (public CAs issue RSA and ECDSA only)")]
    return [Weakness(Status.WARN, role, "key", f"{role} certificate's {cert.key_type} key is not a type "
                                               "public CAs may issue (RSA and ECDSA only)")]


def _signature_problems(cert: CertInfo, role: str) -> list[Weakness]:
    algorithm = cert.signature_algorithm or "an unknown algorithm"
    digest = cert.signature_hash
    if digest is None:  # no hash object: Ed25519 / Ed448, or an OID cryptography does not know
        lowered = algorithm.lower()
        if lowered in ("ed25519", "ed448"):
            return []
        digest = next((name for name in WEAK_HASHES if name in lowered.replace("-", "")), None)
        if digest is None:
            return [Weakness(Status.WARN, role, "signature",
                             f"{role} certificate's signature algorithm {algorithm} is not recognised")]
    if digest in WEAK_HASHES:
        return [Weakness(Status.FAIL, role, "signature",
                         f"{role} certificate is signed with {WEAK_HASHES[digest]} ({algorithm})")]
    return []


def _worst(problems: list[Weakness]) -> Status:
    statuses = {p.status for p in problems}
    return Status.FAIL if Status.FAIL in statuses else Status.WARN if Status.WARN in statuses else Status.PASS


def _key_text(cert: CertInfo) -> str:
    return f"{cert.key_type} {cert.key_bits}-bit key" if cert.key_bits else f"{cert.key_type} key"


def _strength_remedy(problems: list[Weakness]) -> str:
    steps = []
    if any(p.role == "leaf" and p.aspect == "key" for p in problems):
        steps.append("Reissue the certificate with an ECDSA P-256 key or an RSA key of 2048 bits or more.")
    if any(p.role == "leaf" and p.aspect == "signature" for p in problems):
        steps.append("Reissue the certificate: public CAs sign with SHA-256 or stronger today.")
    if any(p.role != "leaf" for p in problems):
        steps.append("Serve the CA's current intermediate certificate (RSA 2048+ or ECDSA, SHA-256) "
                     "in place of the weak one.")
    return " ".join(steps)
