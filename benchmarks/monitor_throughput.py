"""How many probes a minute one worker process sustains, and how late they start.

``MONITORS`` monitors (default 1,500, every 30 s: 3,000 probes a minute offered) watch ten
HTTPS hosts of a sandbox — a real DNS server and HTTPS with certificates from the sandbox's
test CA, 20 ms before each response — started in a child process, so the sandbox's servers do
not share the measured process's CPU. Half the monitors search a keyword in the body. Their
first due times are spread evenly over the first interval.

The measured process is one worker: every ``MONITOR_TICK_S`` (2 s) it runs the tick's claim
(``scheduler.claim_due``: the same conditional UPDATE … FOR UPDATE SKIP LOCKED as the beat's
task on PostgreSQL) and then each batch of 50 claims in turn with ``scheduler.run_batch`` —
the body of the ``monitor_probe`` task: load, probe concurrently through the outbound policy
(``AsyncHttpClient``, a fresh TCP and TLS connection per probe), record probes, states and
incidents. It calls those functions in-process rather than through Celery and Redis: a
worker process runs one task at a time, so this is the same work in the same order, without
the broker's few milliseconds per task.

Figures, over ``DURATION_S`` (60 s): probes recorded per minute (the headline, last), the lag
between falling due and the probe starting (``Probe.at − Probe.due_at``) at p50/p95/max, the
share of wall time the worker was busy and the rate it could sustain at 100 % busy. Targets:
at least 2,000 probes a minute with lag p95 under 5 s, every probe up. Prints one ``name:
value unit`` line per figure; exits 1 when a target is missed, 2 when the sandbox or the
database cannot be prepared.

Database: the one ``DATABASE_URL`` names (migrated first; the benchmark's agency and its rows
are deleted at the end), else a new SQLite file in a temporary directory (``make bench`` needs
no PostgreSQL; the claim then goes row by row).

``.venv/bin/python benchmarks/monitor_throughput.py [--monitors N] [--duration S]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

INTERVAL_S = 30
TICK_S = 2.0
HOSTS = 10
LATENCY_MS = 20
TARGET_PER_MIN = 2000
TARGET_LAG_P95_S = 5.0
APEX = "monitor-bench.test"
SCENARIO = "monitor-bench.yaml"  # a name only: the profile is pinned, nothing is read


def scenario_data() -> dict:
    page = [{"path": "/*", "body": "<h1>Welcome to the bench</h1>" + "<p>member content</p>" * 50}]
    return {
        "name": "monitor throughput benchmark",
        "latency_ms": LATENCY_MS,
        "project": {"name": "Monitor bench", "apex": APEX},
        "hosts": {f"h{i}.{APEX}": {"https": page} for i in range(HOSTS)},
    }


def serve_sandbox(conn) -> None:
    """Child process: run the sandbox, send its profile, stop when told."""
    from checks.sandbox import Sandbox, parse_scenario

    box = Sandbox(parse_scenario(scenario_data()))
    try:
        profile = box.start()
        conn.send({k: v for k, v in asdict(replace(profile, mailbox=None)).items() if k != "mailbox"})
        conn.recv()
    finally:
        box.stop()


def line(name: str, value: float, unit: str) -> None:
    text = f"{value:.0f}" if unit in ("count", "probes/min", "ms") else f"{value:.2f}"
    print(f"{name}: {text} {unit}", flush=True)


def prepare_database() -> tempfile.TemporaryDirectory | None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "launchready.settings")
    workdir = None
    if not os.environ.get("DATABASE_URL"):
        workdir = tempfile.TemporaryDirectory(prefix="lr-bench-")
        os.environ["SQLITE_PATH"] = str(Path(workdir.name) / "bench.sqlite3")
    os.environ["REDIS_URL"] = ""  # nothing is queued: alerts would run in-process (none expected)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return workdir


def seed(monitors: int):
    from django.utils import timezone

    from checks.models import Monitor
    from projects.models import Agency, Project

    agency = Agency.objects.create(name="Monitor bench", slug=f"monitor-bench-{os.getpid()}-{time.time_ns()}")
    project = Project.objects.create(agency=agency, name="Monitor bench", apex_domain=APEX,
                                     sandbox_scenario=SCENARIO)
    start = timezone.now() + timedelta(seconds=1)
    Monitor.objects.bulk_create(
        Monitor(project=project, name=f"m{i}", url=f"https://h{i % HOSTS}.{APEX}/page/{i}",
                interval_s=INTERVAL_S, timeout_s=10, keyword="Welcome" if i % 2 else "",
                next_due_at=start + timedelta(seconds=INTERVAL_S * i / monitors))
        for i in range(monitors)
    )
    return agency, project


def run_worker(duration_s: float) -> tuple[float, float]:
    """Tick every TICK_S, run the batches; returns (busy seconds, wall seconds)."""
    from checks.monitoring.scheduler import batches, claim_due, run_batch

    started = time.monotonic()
    busy = 0.0
    next_tick = started
    while time.monotonic() < started + duration_s:
        now = time.monotonic()
        if now < next_tick:
            time.sleep(next_tick - now)
        next_tick += TICK_S
        work_started = time.monotonic()
        for batch in batches(claim_due()):
            run_batch(batch)
        busy += time.monotonic() - work_started
    return busy, time.monotonic() - started


def measure(project, duration_s: float) -> dict:
    from checks.models import Probe

    busy_s, wall_s = run_worker(duration_s)
    probes = list(Probe.objects.filter(monitor__project=project).values_list("at", "due_at", "ok", "error"))
    lags = sorted((at - due).total_seconds() for at, due, _, _ in probes)
    failed = [error for _, _, ok, error in probes if not ok]
    return {
        "probes": len(probes), "failed": failed, "busy_s": busy_s, "wall_s": wall_s,
        "lag_p50_s": statistics.median(lags) if lags else 0.0,
        "lag_p95_s": lags[int(0.95 * (len(lags) - 1))] if lags else 0.0,
        "lag_max_s": lags[-1] if lags else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=1500)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured")
    args = parser.parse_args(argv)

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve_sandbox, args=(child,), daemon=True)
    server.start()
    if not parent.poll(60):
        print("the sandbox did not start within 60 s", file=sys.stderr)
        return 2
    profile_fields = parent.recv()
    try:
        workdir = prepare_database()
    except Exception as exc:  # noqa: BLE001 — any failure to reach or migrate the database
        print(f"cannot prepare the database: {exc}", file=sys.stderr)
        parent.send("stop")
        return 2
    from django.db import connection

    from checks.engine.net.profile import NetworkProfile
    from checks.monitoring.network import pin_sandbox_profile

    pin_sandbox_profile(SCENARIO, NetworkProfile(**profile_fields))
    agency, project = seed(args.monitors)
    try:
        figures = measure(project, args.duration)
    finally:
        agency.delete()
        parent.send("stop")
        server.join(10)
        if workdir is not None:
            workdir.cleanup()

    per_min = figures["probes"] * 60 / figures["wall_s"]
    busy_share = figures["busy_s"] / figures["wall_s"]
    for error in sorted(set(figures["failed"]))[:5]:
        print(f"# a probe failed: {error}", file=sys.stderr)
    print(f"# database: {connection.vendor}", flush=True)
    line("monitors", args.monitors, "count")
    line("interval", INTERVAL_S, "s")
    line("offered", args.monitors * 60 / INTERVAL_S, "probes/min")
    line("window", figures["wall_s"], "s")
    line("probes", figures["probes"], "count")
    line("probes_failed", len(figures["failed"]), "count")
    line("lag_p50", figures["lag_p50_s"], "s")
    line("lag_max", figures["lag_max_s"], "s")
    line("worker_busy", busy_share * 100, "%")
    line("capacity_at_full_busy", per_min / busy_share if busy_share else 0, "probes/min")
    line("lag_p95", figures["lag_p95_s"], "s")
    line("probes_per_min", per_min, "probes/min")
    missed = []
    if per_min < TARGET_PER_MIN:
        missed.append(f"{per_min:.0f} probes/min < {TARGET_PER_MIN}")
    if figures["lag_p95_s"] >= TARGET_LAG_P95_S:
        missed.append(f"lag p95 {figures['lag_p95_s']:.2f} s >= {TARGET_LAG_P95_S} s")
    if figures["failed"]:
        missed.append(f"{len(figures['failed'])} probes failed")
    for text in missed:
        print(f"# target missed: {text}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
