"""The runner is the exception boundary: a check that raises, returns nonsense or hangs
becomes an ``error`` outcome with the reason, and the other units still run."""

from __future__ import annotations

import threading

from checks.engine.registry import Check, Context
from checks.engine.result import Impact, Result, Stage, Status
from checks.engine.runner import Unit, run_units, wait_for_quiet
from checks.engine.spec import ProjectSpec


def _check(check_id: str, run, *, timeout_s: float = 5.0, measures_latency: bool = False) -> Check:
    return Check(
        id=check_id, stage=Stage.EDGE, impact=Impact.HIGH, title=check_id, run=run,
        targets=lambda project: [project.apex], timeout_s=timeout_s, quick=False,
        measures_latency=measures_latency,
    )


def _boom(target: str, ctx: Context) -> Result:
    raise RuntimeError(f"socket exploded while testing {target}")


def _fine(target: str, ctx: Context) -> Result:
    return Result.passed(f"{target} is fine", {"target": target})


def _nonsense(target: str, ctx: Context):
    return {"status": "pass"}


def _run(units: list[Unit], net) -> tuple[list, list]:
    seen = []
    outcomes = run_units(units, Context(net, ProjectSpec(name="t", apex="shop.test")), seen.append)
    return outcomes, seen


def test_a_check_that_raises_becomes_an_error_with_the_reason_not_a_crash(sandbox):
    box, net = sandbox({})
    units = [
        Unit(_check("test.boom", _boom), "www.shop.test"),
        Unit(_check("test.fine", _fine), "www.shop.test"),
    ]

    outcomes, seen = _run(units, net)

    by_id = {o.check_id: o for o in outcomes}
    boom = by_id["test.boom"]
    assert boom.status is Status.ERROR
    assert boom.result.summary == (
        "the check crashed: RuntimeError: socket exploded while testing www.shop.test"
    )
    assert boom.impact is Impact.HIGH and boom.stage is Stage.EDGE and boom.target == "www.shop.test"
    assert isinstance(boom.result.evidence["elapsed_ms"], float)
    assert by_id["test.fine"].status is Status.PASS
    assert by_id["test.fine"].result.summary == "www.shop.test is fine"
    assert sorted(o.check_id for o in seen) == ["test.boom", "test.fine"]  # on_outcome saw both


def test_a_check_that_returns_something_else_than_a_result_is_an_error(sandbox):
    box, net = sandbox({})

    [outcome], _ = _run([Unit(_check("test.nonsense", _nonsense), "www.shop.test")], net)

    assert outcome.status is Status.ERROR
    assert outcome.result.summary == "the check crashed: TypeError: check returned dict, not Result"


def test_a_check_that_outlives_its_time_limit_is_recorded_as_an_error(sandbox):
    box, net = sandbox({})
    release = threading.Event()

    def hangs(target: str, ctx: Context) -> Result:
        release.wait(10)
        return Result.passed("too late")

    try:
        outcomes, seen = _run(
            [Unit(_check("test.hangs", hangs, timeout_s=0.2), "www.shop.test"),
             Unit(_check("test.fine", _fine), "www.shop.test")],
            net,
        )
    finally:
        release.set()

    by_id = {o.check_id: o for o in outcomes}
    assert by_id["test.hangs"].status is Status.ERROR
    assert by_id["test.hangs"].result.summary == "did not finish within 0.2 s"
    assert by_id["test.fine"].status is Status.PASS
    assert len(seen) == 2


def test_no_units_means_no_outcomes(sandbox):
    box, net = sandbox({})

    assert _run([], net) == ([], [])


def test_a_latency_measuring_check_waits_until_the_other_checks_of_the_process_end(sandbox):
    box, net = sandbox({})
    order: list[str] = []
    release = threading.Event()

    def slow(target: str, ctx: Context) -> Result:
        release.wait(5)
        order.append("slow ended")
        return Result.passed("slow")

    def measures(target: str, ctx: Context) -> Result:
        threading.Timer(0.3, release.set).start()  # the slow check ends while this one waits
        others = wait_for_quiet(5)
        order.append(f"measured beside {others}")
        return Result.passed("measured")

    outcomes, _ = _run(
        [Unit(_check("test.measures", measures, measures_latency=True), "www.shop.test"),
         Unit(_check("test.slow", slow), "www.shop.test")],
        net,
    )

    assert order == ["slow ended", "measured beside 0"]
    assert sorted(o.status.value for o in outcomes) == ["pass", "pass"]
    assert wait_for_quiet(0) == 0  # every unit's load was given back


def test_waiting_for_quiet_gives_up_after_its_timeout_and_says_how_many_still_run(sandbox):
    box, net = sandbox({})
    release = threading.Event()
    seen: list[int] = []

    def busy(target: str, ctx: Context) -> Result:
        release.wait(5)
        return Result.passed("busy")

    def measures(target: str, ctx: Context) -> Result:
        seen.append(wait_for_quiet(0.2))
        release.set()
        return Result.passed("measured")

    _run([Unit(_check("test.measures", measures, measures_latency=True), "www.shop.test"),
          Unit(_check("test.busy", busy), "www.shop.test"),
          Unit(_check("test.busy2", busy), "www.shop.test")], net)

    assert seen == [2]
    assert wait_for_quiet(0) == 0
