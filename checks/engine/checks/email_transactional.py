"""email.transactional: the app's real mail path, proven with four test mails.

Record checks say what receivers *should* conclude; this one sends a welcome, a password
reset, an invite and a notification through the project's own SMTP server, as the app does,
and reads them back at our capture server to see what a receiver *does* conclude: did each
arrive, does its DKIM signature verify, does SPF authorise the server that delivered it, and
does DMARC pass (a signature or the envelope aligned with the From domain)?

Impact HIGH, like the record checks: mail that fails DMARC goes to spam or is refused (Gmail's
and Yahoo's 2024 sender rules); the app itself still runs.
"""

from __future__ import annotations

import time

from checks.engine.email.dmarc import organisational_domain
from checks.engine.email.findings import Finding, headline, worst
from checks.engine.email.mailbox import CapturedMessage
from checks.engine.email.received import ReceivedReport, judge_received
from checks.engine.email.testmails import KINDS, capture_address, compose, new_token
from checks.engine.net.smtp import SmtpFailure
from checks.engine.registry import Context, apex_only, check
from checks.engine.result import Impact, Result, Stage, Status
from checks.engine.spec import SmtpSettings

SPF_BAD = ("fail", "softfail", "permerror")
LOST_FIX = "Look the message up in the provider's activity log: a bounce or a suppression says why."


@check(
    "email.transactional",
    stage=Stage.EMAIL,
    impact=Impact.HIGH,
    title="Transactional mails delivered, signed and aligned",
    targets=apex_only,  # the finding stays one across changes of From address
    timeout_s=150.0,
)
def transactional(target: str, ctx: Context) -> Result:
    """Four test mails (welcome, password reset, invite, notification) sent through the
    project's SMTP server to the capture mailbox, each judged as its receiver judges it
    (``checks/engine/email/received.py``: DKIM per RFC 6376 §6, SPF check_host() per RFC 7208
    §2.4 for the address that delivered it, DMARC alignment per RFC 7489 §3.1 and §4.2).

    - fail: a mail did not arrive within the wait (``NetworkProfile.mail_wait_s``); DMARC
      fails — no passing DKIM signature with a ``d=`` aligned with the From domain and no SPF
      pass for an aligned envelope domain.
    - warn: DMARC passes on SPF alone (no aligned DKIM signature: forwarding breaks SPF and
      with it DMARC); SPF gives fail, softfail or permerror for the delivering address
      (receivers that check SPF before DMARC may refuse it); the From address is outside the
      project's organisational domain (its DMARC, SPF and DKIM are someone else's to set).
    - pass: every mail arrived with an aligned, verifying DKIM signature and SPF did not
      fail.
    - error: the settings cannot be used as stored (``SmtpSettings.problem``: a password no
      key decrypts); the session failed — DNS, outbound policy, connection, timeout, TLS refused or
      not offered, login refused, sender or recipient refused — with the server's reply; no
      capture mailbox configured; a DNS failure while verifying left DKIM or SPF unknown.
    - skipped: no SMTP sending configured for the project.
    Evidence: the SMTP session (address, banner, TLS version, extensions, user — never the
    password), and per mail its arrival delay, delivering address, HELO, envelope sender, SPF,
    every DKIM signature, DMARC alignment and the headers as received (for the handover).
    Metrics: ``mails_arrived``, ``delivery_ms`` (the slowest arrival).
    """
    smtp = ctx.project.smtp
    if smtp is None:
        return Result.skipped("no SMTP sending configured: set the project's SMTP server to test its mails")
    if smtp.problem:
        return Result.error(f"could not test: {smtp.problem}", {"smtp": _settings_evidence(smtp)})
    profile = ctx.net.profile
    if profile.mailbox is None or not profile.mail_capture_domain:
        return Result.error(
            "could not test: no capture mailbox is configured (MAIL_CAPTURE_DOMAIN and the "
            "mail_capture server)", {"smtp": _settings_evidence(smtp)},
        )
    token = new_token()
    recipients = {kind: capture_address(token, kind, profile.mail_capture_domain) for kind in KINDS}
    messages = [
        compose(kind, project_name=ctx.project.name, from_address=smtp.from_address, to=address,
                token=token, site=ctx.project.preferred_host)
        for kind, address in recipients.items()
    ]
    sent_at = time.time()
    try:
        session = ctx.net.smtp.send(smtp, messages, envelope_from=smtp.from_address)
    except SmtpFailure as failure:
        evidence = {"smtp": _settings_evidence(smtp),
                    "failure": {"kind": failure.kind, "phase": failure.phase, "reply": failure.reply}}
        return Result.error(f"could not test: {smtp.host}:{smtp.port}: {failure}", evidence)
    arrived = profile.mailbox.wait_for(list(recipients.values()), profile.mail_wait_s)
    return _judge(ctx, recipients, arrived, sent_at, session.as_evidence(), profile.mail_wait_s)


