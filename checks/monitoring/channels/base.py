"""The errors every channel raises, and the webhook POST that Slack and Discord share."""

from __future__ import annotations

import asyncio
import json
import re
from email.utils import parsedate_to_datetime

from django.utils import timezone

from checks.engine.net.async_http import AsyncHttpClient
from checks.monitoring.network import monitor_profile
from launchready import crypto

SEND_TIMEOUT_S = 10.0
# Answers that trying again cannot change: Slack's 400 invalid_payload, 403
# action_prohibited, 404 channel_not_found / no_service, 410 channel_is_archived; Discord's
# 401 / 404 Unknown Webhook.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 410})
_PRINTABLE = re.compile(r"[^\x20-\x7e]+")


class PermanentFailure(Exception):
    """Sending cannot succeed by trying again; ``str(exc)`` says why."""


class RetryableFailure(Exception):
    """Sending failed for now; ``retry_after_s`` is the receiver's ``Retry-After``, if any."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def webhook_url(channel) -> str:
    """The channel's webhook URL, decrypted. Raises ``PermanentFailure`` when no key opens it."""
    try:
        return crypto.decrypt(channel.webhook_url_encrypted)
    except crypto.SecretDecryptionError as exc:
        raise PermanentFailure(str(exc)) from None


def post_json(url: str, payload: dict) -> None:
    """POST ``payload`` as JSON to ``url`` through the outbound policy (monitor profile; no
    redirects followed: a webhook that moves is an error), within ``SEND_TIMEOUT_S``. Any
    2xx is success. Raises ``PermanentFailure`` (policy refusal, a permanent status) or
    ``RetryableFailure`` (no answer, another status)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    exchange = asyncio.run(_post(url, body))
    if exchange.error_kind == "policy":
        raise PermanentFailure(exchange.error)
    if exchange.error:
        raise RetryableFailure("connect refused" if exchange.error_kind == "refused" else exchange.error)
    status = exchange.status
    if 200 <= status < 300:
        return
    answer = answer_text(exchange.body)
    text = f"status {status}" + (f": {answer}" if answer else "")
    if status in PERMANENT_STATUSES:
        raise PermanentFailure(text)
    raise RetryableFailure(text, retry_after_s=retry_after_s(exchange.header("retry-after")))


async def _post(url: str, body: bytes):
    async with AsyncHttpClient(monitor_profile(), max_connections=1) as client:
        hops = await client.request(
            "POST", url, content=body, timeout_s=SEND_TIMEOUT_S, max_body_bytes=1024,
            headers=[("Content-Type", "application/json; charset=utf-8")],
        )
    return hops[-1]


def answer_text(body: bytes) -> str:
    """A receiver's short answer for ``last_error``: Slack's plain ``no_service``, Discord's
    JSON ``message``; printable ASCII, at most 120 characters."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            text = data["message"]
    except ValueError:
        pass
    text = _PRINTABLE.sub(" ", text).strip()
    return text if len(text) <= 120 else text[:119] + "…"


def retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` in seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None
