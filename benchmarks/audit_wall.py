"""Audit wall time against the slowest single check, on the demo scenario with slow routes.

Every route of every host in ``scenarios/demo.yaml`` is given ``latency_ms: 200`` (default
routes and ``http: redirect`` shorthands included), the sandbox is started once, and:

(a) each unit (check, target) of the plan runs alone in a fresh ``Net`` — nothing shared
    with any other unit — and is timed from ``Net()`` to ``Net.close()``;
(b) the full audit (``run_audit``: every unit concurrently, one shared ``Net``) is timed the
    same way.

The target: the audit's wall time is at most 1.5 × its floor. Units are I/O bound and
independent, so running them together must cost about as much as the longest one, not their
sum — except the p95 probes (``performance.p95``), which run one at a time on purpose: two
probes at once would load the app with both and each would measure the other's traffic. The
floor is therefore the slowest single unit or the sum of the p95 probes, whichever is longer.
Prints one ``name: value unit`` line per figure, the headline ratio last; exits 1 when the
target is missed or the audit's verdicts differ from the scenario's ``expect`` (a fast but
wrong audit proves nothing), 2 when the sandbox cannot start.

Engine only (no Django): ``.venv/bin/python benchmarks/audit_wall.py [--scenario FILE]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from checks.engine.audit import run_audit, spec_from_dict  # noqa: E402
from checks.engine.net.profile import NetworkProfile  # noqa: E402
from checks.engine.net.session import Net  # noqa: E402
from checks.engine.registry import Context  # noqa: E402
from checks.engine.result import Outcome  # noqa: E402
from checks.engine.runner import Unit, plan, run_unit  # noqa: E402
from checks.engine.spec import ProjectSpec  # noqa: E402
from checks.sandbox import Sandbox, Scenario, ScenarioError, load_scenario  # noqa: E402

ROUTE_LATENCY_MS = 200.0
TARGET_RATIO = 1.5
SERIAL_CHECKS = ("performance.p95",)  # one probe at a time (checks/engine/checks/performance.py)


def slow_scenario(path: Path, latency_ms: float = ROUTE_LATENCY_MS) -> Scenario:
    """The scenario at ``path`` with ``latency_ms`` on every HTTP and HTTPS route."""
    scenario = load_scenario(path)
    for host in scenario.hosts.values():
        for routes in (host.https, host.http):
            for route in routes or ():
                route.latency_ms = latency_ms
    return scenario


def time_single(unit: Unit, project: ProjectSpec, profile: NetworkProfile) -> tuple[float, Outcome, int]:
    """``(wall ms, outcome, connections opened)`` of ``unit`` run alone in a fresh ``Net``."""
    started = time.perf_counter()
    with Net(profile) as net:
        outcome = run_unit(unit, Context(net, project))
        connections = net.counters()["connections_opened"]
    return (time.perf_counter() - started) * 1000, outcome, connections


def expect_mismatches(scenario: Scenario, outcomes: list[Outcome], *, every_unit: bool = False) -> list[str]:
    """Each ``check target: expected X, got Y`` where the audit disagrees with ``expect``; with
    ``every_unit``, also each unit ``expect`` does not name (a skipped one excepted)."""
    got = {(o.check_id, o.target): o.result.status.value for o in outcomes}
    mismatches = [
        f"{check_id} {target}: expected {status}, got {got.get((check_id, target), 'nothing')}"
        for check_id, targets in scenario.expect.items()
        for target, status in targets.items()
        if got.get((check_id, target)) != status
    ]
    if every_unit:
        named = {(c, t) for c, targets in scenario.expect.items() for t in targets}
        mismatches += [f"{check} {target}: {status}, not expected" for (check, target), status in got.items()
                       if (check, target) not in named and status != "skipped"]
    return mismatches


def run_stage(sandbox: Sandbox, project: ProjectSpec, stage) -> tuple[list[Outcome], dict[str, int], float]:
    """One stage of ``project`` against the started ``sandbox``, which is stopped after:
    ``(outcomes, the network's counters, wall time in ms)``."""
    try:
        started = time.perf_counter()
        outcomes, counters = run_audit(project, sandbox.profile, stages=[stage])
        return outcomes, counters, (time.perf_counter() - started) * 1000
    finally:
        sandbox.stop()


def start(load) -> tuple[Sandbox, ProjectSpec] | None:
    """``(started sandbox, project)`` for the scenario ``load()`` returns; ``None`` (with the
    reason on stderr) when it cannot be loaded or started."""
    try:
        scenario = load()
        project = spec_from_dict(scenario.project)
        sandbox = Sandbox(scenario)
        sandbox.start()
    except (ScenarioError, ValueError, OSError) as exc:
        print(f"cannot start the sandbox: {exc}", file=sys.stderr)
        return None
    return sandbox, project


def line(name: str, value: float, unit: str) -> None:
    text = f"{value:.0f}" if unit in ("ms", "count") else f"{value:.2f}"
    print(f"{name}: {text} {unit}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=REPO / "scenarios" / "demo.yaml")
    args = parser.parse_args(argv)
    started_sandbox = start(lambda: slow_scenario(args.scenario))
    if started_sandbox is None:
        return 2
    sandbox, project = started_sandbox
    scenario = sandbox.scenario
    try:
        units = plan(project)
        singles = [time_single(unit, project, sandbox.profile) for unit in units]
        started = time.perf_counter()
        outcomes, counters = run_audit(project, sandbox.profile)
        wall_ms = (time.perf_counter() - started) * 1000
    finally:
        sandbox.stop()

    slowest_ms, slowest_outcome, _ = max(singles, key=lambda s: s[0])
    serial_ms = sum(ms for ms, outcome, _ in singles if outcome.check_id in SERIAL_CHECKS)
    floor_ms = max(slowest_ms, serial_ms)
    ratio = wall_ms / floor_ms
    mismatches = expect_mismatches(scenario, outcomes)
    print(f"# slowest single unit: {slowest_outcome.check_id} {slowest_outcome.target}", file=sys.stderr)
    for mismatch in mismatches:
        print(f"# verdict differs from expect: {mismatch}", file=sys.stderr)
    line("units", len(units), "count")
    line("route_latency", ROUTE_LATENCY_MS, "ms")
    line("single_checks_sum", sum(s[0] for s in singles), "ms")
    line("slowest_single_check", slowest_ms, "ms")
    line("p95_probes_sum", serial_ms, "ms")
    line("single_connections_sum", sum(s[2] for s in singles), "count")
    line("audit_wall", wall_ms, "ms")
    line("dns_queries", counters["dns_queries"], "count")
    line("connections_opened", counters["connections_opened"], "count")
    line("expect_mismatches", len(mismatches), "count")
    line("audit_wall_vs_floor", ratio, "ratio")
    if ratio > TARGET_RATIO:
        print(f"# target missed: audit wall {wall_ms:.0f} ms > {TARGET_RATIO} × floor "
              f"{floor_ms:.0f} ms", file=sys.stderr)
    return 1 if ratio > TARGET_RATIO or mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
