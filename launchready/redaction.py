"""Logging filters that keep secrets carried in URLs out of log lines.

An invite link (``/invites/<token>/``) and a password-reset link
(``/accounts/reset/<uidb64>/<token>/``) are credentials. Django logs request paths: the
``django.request`` logger on every 4xx/5xx answer ("Gone: /invites/…/"), the development
server's ``django.server`` logger on every request line, ``django.security.csrf`` on a refused
form. This filter rewrites those messages with the token replaced by ``[redacted]``; settings
put it on those loggers and on the console handler (for anything else that logs a path).
Slack and Discord webhook URLs (alert channels) are credentials too: their secret part is
masked the same way wherever a message carries one.

No Django imports: ``LOGGING`` is configured before the apps load.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
# Invite tokens are secrets.token_urlsafe(32): 43 characters of [A-Za-z0-9_-]; anything of 16
# or more such characters after /invites/ is treated as one (ids like /invites/12/ stay).
_PATTERNS = (
    re.compile(r"(/invites/)[A-Za-z0-9_-]{16,}"),
    re.compile(r"(/accounts/reset/[A-Za-z0-9_-]+/)[A-Za-z0-9_-]+(?=/)"),
    # Sign-up confirmation tokens (projects/signup.py): django.core.signing output, base64 and ':'.
    re.compile(r"(/accounts/signup/confirm/)[A-Za-z0-9_:-]+"),
    # Alert webhooks (checks/monitoring): whoever has the URL can post to the channel. Slack:
    # https://hooks.slack.com/services/T…/B…/<secret> (also /workflows/…, /triggers/…, and
    # Slack GovCloud's hooks.slack-gov.com): everything after the kind is masked. Discord:
    # https://discord.com/api[/v10]/webhooks/<id>/<token> (also discordapp.com, ptb. and
    # canary.): the token is masked, the id kept.
    re.compile(r"(hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/)[A-Za-z0-9_/-]+", re.I),
    re.compile(
        r"((?:ptb\.|canary\.)?discord(?:app)?\.com/api(?:/v\d+)?/webhooks/\d+/)[A-Za-z0-9_.-]+", re.I
    ),
)


def redact(text: str) -> str:
    """``text`` with every invite or password-reset token, and the secret part of every Slack
    or Discord webhook URL, replaced by ``[redacted]``."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactUrlSecrets(logging.Filter):
    """Rewrite a record's message with ``redactor`` (here: URL tokens); never drops a record.
    ``logformat.RedactSecrets`` is the same filter with the wider redactor."""

    redactor = staticmethod(redact)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redactor(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
