"""Alert channels: one module per kind (``email``, ``slack``, ``discord``) behind one contract.

``send(channel, message)`` delivers an ``AlertMessage`` to an ``AlertChannel`` once, or raises
``PermanentFailure`` (trying again cannot help: a refused address, a webhook Slack or Discord
says is gone, a URL no key decrypts) or ``RetryableFailure`` (a timeout, a 5xx, a 429 with its
``Retry-After``). Errors name the cause, never a webhook URL.
"""

from __future__ import annotations

from checks.monitoring.channels import discord, email, slack
from checks.monitoring.channels.base import PermanentFailure, RetryableFailure
from checks.monitoring.message import AlertMessage

__all__ = ["PermanentFailure", "RetryableFailure", "send"]

_TRANSPORTS = {"email": email, "slack": slack, "discord": discord}


def send(channel, message: AlertMessage) -> None:
    """Deliver ``message`` through ``channel`` (by its ``kind``). Raises ``PermanentFailure``
    or ``RetryableFailure``."""
    _TRANSPORTS[channel.kind].send(channel, message)
