"""Slack incoming webhooks.

The body is a JSON object with ``text`` (the notification line and the fallback where blocks
are not shown, in mrkdwn) and ``blocks``: a ``header`` (``plain_text``, ≤ 150 characters), a
``section`` (mrkdwn, ≤ 3,000) and a ``context`` line — https://api.slack.com/messaging/webhooks
and https://api.slack.com/reference/block-kit/blocks . In mrkdwn ``&``, ``<`` and ``>`` are
escaped as ``&amp;``, ``&lt;``, ``&gt;`` and links are written ``<url|text>``
(https://api.slack.com/reference/surfaces/formatting#escaping), so a monitor's name or a
server's answer cannot smuggle in a ``<!channel>`` ping or a link. Slack answers 200 ``ok``;
400 ``invalid_payload``, 403 ``action_prohibited``, 404 ``channel_not_found`` / ``no_service``,
410 ``channel_is_archived``
(https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks).
"""

from __future__ import annotations

from checks.monitoring.channels.base import post_json, webhook_url
from checks.monitoring.message import ICONS, AlertMessage, cut


def escape(text: str) -> str:
    """``text`` safe in Slack mrkdwn: ``&``, ``<`` and ``>`` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(message: AlertMessage) -> dict:
    """The webhook body for ``message``."""
    header = cut(f"{ICONS[message.kind]} {message.title}", 150)
    details = escape(message.detail)
    if message.link:
        details += f"\n<{escape(message.link)}|Open {escape(message.project)} in Launch Ready>"
    return {
        "text": escape(message.line),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": cut(details, 3000)}},
            {"type": "context",
             "elements": [{"type": "mrkdwn", "text": cut(f"Launch Ready · {escape(message.project)}", 300)}]},
        ],
    }


def send(channel, message: AlertMessage) -> None:
    post_json(webhook_url(channel), payload(message))
