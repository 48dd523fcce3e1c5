"""The starter runbook: "what to do if X breaks" for the five situations every handover
covers. The handover page offers each one; the consultant adopts it with one click and then
makes it the project's own (names, links, commands). Plain data, no Django.

Keys are the engine's ``RUNBOOK_SITUATIONS`` (``checks/engine/checks/handover.py``), in its
order; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from textwrap import dedent


@dataclass(frozen=True)
class Starter:
    key: str
    title: str
    steps: str


def _steps(text: str) -> str:
    return dedent(text).strip()


STARTERS = (
    Starter("site_down", "Site down", _steps("""
        1. Confirm it is down for everyone: the uptime monitor, and the site on a phone on mobile data.
        2. If it broke right after a deploy, follow "Bad deploy" now.
        3. Check the hosting provider's status page, then the app's logs and error tracker.
        4. A DNS or certificate error in the browser: the DNS provider (access map), "Certificate expiring".
        5. Post on the status page and call the infrastructure owner.
    """)),
    Starter("login_broken", "Login broken", _steps("""
        1. Log in with a test account in a private window; write down the exact error.
        2. Check the error tracker and the auth provider's status page.
        3. Did the last deploy change auth settings (secret key, cookie domain, callback URL)? Roll back.
        4. Password reset mails not arriving: see "Mails land in spam".
        5. Call the app owner.
    """)),
    Starter("mail_in_spam", "Mails land in spam", _steps("""
        1. Send a password reset to a Gmail and an Outlook address; "Show original": SPF, DKIM, DMARC.
        2. Run a Launch Ready audit: the email stage checks the records and sends four test mails.
        3. Fix the failing record at the DNS provider (see the access map).
        4. Check the mail provider's dashboard for bounces, complaints and suppressed addresses.
        5. Call the email owner.
    """)),
    Starter("certificate_expiring", "Certificate expiring", _steps("""
        1. Check the expiry date on every host: the audit's certificate result, or the browser's padlock.
        2. Renewal is automatic (ACME, the host, the CDN)? Find why it failed: DNS or the challenge path.
        3. Renew at the host or CDN now; confirm the new date on the apex, www., app. and api.
        4. Set a reminder 30 days before the next expiry.
    """)),
    Starter("bad_deploy", "Bad deploy", _steps("""
        1. Roll back first, investigate later: follow the rollback instructions in this handover.
        2. Check that login and one key page work again; say so on the status page.
        3. Find the cause in the error tracker and the release's changes; fix it on a branch.
        4. Deploy the fix with the deploy steps and watch the errors for 15 minutes.
    """)),
)
BY_KEY = {starter.key: starter for starter in STARTERS}
