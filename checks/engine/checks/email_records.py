"""Mail records of the email stage: DKIM keys, the DMARC policy and MX, checked on the apex.

The rules live in ``checks/engine/email/`` (``dkim.py``, ``dmarc.py``, ``mx.py``), one module
per record; these functions register them and pick the target.

Impact, all HIGH: without a usable DKIM key and an enforcing DMARC policy, Gmail and Yahoo
send a bulk sender's mail to spam or refuse it (their 2024 sender requirements), and anyone can
send mail as the domain; password resets and invites are what a launch loses first. A broken or
missing MX loses replies and bounces, and receivers that check the sender's domain can refuse
its mail. None is a blocker: the app itself still runs.
"""

from __future__ import annotations

from checks.engine.email.dkim import judge_dkim, lookup_selectors
from checks.engine.email.dmarc import check_dmarc
from checks.engine.email.mx import check_mx
from checks.engine.registry import Context, apex_only, check
from checks.engine.result import Impact, Result, Stage


@check(
    "email.dkim",
    stage=Stage.EMAIL,
    impact=Impact.HIGH,
    title="DKIM keys published and strong",
    targets=apex_only,
)
def dkim(target: str, ctx: Context) -> Result:
    """The DKIM key records at the project's selectors and the usual providers' selectors are
    usable by verifiers (RFC 6376 §3.6.1; Ed25519 per RFC 8463; key sizes per RFC 8301 §3.2).

    Selectors: the project's ``dkim_selectors``, then google (Google Workspace), selector1 and
    selector2 (Microsoft 365), k1-k3 (Mailchimp; k1 also Mailgun), mte1, mte2, mandrill
    (Mailchimp Transactional), s1, s2, smtpapi (SendGrid), pdk1, pdk2, mx (Mailgun). Postmark
    and Amazon SES selectors are per-domain tokens: only configured ones are checked.
    - pass: at least one usable key, none weak, no configured selector without a usable key.
    - warn: an RSA key of 1024-2047 bits; only Ed25519 keys (many receivers, Gmail among
      them, verify RSA only); t=y (testing); several records under one selector; an unusable
      record or a CNAME to nothing under a provider selector while a usable key exists.
    - fail: no key at any selector (the summary lists every selector asked); no usable key
      (revoked, unreadable, under 1024 bits); a configured selector without a usable key; an
      RSA key under 1024 bits anywhere.
    - error: a selector's query failed and nothing above failed.
    """
    lookups = lookup_selectors(ctx.net.dns, target, list(ctx.project.dkim_selectors))
    return judge_dkim(target, lookups)


@check(
    "email.dmarc",
    stage=Stage.EMAIL,
    impact=Impact.HIGH,
    title="DMARC policy enforced and reported",
    targets=apex_only,
)
def dmarc(target: str, ctx: Context) -> Result:
    """One valid DMARC record governs the domain's mail (RFC 7489 §6.6.3, tags per §6.3 and
    DMARCbis where it is final), found at ``_dmarc.<apex>`` or at the organisational domain's
    (Public Suffix List), with authorised report addresses (RFC 7489 §7.1).
    - pass: p (or sp, for a record at the organisational domain) is quarantine or reject, and
      aggregate reports (rua) go to an address that accepts them.
    - warn: policy none; pct below 100; t=y; no usable rua; sp=none under an enforcing p;
      invalid reporting tags (fo, rf, ri, psd).
    - fail: no record; several records; unparseable; p missing or invalid; invalid sp, np,
      adkim, aspf, pct or t; a report address at another organisational domain without its
      ``<domain>._report._dmarc.<rua domain>`` record.
    - error: a DNS query failed and nothing above failed.
    """
    return check_dmarc(ctx.net.dns, target)


@check(
    "email.mx",
    stage=Stage.EMAIL,
    impact=Impact.HIGH,
    title="MX records deliverable (or a null MX)",
    targets=apex_only,
)
def mx(target: str, ctx: Context) -> Result:
    """The apex's MX targets resolve and are not aliases (RFC 5321 §5.1, RFC 2181 §10.3), or a
    lone null MX declares that it receives no mail (RFC 7505).
    - pass: every target resolves to an address and none is a CNAME or an IP literal; or a
      lone ``0 .`` null MX.
    - warn: no MX but an address at the apex (implicit MX, legal per RFC 5321 §5.1, but a
      launch should say where mail goes).
    - fail: a target that is a CNAME, an IP literal or does not resolve; a null MX beside other
      records or with a preference other than 0; no MX and no address; the apex does not exist.
    - error: a DNS query failed and nothing above failed.
    """
    return check_mx(ctx.net.dns, target)
