"""Discord webhooks (Execute Webhook).

The body carries ``content`` (≤ 2,000 characters), one embed — ``title`` ≤ 256, ``description``
≤ 4,096, ``url``, ``color`` (a 24-bit RGB integer), ``fields`` (``name`` ≤ 256, ``value`` ≤
1,024), ``timestamp`` (ISO 8601) — ``username``, and ``allowed_mentions: {"parse": []}`` so that
no text in an alert pings anyone:
https://discord.com/developers/docs/resources/webhook#execute-webhook ,
https://discord.com/developers/docs/resources/message#embed-object-embed-limits ,
https://discord.com/developers/docs/resources/message#allowed-mentions-object .
Discord answers 204 No Content (200 with ``?wait=true``); 401/404 for a deleted webhook; 429
with ``Retry-After`` when rate-limited.
"""

from __future__ import annotations

from checks.monitoring.channels.base import post_json, webhook_url
from checks.monitoring.message import AlertMessage, cut, duration

COLORS = {"down": 0xD93025, "up": 0x1E8E3E, "test": 0x1A73E8}  # red, green, blue


def payload(message: AlertMessage) -> dict:
    """The webhook body for ``message``."""
    embed: dict = {
        "title": cut(message.title, 256),
        "description": cut(message.detail, 4096),
        "color": COLORS[message.kind],
    }
    if message.link:
        embed["url"] = message.link
    fields = []
    if message.url:
        fields.append({"name": "URL", "value": cut(message.url, 1024)})
    if message.kind == "down" and message.reason:
        fields.append({"name": "Reason", "value": cut(message.reason, 1024)})
    if message.kind == "up":
        fields.append({"name": "Down for", "value": duration(message.down_s)})
    if fields:
        embed["fields"] = fields
    if message.at:
        embed["timestamp"] = message.at.isoformat()
    return {
        "username": "Launch Ready",
        "content": cut(message.line, 2000),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }


def send(channel, message: AlertMessage) -> None:
    post_json(webhook_url(channel), payload(message))
