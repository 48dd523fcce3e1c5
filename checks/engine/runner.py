"""Plan and run checks concurrently; the exception boundary between checks and the world.

A unit is one (check, target). Units are independent and I/O bound, so a stage runs them on
a thread pool: the wall time of a stage is close to its slowest unit, not to their sum.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from checks.engine.registry import Check, Context, all_checks
from checks.engine.result import Outcome, Result, Stage, Status

MAX_WORKERS = 32


@dataclass(frozen=True)
class Unit:
    check: Check
    target: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.check.id, self.target)


def plan(project, *, stages: Iterable[Stage] | None = None, quick: bool = False) -> list[Unit]:
    """Every (check, target) a run of ``stages`` (all when ``None``) performs for ``project``."""
    wanted = set(stages) if stages is not None else None
    units = []
    for check in all_checks():
        if wanted is not None and check.stage not in wanted:
            continue
        if quick and not check.quick:
            continue
        units.extend(Unit(check, target) for target in check.targets(project))
    return units


def run_unit(unit: Unit, ctx: Context) -> Outcome:
    """Run one unit; an exception inside a check becomes an ``error`` result, never a crash."""
    started = time.monotonic()
    try:
        result = unit.check.run(unit.target, ctx)
        if not isinstance(result, Result):
            raise TypeError(f"check returned {type(result).__name__}, not Result")
    except Exception as exc:  # the boundary: one broken check must not sink the audit
        result = Result.error(f"the check crashed: {type(exc).__name__}: {exc}")
    return _outcome(unit, result, started)


def run_units(
    units: list[Unit],
    ctx: Context,
    on_outcome: Callable[[Outcome], None] | None = None,
    *,
    max_workers: int = MAX_WORKERS,
) -> list[Outcome]:
    """Run ``units`` concurrently; ``on_outcome`` is called (in this thread) as each ends.

    A unit still running after its check's ``timeout_s`` is recorded as ``error``.
    """
    outcomes: list[Outcome] = []
    if not units:
        return outcomes
    pool = ThreadPoolExecutor(max_workers=min(max_workers, len(units)), thread_name_prefix="check")
    started = time.monotonic()
    pending: dict[Future, Unit] = {pool.submit(run_unit, u, ctx): u for u in units}
    try:
        while pending:
            budget = max(u.check.timeout_s for u in pending.values())
            done, _ = wait(pending, timeout=max(0.0, started + budget - time.monotonic()) + 0.5,
                           return_when=FIRST_COMPLETED)
            if not done:  # every unit left has outlived its time limit
                for future, unit in pending.items():
                    future.cancel()
                    result = Result.error(f"did not finish within {unit.check.timeout_s:g} s")
                    done_outcome = _outcome(unit, result, started)
                    outcomes.append(done_outcome)
                    if on_outcome:
                        on_outcome(done_outcome)
                break
            for future in done:
                unit = pending.pop(future)
                outcome = future.result()
                outcomes.append(outcome)
                if on_outcome:
                    on_outcome(outcome)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return outcomes


def _outcome(unit: Unit, result: Result, started: float) -> Outcome:
    if result.status is Status.ERROR:
        result.evidence.setdefault("elapsed_ms", round((time.monotonic() - started) * 1000, 1))
    return Outcome(
        check_id=unit.check.id,
        stage=unit.check.stage,
        impact=unit.check.impact,
        target=unit.target,
        result=result,
        duration_ms=(time.monotonic() - started) * 1000,
    )