def _judge(ctx: Context, recipients: dict[str, str], arrived: dict[str, CapturedMessage],
           sent_at: float, session: dict, wait_s: float) -> Result:
    reports = {kind: judge_received(ctx.net.dns, arrived[address])
               for kind, address in recipients.items() if address in arrived}
    findings = _lost([kind for kind in recipients if kind not in reports], wait_s)
    findings += _grouped(reports, ctx.project.apex)
    findings += _foreign_from(ctx.project.smtp.from_domain, ctx.project.apex)
    mails = {kind: _mail_evidence(reports.get(kind), sent_at) for kind in recipients}
    evidence = {"smtp": session, "from": ctx.project.smtp.from_address, "mails": mails,
                "findings": [f.as_evidence() for f in findings]}
    delays = [mail["delivery_ms"] for mail in mails.values() if mail["arrived"]]
    metrics = {"mails_arrived": len(reports), **({"delivery_ms": max(delays)} if delays else {})}
    status = worst(findings)
    remediation = " ".join(dict.fromkeys(f.fix for f in findings if f.status is status and f.fix))
    if status is Status.PASS:
        return Result.passed(_pass_summary(reports, delays), evidence, metrics=metrics)
    summary = headline(findings)
    if status is Status.ERROR:
        return Result.error(f"could not test: {summary}", evidence, metrics=metrics)
    maker = Result.fail if status is Status.FAIL else Result.warn
    return maker(summary, evidence, remediation=remediation, metrics=metrics)


def _lost(kinds: list[str], wait_s: float) -> list[Finding]:
    if not kinds:
        return []
    if len(kinds) == len(KINDS):
        text = f"none of the {len(KINDS)} test mails arrived within {wait_s:g} s"
    else:
        text = f"{', '.join(_label(k) for k in kinds)} did not arrive within {wait_s:g} s"
    return [Finding(Status.FAIL, text, LOST_FIX)]


def _foreign_from(from_domain: str, apex: str) -> list[Finding]:
    """A From address at another organisation's domain (gmail.com for clubhouse.test)."""
    if organisational_domain(from_domain) == organisational_domain(apex):
        return []
    return [Finding(
        Status.WARN, f"the From address is at {from_domain}, not under the project's domain {apex}",
        f"Send from an address at {apex}: only the owner of {from_domain} can publish its SPF, "
        "DKIM and DMARC records.",
    )]


def _grouped(reports: dict[str, ReceivedReport], apex: str) -> list[Finding]:
    """Each problem once, naming the mails it concerns ("welcome, invite: …")."""
    kinds_by_problem: dict[Finding, list[str]] = {}
    for kind, report in reports.items():
        for finding in _problems(report, apex):
            kinds_by_problem.setdefault(finding, []).append(kind)
    return [
        Finding(f.status, f"{_kinds(kinds, len(reports))}: {f.text}", f.fix)
        for f, kinds in kinds_by_problem.items()
    ]


def _problems(report: ReceivedReport, apex: str) -> list[Finding]:
    """What is wrong with one received mail, worded without its kind."""
    problems = []
    dmarc = report.alignment
    signatures = ", ".join(
        f"d={s.domain} {s.result}" + (f" ({s.reason})" if s.reason else "") for s in report.signatures
    ) or "no signature"
    if report.dkim_result == "temperror" or report.spf_result == "temperror":
        problems.append(Finding(Status.ERROR, "a DNS failure left DKIM or SPF unknown"))
    if dmarc is None:
        problems.append(Finding(Status.FAIL, "no single From address: DMARC cannot pass (RFC 7489 §6.6.1)",
                                "Send with exactly one From address."))
    elif dmarc.result == "fail" and report.dkim_result != "temperror":
        problems.append(Finding(
            Status.FAIL,
            f"DMARC fails for {dmarc.from_domain}: nothing passes aligned with it (DKIM {signatures}; "
            f"SPF {report.spf_result} at {report.spf_domain})",
            _alignment_fix(dmarc.from_domain, apex),
        ))
    elif not dmarc.dkim_aligned and report.dkim_result != "temperror":
        problems.append(Finding(
            Status.WARN,
            f"DMARC passes on SPF alone ({signatures}): forwarding breaks SPF and then DMARC",
            f"Have the provider sign with d={dmarc.from_domain} as well.",
        ))
    if report.spf_result in SPF_BAD:
        problems.append(Finding(
            Status.WARN,
            f"SPF {report.spf_result} for {report.message.peer_ip} at {report.spf_domain}: "
            f"{report.spf_summary}",
            f"Authorise the provider's servers in the SPF record of {report.spf_domain}.",
        ))
    return problems


def _alignment_fix(from_domain: str, apex: str) -> str:
    if organisational_domain(from_domain) != organisational_domain(apex):
        return f"Send from an address at {apex}, and have the provider sign with d={apex}."
    return (f"Have the provider sign with d={from_domain} (its domain-authentication set-up: the DKIM "
            "CNAME or TXT records it gives) or use a return-path under your domain.")


def _mail_evidence(report: ReceivedReport | None, sent_at: float) -> dict:
    if report is None:
        return {"arrived": False}
    delivery_ms = round(max(0.0, report.message.received_at - sent_at) * 1000)  # whole ms: clocks say no more
    return {"arrived": True, "delivery_ms": delivery_ms, **report.as_evidence()}


def _pass_summary(reports: dict[str, ReceivedReport], delays: list[float]) -> str:
    first = next(iter(reports.values()))
    return (
        f"{len(reports)} test mails arrived within {max(delays) / 1000:.1f} s, DKIM-signed by "
        f"d={first.alignment.dkim_aligned} (aligned), SPF {first.spf_result} for "
        f"{first.message.peer_ip} at {first.spf_domain}, DMARC pass"
    )


def _settings_evidence(smtp: SmtpSettings) -> dict:
    """The settings without the password."""
    return {"host": smtp.host, "port": smtp.port, "security": smtp.security,
            "username": smtp.username, "from": smtp.from_address}


def _label(kind: str) -> str:
    return kind.replace("_", " ")


def _kinds(kinds: list[str], among: int) -> str:
    """``every mail`` when ``kinds`` are all four of ``among`` mails, else their names."""
    if len(kinds) == among == len(KINDS):
        return "every mail"
    return ", ".join(_label(k) for k in kinds)
