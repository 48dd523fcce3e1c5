"""Stage 4, the cross-account test: two test accounts read each personal endpoint in turn,
and neither may ever receive the other's data or session (a cache keyed on the URL alone, a
stored ``Set-Cookie``). The rules are in ``cross_account``'s docstring and docs/caching.md."""

from __future__ import annotations

import hashlib
import re
import secrets
from urllib.parse import urlsplit

from checks.engine.caching import cache_evidence
from checks.engine.checks.caching import PERSONAL_FIX, fresh, log_in_as, personal_endpoints, unreadable
from checks.engine.net.http import HttpExchange
from checks.engine.net.login import Credentials, LoginFailed
from checks.engine.registry import Context, check
from checks.engine.result import Impact, Result, Stage
from checks.engine.spec import TestAccount
from checks.engine.text import first_few

ROUNDS = 3  # rounds, each A then B
MIN_MARKER = 3  # shorter usernames ("al") match by chance
MIN_COOKIE = 8  # shorter cookie values match by chance
EXCERPT = 40  # characters of a leaked body shown, identity markers redacted
HIT_FIELDS = ("age", "cf-cache-status", "x-cache")  # what a leak's evidence shows of the cache


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _excerpt(body: bytes, markers: list[str]) -> str:
    """The first ``EXCERPT`` characters of ``body`` with every identity marker redacted."""
    text = body[:EXCERPT * 4].decode("utf-8", "replace")
    for marker in markers:
        text = text.replace(marker, "[member]")
    return re.sub(r"\s+", " ", text)[:EXCERPT]


def _marker(account: TestAccount) -> str:
    """How the account shows in its own data: its username, when long enough to be telling."""
    return account.username if len(account.username) >= MIN_MARKER else ""


@check("performance.cross_account", stage=Stage.PERFORMANCE, impact=Impact.BLOCKER,
       title="One member never receives another's data or session", targets=personal_endpoints,
       timeout_s=90.0)
