"""From probes to monitor state, incidents and the alerts they call for.

**State** (``step``): a monitor is ``down`` after ``down_after`` consecutive failed probes
(default 2) and ``up`` again after one success; ``unknown`` until its first verdict. A
failure that does not yet make it down has the next probe come sooner (``retry_after_s``:
20 s, never later than the interval), so with 60 s probes an outage is confirmed, and its
alert queued, at most about 60 + 20 s + two timeouts after it starts — inside the 2 minutes
promised — instead of 120 s.

**Incidents** (``decide``): going down opens an incident (event ``opened`` with the failing
probe's reason) and alerts ``down``; coming up closes it (event ``closed``) and alerts ``up``.
At most one incident per monitor is open (a database constraint).

**Flapping** — the rule: a state change (a monitor going down or up) is counted with the
changes of the 30 minutes before it (``FLAP_WINDOW``); when that makes more than 4
(``FLAP_CHANGES``), the monitor is flapping:

- the change is recorded with a ``flapping`` event ("5 state changes in 30 min: alerts held
  until the state holds for 10 min"), and no alert goes out for it;
- the incident stays open through the flapping spell (a success does not close it); every
  further change is kept as a ``down`` / ``up`` event on it, without alerts;
- once the state has held for 10 minutes (``STABLE_AFTER``): up → the incident closes
  (``closed``) with one ``up`` alert, sent only to channels that had its ``down`` alert; down
  → a ``stable`` event and the ``down`` alert (if it was held), the incident going on as a
  plain outage.

So a monitor that bounces every minute sends at most the alerts of its first four changes,
then one more when it settles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

FLAP_WINDOW = timedelta(minutes=30)
FLAP_CHANGES = 4  # more state changes than this within FLAP_WINDOW: flapping
STABLE_AFTER = timedelta(minutes=10)
RETRY_AFTER_S = 20
CHANGE_KINDS = ("opened", "closed", "down", "up")  # the event kinds that are state changes


@dataclass(frozen=True)
class Step:
    """A monitor's state after one probe: ``state``, ``consecutive_failures``, and ``change``
    (``"down"``, ``"up"`` or ``None``)."""

    state: str
    consecutive_failures: int
    change: str | None


def step(state: str, consecutive_failures: int, down_after: int, ok: bool) -> Step:
    """The monitor state machine: ``unknown``/``up``/``down`` and the failure count after a
    probe that was ``ok`` or not."""
    if ok:
        return Step("up", 0, "up" if state == "down" else None)
    failures = consecutive_failures + 1
    if state != "down" and failures >= max(1, down_after):
        return Step("down", failures, "down")
    return Step(state, failures, None)


def retry_after_s(interval_s: int) -> int:
    """Seconds to the next probe after a failure that did not yet make the monitor down."""
    return min(RETRY_AFTER_S, interval_s)


@dataclass(frozen=True)
class Facts:
    """What ``decide`` needs about a monitor, after ``step``.

    ``recent_changes``: state changes of the monitor within ``FLAP_WINDOW`` before ``now``
    (not counting this one); ``incident_open`` / ``incident_flapping``: the open incident and
    whether its latest ``flapping``/``stable`` event is ``flapping``; ``last_change_at``: the
    open incident's latest state change (an ``opened``, ``down`` or ``up`` event).
    """

    change: str | None
    state: str
    now: datetime
    incident_open: bool = False
    incident_flapping: bool = False
    recent_changes: int = 0
    last_change_at: datetime | None = None


@dataclass(frozen=True)
class Action:
    """What to do: ``open`` / ``close`` the incident, add ``events`` (kind, reason) to it, and
    send the ``alert`` (``"down"``, ``"up"`` or ``None``)."""

    open: bool = False
    close: bool = False
    events: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    alert: str | None = None


def flapping_reason(changes: int) -> str:
    return (f"{changes} state changes in {FLAP_WINDOW.seconds // 60} min: alerts held until the "
            f"state holds for {STABLE_AFTER.seconds // 60} min")


def decide(facts: Facts, reason: str) -> Action:
    """The incident action for one probe (see the module docstring for the rules). ``reason``
    is the probe's error (going down) or how it answered (going up)."""
    changes = facts.recent_changes + 1
    flaps = changes > FLAP_CHANGES
    if facts.change == "down":
        if not facts.incident_open:
            if flaps:
                return Action(open=True, events=(("opened", reason), ("flapping", flapping_reason(changes))))
            return Action(open=True, events=(("opened", reason),), alert="down")
        return Action(events=(("down", reason),))  # a flapping incident kept open while up
    if facts.change == "up":
        if not facts.incident_open:
            return Action()
        if facts.incident_flapping:
            return Action(events=(("up", reason),))
        if flaps:
            return Action(events=(("up", reason), ("flapping", flapping_reason(changes))))
        return Action(close=True, events=(("closed", reason),), alert="up")
    held_long = facts.last_change_at is not None and facts.now - facts.last_change_at >= STABLE_AFTER
    if facts.incident_open and facts.incident_flapping and held_long:
        minutes = STABLE_AFTER.seconds // 60
        if facts.state == "up":
            return Action(close=True, events=(("closed", f"up for {minutes} min after flapping"),),
                          alert="up")
        return Action(events=(("stable", f"down for {minutes} min after flapping"),), alert="down")
    return Action()
