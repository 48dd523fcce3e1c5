"""The monitor state machine, incidents and flapping, as pure functions (exact values)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from checks.monitoring.incidents import Action, Facts, decide, flapping_reason, retry_after_s, step

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_monitor_goes_down_after_down_after_consecutive_failures_and_up_after_one_success():
    steps = []
    state, failures = "unknown", 0
    for ok in (True, False, False, False, True, False, True):
        result = step(state, failures, 2, ok)
        steps.append((result.state, result.consecutive_failures, result.change))
        state, failures = result.state, result.consecutive_failures
    assert steps == [
        ("up", 0, None),
        ("up", 1, None),
        ("down", 2, "down"),
        ("down", 3, None),
        ("up", 0, "up"),
        ("up", 1, None),
        ("up", 0, None),
    ]


def test_a_new_monitor_that_never_answers_goes_down_from_unknown():
    first = step("unknown", 0, 2, False)
    assert (first.state, first.consecutive_failures, first.change) == ("unknown", 1, None)
    second = step(first.state, first.consecutive_failures, 2, False)
    assert (second.state, second.consecutive_failures, second.change) == ("down", 2, "down")


def test_down_after_one_goes_down_at_the_first_failure():
    result = step("up", 0, 1, False)
    assert (result.state, result.change) == ("down", "down")


def test_a_failure_that_is_not_yet_an_outage_is_probed_again_after_20_s_or_the_interval():
    assert retry_after_s(60) == 20
    assert retry_after_s(3600) == 20
    assert retry_after_s(10) == 10


def test_going_down_opens_an_incident_and_alerts_down():
    action = decide(Facts(change="down", state="down", now=NOW), "status 503, expected 200")
    assert action == Action(open=True, events=(("opened", "status 503, expected 200"),), alert="down")


def test_coming_up_closes_the_incident_and_alerts_up():
    facts = Facts(change="up", state="up", now=NOW, incident_open=True, recent_changes=1)
    assert decide(facts, "status 200 in 12 ms") == Action(
        close=True, events=(("closed", "status 200 in 12 ms"),), alert="up"
    )


def test_no_change_and_no_incident_does_nothing():
    assert decide(Facts(change=None, state="up", now=NOW), "status 200 in 5 ms") == Action()
    outage = Facts(change=None, state="down", now=NOW, incident_open=True)
    assert decide(outage, "timeout after 10 s") == Action()


def test_the_fifth_change_in_30_minutes_opens_the_incident_as_flapping_without_an_alert():
    facts = Facts(change="down", state="down", now=NOW, recent_changes=4)
    assert decide(facts, "connect refused") == Action(
        open=True,
        events=(("opened", "connect refused"),
                ("flapping", "5 state changes in 30 min: alerts held until the state holds for 10 min")),
    )


def test_the_fourth_change_still_alerts():
    facts = Facts(change="down", state="down", now=NOW, recent_changes=3)
    assert decide(facts, "connect refused").alert == "down"


def test_a_fifth_change_that_is_a_recovery_keeps_the_incident_open_as_flapping():
    facts = Facts(change="up", state="up", now=NOW, incident_open=True, recent_changes=4)
    assert decide(facts, "status 200 in 3 ms") == Action(
        events=(("up", "status 200 in 3 ms"), ("flapping", flapping_reason(5)))
    )


def test_changes_while_flapping_are_kept_as_events_without_alerts():
    flapping = {"now": NOW, "incident_open": True, "incident_flapping": True, "recent_changes": 7}
    assert decide(Facts(change="down", state="down", **flapping), "timeout after 10 s") == Action(
        events=(("down", "timeout after 10 s"),)
    )
    assert decide(Facts(change="up", state="up", **flapping), "status 200 in 3 ms") == Action(
        events=(("up", "status 200 in 3 ms"),)
    )


def test_a_flapping_monitor_up_for_10_minutes_closes_its_incident_with_one_up_alert():
    facts = Facts(change=None, state="up", now=NOW, incident_open=True, incident_flapping=True,
                  last_change_at=NOW - timedelta(minutes=10))
    assert decide(facts, "status 200 in 3 ms") == Action(
        close=True, events=(("closed", "up for 10 min after flapping"),), alert="up"
    )


def test_a_flapping_monitor_down_for_10_minutes_becomes_a_plain_outage_with_its_down_alert():
    facts = Facts(change=None, state="down", now=NOW, incident_open=True, incident_flapping=True,
                  last_change_at=NOW - timedelta(minutes=10, seconds=1))
    assert decide(facts, "connect refused") == Action(
        events=(("stable", "down for 10 min after flapping"),), alert="down"
    )


def test_a_flapping_monitor_that_held_only_9_minutes_stays_flapping():
    facts = Facts(change=None, state="up", now=NOW, incident_open=True, incident_flapping=True,
                  last_change_at=NOW - timedelta(minutes=9, seconds=59))
    assert decide(facts, "status 200 in 3 ms") == Action()
