"""Secrets in the deployed client bundle (hardening stage).

Whatever a page or a script holds, every visitor has: a key in the bundle is public the moment
it is deployed. The bundle is fetched by ``checks/engine/bundle.py`` (pages, same-site scripts,
source maps' embedded sources; bounded), scanned with the project's secret scanner
(``checks.engine.secrets.scan_text``: detect-secrets plus the rules of
``checks/engine/secrets/rules.py``, which say what is a leak, what is for review and which keys
only ever belong on a server), and its string literals are hashed and compared with the
SHA-256 fingerprints CI posted for the project's secret-named environment variables
(``checks/engine/checks/environments.py``): a match is that secret compiled into the bundle,
found even when no rule knows its shape.
"""

from __future__ import annotations

# A module, not its names: checks.engine.bundle imports exposed.py, whose package imports this.
from checks.engine import bundle
from checks.engine.checks.content import PAGE_KINDS
from checks.engine.checks.environments import secret_fingerprints
from checks.engine.registry import Context, check
from checks.engine.result import Impact, Result, Stage
from checks.engine.secrets import LEAK, REVIEW, SecretFinding, scan_text
from checks.engine.spec import ProjectSpec
from checks.engine.text import first_few

MAX_LISTED = 50  # findings kept in the evidence; the metrics count them all
# A minified bundle is full of high-entropy strings no rule names (content hashes, integrity
# digests, base64 images): the scanner's review findings of these rules are counted, not
# judged. A secret-named variable compiled in is still found by its fingerprint.
UNNAMED_RULES = ("Base64 High Entropy String", "Hex High Entropy String")
# A name-based hit (``password:"…"``) in minified client code is most often a form label or
# an i18n string; it is for a person to look at, not a leak by itself. A real secret compiled
# in is caught by its named rule (Stripe, AWS, private key …) or by its variable's fingerprint.
KEYWORD_RULES = ("Secret Keyword",)
# What a person does with a review finding, by rule (the scanner's note says why).
REVIEW_ASK = {"Google API Key": "verify key restrictions", "Secret Keyword": "check whether it is a secret"}


def page_hosts(project: ProjectSpec) -> list[str]:
    """Targets: the preferred host, then each host of a GET page endpoint (``PAGE_KINDS``)."""
    hosts = [project.preferred_host]
    hosts += [e.host for e in project.endpoints if e.kind in PAGE_KINDS and e.method == "GET" and e.host]
    return list(dict.fromkeys(hosts))


def _scan(texts: list[bundle.BundleText], accepted: frozenset[str]) -> tuple[list[dict], dict[str, int]]:
    """Findings of every text as evidence entries (raw value never kept), and the counts of
    those left out: ``accepted`` (fingerprint accepted by the agency), ``unnamed`` (entropy only)."""
    entries: list[dict] = []
    left_out = {"accepted": 0, "unnamed": 0}
    for text in texts:
        for finding in scan_text(text.text, text.url if not text.source else f"{text.url}#{text.source}"):
            if finding.fingerprint in accepted:
                left_out["accepted"] += 1
            elif finding.level != LEAK and finding.rule in UNNAMED_RULES:
                left_out["unnamed"] += 1
            else:
                entries.append(_entry(finding, text))
    return entries, left_out


def _entry(finding: SecretFinding, text: bundle.BundleText) -> dict:
    level = REVIEW if finding.rule in KEYWORD_RULES else finding.level
    return {"rule": finding.rule, "level": level, "server_only": finding.server_only,
            "redacted": finding.redacted, "fingerprint": finding.fingerprint, "note": finding.note,
            **text.place(finding.offset)}


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _phrase(entry: dict) -> str:
    where = bundle.BundleText.phrase(entry)
    if "variables" in entry:
        return f"the value of {first_few(entry['variables'])} in {where}"
    kind = "server-only " if entry["server_only"] else ""
    text = f"{kind}{entry['rule']} {entry['redacted']} in {where}"
    return text if entry["level"] == LEAK else f"{text} ({REVIEW_ASK.get(entry['rule'], 'review it')})"


_FIX_LEAK = ("Remove the key from the client code, keep it on the server (an API route or server "
             "function calls the vendor), and rotate it now: every visitor has had it. Only "
             "publishable keys (Stripe pk_live_, restricted browser keys) belong in a bundle.")
_FIX_ENV = ("The secret-named variable's value is compiled into the bundle: stop reading it in "
            "client code (or drop the client prefix that exposes it) and rotate it.")
_FIX_REVIEW = ("A browser key is public by design: restrict it (HTTP referrers and the APIs it may "
               "call) in the vendor's console. A keyword hit that is only a label or a text: accept "
               "the finding with that reason. Anything else is a secret: move it to the server.")


