"""Plan and run checks concurrently; the exception boundary between checks and the world.

A unit is one (check, target). Units are independent and I/O bound, so a stage runs them on
a thread pool: the wall time of a stage is close to its slowest unit, not to their sum.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from checks.engine.registry import Check, Context, all_checks
from checks.engine.result import Outcome, Result, Stage, Status
from checks.engine.text import printable

MAX_WORKERS = 32


class _Load:
    """How many units are running in this process, latency-measuring ones not counted.

    A latency figure taken while this process is busy with other checks measures our own
    scheduling (the GIL, 30 threads doing TLS handshakes), not the client's app: on a 2-core
    machine the demo's feed p95 went from 6 ms alone to 130 ms mid-audit, and past its target
    under CI load. Checks registered with ``measures_latency`` wait for this to reach 0.
    """

    def __init__(self) -> None:
        self._running = 0
        self._changed = threading.Condition()

    def add(self, delta: int) -> None:
        with self._changed:
            self._running += delta
            self._changed.notify_all()

    def wait_for_quiet(self, timeout_s: float) -> int:
        """Block until no other unit runs, at most ``timeout_s``; return how many still do
        (0: quiet)."""
        with self._changed:
            self._changed.wait_for(lambda: self._running == 0, timeout=timeout_s)
            return self._running


LOAD = _Load()


def wait_for_quiet(timeout_s: float) -> int:
    """For latency-measuring checks: wait until no other check runs in this process (at most
    ``timeout_s`` seconds); returns the number of units still running, 0 when quiet."""
    return LOAD.wait_for_quiet(timeout_s)


@dataclass(frozen=True)
class Unit:
    check: Check
    target: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.check.id, self.target)


def plan(
    project,
    *,
    stages: Iterable[Stage] | None = None,
    quick: bool = False,
    check_ids: Iterable[str] | None = None,
) -> list[Unit]:
    """Every (check, target) a run of ``stages`` (all when ``None``) performs for ``project``;
    with ``check_ids``, only those checks (``["email.transactional"]``: "Send test mails")."""
    wanted = set(stages) if stages is not None else None
    only = set(check_ids) if check_ids is not None else None
    units = []
    for check in all_checks():
        if wanted is not None and check.stage not in wanted:
            continue
        if only is not None and check.id not in only:
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

    A unit still running ``timeout_s`` after *it* started (not after the stage started: a
    unit waiting for a free thread is not late) is recorded as ``error`` and left behind.
    Outcomes arrive through a queue, so the cost per unit stays flat however many there are.
    Every unit not ``measures_latency`` counts in ``LOAD`` from submission (a unit waiting for
    a thread is load to come) until its thread ends, it is cancelled or it is left behind late.
    """
    outcomes: list[Outcome] = []
    if not units:
        return outcomes
    finished: queue.Queue[tuple[int, Outcome]] = queue.Queue()
    started_at: dict[int, float] = {}

    released: set[int] = set()
    release_lock = threading.Lock()

    def release(index: int) -> None:
        """Stop counting unit ``index`` in ``LOAD``, once (its thread ended, it was cancelled,
        or it was left behind late: a hung unit must not hold every later p95 of the process)."""
        with release_lock:
            if index in released:
                return
            released.add(index)
        LOAD.add(-_load(units[index]))

    def work(index: int) -> None:
        started_at[index] = time.monotonic()
        try:
            finished.put((index, run_unit(units[index], ctx)))
        finally:
            release(index)

    pool = ThreadPoolExecutor(max_workers=min(max_workers, len(units)), thread_name_prefix="check")
    pending = set(range(len(units)))
    futures = {}
    LOAD.add(sum(_load(unit) for unit in units))
    try:
        for index in pending:
            futures[index] = pool.submit(work, index)
        while pending:
            try:
                index, outcome = finished.get(timeout=_next_deadline(units, started_at, pending))
            except queue.Empty:
                index, outcome = None, None
            if index is not None and index in pending:
                pending.discard(index)
                _deliver(outcome, outcomes, on_outcome)
            for late in _late(units, started_at, pending):
                pending.discard(late)
                release(late)
                unit = units[late]
                result = Result.error(f"did not finish within {unit.check.timeout_s:g} s")
                _deliver(_outcome(unit, result, started_at[late]), outcomes, on_outcome)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        for index in range(len(units)):
            if index not in futures or futures[index].cancelled():
                release(index)
    return outcomes


def _load(unit: Unit) -> int:
    return 0 if unit.check.measures_latency else 1


def _deliver(outcome: Outcome, outcomes: list[Outcome], on_outcome) -> None:
    outcomes.append(outcome)
    if on_outcome:
        on_outcome(outcome)


def _next_deadline(units: list[Unit], started_at: dict[int, float], pending: set[int]) -> float:
    """Seconds until the earliest running unit is late (at most 1 s, to notice new starts)."""
    now = time.monotonic()
    waits = [started_at[i] + units[i].check.timeout_s - now for i in pending if i in started_at]
    return max(0.01, min([1.0, *waits]))


def _late(units: list[Unit], started_at: dict[int, float], pending: set[int]) -> list[int]:
    now = time.monotonic()
    return [i for i in pending if i in started_at and now > started_at[i] + units[i].check.timeout_s]


def _outcome(unit: Unit, result: Result, started: float) -> Outcome:
    if result.status is Status.ERROR:
        result.evidence.setdefault("elapsed_ms", round((time.monotonic() - started) * 1000, 1))
    # Whatever a target sent (a NUL in a certificate name, escape codes in a header) is
    # stored and shown as text: escape it once, here, for every check.
    result.summary = printable(result.summary)
    result.evidence = printable(result.evidence)
    result.remediation = printable(result.remediation)
    return Outcome(
        check_id=unit.check.id,
        stage=unit.check.stage,
        impact=unit.check.impact,
        target=printable(unit.target),
        result=result,
        duration_ms=(time.monotonic() - started) * 1000,
    )