def cross_account(target: str, ctx: Context) -> Result:
    """Two test accounts read the personal endpoint in turn and neither gets the other's data.

    Sent: the first two test accounts log in; then ``ROUNDS`` (3) rounds of a GET as A then as
    B; then each reads the URL once more with a query nobody cached (``?lr_direct=<random>``):
    its direct answer. A leak, from X's point of view with Y the other account, is any of:

    - identity: X's answer contains Y's username and not X's own (usernames of 3+ characters),
      while X's direct answer never shows Y's username (a common word is no swap);
    - body: X's answer is byte-for-byte (SHA-256) an answer Y received earlier, while X's
      direct answer differs from it (the endpoint does answer X differently);
    - cookie: X's answer sets a cookie whose value is one of Y's session cookie values
      (8+ characters; ``Set-Cookie``, RFC 6265 §4.1).

    Each is what RFC 9111 forbids a shared cache to do with a response meant for one user
    (§5.2.2.7 ``private``, §3.5 a request with ``Authorization``); this check observes the
    outcome instead of reading the headers, so it also catches a CDN rule that overrides them.

    - fail: any leak (impact blocker); evidence names the URL, who saw whose data, the round,
      and the answer's cache fields (``Age``, ``CF-Cache-Status``, ``X-Cache``); bodies appear only as
      SHA-256, length and a 40-character excerpt with usernames redacted.
    - error: fewer than two test accounts ("needs two test accounts"), a login failed, an
      answer missing, blocked or not 2xx; or the accounts cannot be told apart (identical
      direct answers, each without its own username): a leak could not be seen.
    - pass: the accounts can be told apart (different direct answers, or each direct answer
      shows its own username) and no answer carries the other's data or session.
    """
    accounts = ctx.project.accounts[:2]
    if len(accounts) < 2:
        return Result.error(
            f"needs two test accounts to read {target} as two members ({len(ctx.project.accounts)} given)",
            {"url": target}, remediation="Add a second test account to the project.",
        )
    evidence: dict = {"url": target, "accounts": [a.label for a in accounts]}
    try:
        credentials = [log_in_as(ctx, a) for a in accounts]
    except LoginFailed as exc:
        return Result.error(f"could not log in to read {target}: {exc}", evidence)
    answers: list[tuple[int, int, HttpExchange]] = []  # (round, account index, answer)
    for number in range(1, ROUNDS + 1):
        for index in (0, 1):
            answers.append((number, index, ctx.net.http.fetch(
                target, headers=(*credentials[index].headers, fresh(f"cross-{number}-{index}")))))
    token = secrets.token_hex(6)
    joiner = "&" if urlsplit(target).query else "?"
    direct = [ctx.net.http.fetch(f"{target}{joiner}lr_direct={token}-{i}",
                                 headers=(*credentials[i].headers, fresh(f"direct-{i}"))) for i in (0, 1)]
    for _, index, answer in answers:
        if problem := unreadable(target, answer, accounts[index].label, evidence):
            return problem
    markers = [_marker(a) for a in accounts]
    direct_ok = [d.body if d.error is None and 200 <= (d.status or 0) < 300 else None for d in direct]
    leaks = _leaks(answers, direct_ok, markers, credentials, [a.label for a in accounts])
    evidence["answers"] = [{"round": n, "account": accounts[i].label, "status": a.status,
                            "sha256": _digest(a.body), "length": len(a.body),
                            "headers": cache_evidence(a.headers)} for n, i, a in answers]
    evidence["direct"] = [{"account": accounts[i].label, "status": d.status,
                           "sha256": _digest(d.body) if direct_ok[i] is not None else None}
                          for i, d in enumerate(direct)]
    for leak in leaks:
        leak["excerpt"] = _excerpt(leak.pop("_body"), [m for m in markers if m])
    evidence["leaks"] = leaks
    metrics = {"requests": len(answers) + len(direct), "leaks": len(leaks)}
    if leaks:
        rounds: dict[str, list[str]] = {}
        for leak in leaks:
            what = f"{leak['account']} saw {leak['owner']}'s {leak['kind']}"
            rounds.setdefault(what, []).append(str(leak["round"]))
        phrases = [f"{what} in round{'s' if len(r) > 1 else ''} {', '.join(r)}" for what, r in rounds.items()]
        return Result.fail(f"{target}: {first_few(phrases, separator='; ')}", evidence,
                           remediation=PERSONAL_FIX, metrics=metrics)
    distinct = direct_ok[0] is not None and direct_ok[1] is not None and direct_ok[0] != direct_ok[1]
    # Each account's own username in its own direct answer: the identity rule could see a swap.
    named = all(m and body is not None and m.encode() in body
                for m, body in zip(markers, direct_ok, strict=True))
    if not distinct and not named:
        return Result.error(
            f"could not tell the two accounts apart at {target}: their direct answers are identical "
            "and do not show the accounts' usernames", evidence, metrics=metrics,
            remediation="Give both test accounts their usernames, or use accounts whose data differ.",
        )
    return Result.passed(f"{ROUNDS} rounds as {accounts[0].label!r} and {accounts[1].label!r}: neither "
                         "received the other's data or session", evidence, metrics=metrics)


def _leaks(answers: list[tuple[int, int, HttpExchange]], direct: list[bytes | None], markers: list[str],
           credentials: list[Credentials], labels: list[str]) -> list[dict]:
    """Each answer that carries the other account's data (see ``cross_account``), as evidence
    entries (``_body`` is removed by the caller after the excerpt is made)."""
    leaks = []
    first_owner: dict[str, int] = {}  # body digest → the account that received it first
    for number, index, answer in answers:
        other = 1 - index
        digest = _digest(answer.body)
        owner = first_owner.setdefault(digest, index)
        kind = ""
        own, theirs = markers[index], markers[other]
        # The other's username counts only where X's own data never shows it: identical
        # answers holding a common word ("member") that is also a username are no swap.
        own_data = direct[index]
        if (own and theirs and own_data is not None and theirs.encode() not in own_data
                and theirs.encode() in answer.body and own.encode() not in answer.body):
            kind = "data (their username)"
        elif owner == other and direct[index] is not None and _digest(direct[index]) != digest:
            kind = "answer (byte-identical)"
        stolen = [v for v in credentials[other].cookie_values if len(v) >= MIN_COOKIE]
        set_cookies = answer.header_fields("set-cookie")
        if any(v in c for v in stolen for c in set_cookies):
            kind = kind + " and session cookie" if kind else "session cookie"
        if kind:
            leaks.append({"round": number, "account": labels[index], "owner": labels[other], "kind": kind,
                          "sha256": digest, "length": len(answer.body),
                          "cache": [f"{k}: {v}" for k, v in answer.headers if k.lower() in HIT_FIELDS],
                          "_body": answer.body})
    return leaks
