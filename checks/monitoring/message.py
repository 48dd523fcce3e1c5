"""What an alert says, whatever the channel: ``AlertMessage`` and how it reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.urls import reverse

ICONS = {"down": "🔴", "up": "✅", "test": "🔔"}


@dataclass(frozen=True)
class AlertMessage:
    """``kind``: ``down``, ``up`` or ``test``; ``reason``: why it went down (down) or how it
    answered (up); ``at``: when the state changed (UTC); ``down_s``: how long it was down, in
    seconds (up); ``link``: the project's page in the panel."""

    kind: str
    project: str
    monitor: str = ""
    url: str = ""
    reason: str = ""
    at: datetime | None = None
    down_s: float | None = None
    link: str = ""

    @property
    def title(self) -> str:
        if self.kind == "test":
            return f"Test alert for {self.project}"
        return f"{self.monitor} is {'down' if self.kind == 'down' else 'up again'}"

    @property
    def line(self) -> str:
        """One line: the notification text, the mail's subject."""
        if self.kind == "test":
            return f"{ICONS['test']} Test alert from Launch Ready for {self.project}"
        if self.kind == "down":
            return f"{ICONS['down']} DOWN: {self.monitor} of {self.project}: {self.reason}"
        return f"{ICONS['up']} UP: {self.monitor} of {self.project} is up again after {duration(self.down_s)}"

    @property
    def detail(self) -> str:
        """The body's sentences, plain text."""
        if self.kind == "test":
            return f"This channel receives the outage alerts of {self.project}'s monitors. Nothing is down."
        when = self.at.strftime("%Y-%m-%d %H:%M:%S UTC") if self.at else "an unknown time"
        if self.kind == "down":
            return f"{self.url} is down since {when}: {self.reason}."
        return f"{self.url} is up again since {when} ({self.reason}), after {duration(self.down_s)} down."


def duration(seconds: float | None) -> str:
    """``45 s``, ``3 min 20 s``, ``2 h 5 min``; ``an unknown time`` for ``None``."""
    if seconds is None:
        return "an unknown time"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message_for(delivery) -> AlertMessage:
    """The message of an ``AlertDelivery`` (its incident's monitor and times; a test's
    names only the project)."""
    project = delivery.channel.project
    link = settings.SITE_URL + reverse("projects:detail", args=[project.pk])
    incident = delivery.incident
    if delivery.kind == "test" or incident is None:
        return AlertMessage(kind="test", project=project.name, link=link)
    monitor = incident.monitor
    if delivery.kind == "down":
        return AlertMessage(kind="down", project=project.name, monitor=monitor.name, url=monitor.url,
                            reason=incident.reason, at=incident.opened_at, link=link)
    closed = incident.events.filter(kind="closed").order_by("-at", "-id").first()
    down_s = (incident.closed_at - incident.opened_at).total_seconds() if incident.closed_at else None
    return AlertMessage(kind="up", project=project.name, monitor=monitor.name, url=monitor.url,
                        reason=closed.reason if closed else "", at=incident.closed_at, down_s=down_s,
                        link=link)
