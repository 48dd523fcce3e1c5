"""Alert mails, through Django's mail API (the ``EMAIL_URL`` setting), plain text."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import send_mail

from checks.monitoring.channels.base import RetryableFailure
from checks.monitoring.message import AlertMessage, cut


def parts(message: AlertMessage) -> tuple[str, str]:
    """``(subject, body)``: the subject is the alert's one line (≤ 200 characters)."""
    body = f"{message.detail}\n"
    if message.link:
        body += f"\n{message.link}\n"
    body += "\n-- \nLaunch Ready monitoring\n"
    return cut(" ".join(message.line.split()), 200), body


def send(channel, message: AlertMessage) -> None:
    subject, body = parts(message)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [channel.email], fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:  # a refused recipient is worth retrying too
        raise RetryableFailure(f"mail not sent: {type(exc).__name__}: {exc}") from None