@check(
    "hardening.secrets_bundle",
    stage=Stage.HARDENING,
    impact=Impact.BLOCKER,
    title="No secrets in the client bundle",
    targets=page_hosts,
    timeout_s=180.0,
)
def secrets_bundle(target: str, ctx: Context) -> Result:
    """The pages, same-site scripts and source maps a browser gets from the host hold no secret.

    Fetched (``checks/engine/bundle.py``, redirects followed hop by hop, RFC 9110 §15.4):
    ``https://host/`` and the project's GET page endpoints on the host; the same-site
    ``<script src>`` they load (at most 10); each script's
    source map (``SourceMap`` header or last ``sourceMappingURL`` comment, ECMA-426 §11.1) and
    its ``sourcesContent`` (§4). Each response is capped at the profile's body cap, the host's
    texts at 4 M characters. Scanned with ``checks.engine.secrets.scan_text``; string literals
    (8–512 characters, at most 100,000) hashed with SHA-256 and compared with the fingerprints
    of the project's secret-named environment variables (``spec.hardening.environments``;
    which names mark a secret: ``checks/engine/checks/environments.py``). Findings whose
    fingerprint is in ``spec.hardening.accepted_secrets`` are left out and counted; so are
    the scanner's unnamed high-entropy strings (a bundle is full of hashes and base64 images).
    A keyword-only hit (``password:"…"``: in minified code mostly a label) is for review.

    - fail: a leak (a server-only key first: Stripe ``sk_live_``/``rk_live_``, AWS secret
      access keys, private keys …; then a variable's value by fingerprint; then other leaks).
    - warn: only review findings (a Google/Firebase browser key: "verify key restrictions";
      a keyword-only hit: "check whether it is a secret");
      or nothing found but part of the bundle could not be scanned (cut at the body cap, over
      the budget): never a pass with a part unread.
    - error: a page, script or map could not be read (DNS, TLS, timeout, redirect loop, WAF
      block) and nothing was found in the rest.
    - pass: everything fetched was scanned and nothing found.
    Evidence: each finding's URL and UTF-8 (RFC 3629) byte offset (or, in a map's source, its name and
    line:column), rule, redacted value (at most 4 characters and a SHA-256 prefix) and
    fingerprint — never the value; a fingerprint match names the variable only.
    """
    facts = ctx.project.hardening
    accepted = facts.accepted_secrets if facts is not None else frozenset()
    fetched = bundle.collect(target, ctx)
    entries, left_out = _scan(fetched.texts, accepted)
    fingerprints = secret_fingerprints(facts.environments) if facts is not None else {}
    matches, hashed, complete = bundle.match_fingerprints(fetched.texts, fingerprints)
    if not complete:
        reason = f"over {bundle.MAX_LITERALS} string literals: the rest not hashed"
        fetched.not_scanned.append({"url": target, "reason": reason})
    leaks = [e for e in entries if e["level"] == LEAK]
    reviews = [e for e in entries if e["level"] != LEAK]
    ordered = [e for e in leaks if e["server_only"]] + matches + [e for e in leaks if not e["server_only"]]
    evidence = {"findings": (ordered + reviews)[:MAX_LISTED], "scanned": fetched.scanned,
                "not_scanned": fetched.not_scanned, "untested": fetched.found.untested}
    metrics = {"files": len(fetched.texts), "scanned_bytes": sum(e.get("bytes", 0) for e in fetched.scanned),
               "leaks": len(leaks), "server_only": sum(1 for e in leaks if e["server_only"]),
               "env_matches": len(matches), "review": len(reviews), "literals_hashed": hashed,
               "accepted": left_out["accepted"], "unnamed_high_entropy": left_out["unnamed"]}
    if ordered:
        fixes = ([_FIX_LEAK] if leaks else []) + ([_FIX_ENV] if matches else [])
        return Result.fail(first_few([_phrase(e) for e in ordered], separator="; "), evidence,
                           metrics=metrics, remediation=" ".join(fixes))
    if reviews:
        return Result.warn(first_few([_phrase(e) for e in reviews], separator="; "), evidence,
                           metrics=metrics, remediation=_FIX_REVIEW)
    return _nothing_found(target, fetched, left_out["accepted"], evidence, metrics)


def _nothing_found(target: str, fetched: bundle.Bundle, accepted: int, evidence: dict,
                   metrics: dict) -> Result:
    """The verdict when no finding is judged: a block or an unread part is never a pass."""
    if fetched.found.blocked is not None:
        fetched.found.blocked.evidence.update(evidence)
        fetched.found.blocked.metrics = metrics
        return fetched.found.blocked
    if fetched.found.untested or not fetched.texts:
        reasons = list(dict.fromkeys(u["reason"] for u in fetched.found.untested)) or ["nothing fetched"]
        return Result.error(f"could not test: {first_few(reasons, separator='; ')}", evidence,
                            metrics=metrics)
    files = _count(len(fetched.texts), "file")
    note = f" ({_count(accepted, 'accepted finding')} left out)" if accepted else ""
    if fetched.not_scanned:
        reasons = first_few([f"{n['url']}: {n['reason']}" for n in fetched.not_scanned], separator="; ")
        return Result.warn(f"no secret in the {files} scanned, but part of the bundle was not scanned "
                           f"({reasons}){note}", evidence, metrics=metrics,
                           remediation="Split the bundle (code splitting) or raise the scanner's body cap.")
    return Result.passed(f"{files} of {target} scanned ({metrics['scanned_bytes']} bytes): no secret found"
                         f"{note}", evidence, metrics=metrics)
