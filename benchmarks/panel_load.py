"""The panel under load: p95 of the risk list, the agency's pages and the API's project list.

Seeds one agency in a PostgreSQL database of its own (``--database-url``, default
``launchready_bench_panel`` on 127.0.0.1:5432, dropped and created anew, dropped again at the
end unless ``--keep``): ``--projects`` projects (default 200), each with a finished audit of
``--findings`` fail/warn results (default 60) and a ``Finding`` for each, 15 passed and 5
untested results, and two 1-minute monitors with a day of probes (1,440 each, 576,000 in all:
through COPY); the rest through ``bulk_create``.

Then runs the panel as production does — gunicorn with the image's settings
(``launchready/gunicorn_conf.py``; ``--workers``, default 3, the Dockerfile's count) with
DEBUG off, Redis for the cache and sessions (``--redis-url``, default database 12, emptied
first), a fixed SECRET_KEY, ALLOWED_HOSTS 127.0.0.1 and no HTTPS redirect (the
server listens on loopback, plain HTTP) — logs the owner in through the login form (the session
cookie) and creates a read-only API key (``launchready.api.keys.key_create``).

Every path is first fetched once, one at a time (``*_first_view_*``: the cold render, before
the cache holds its rows or risk cards, and the warm-up a working day gives). Then each page in
turn is fetched over one connection for ``--service-duration`` (5 s: its own
time, no queue), then driven by ``wrk -t2 -c<--connections> -d<--duration>s`` (default 10
connections, 30 s), a Lua script setting the cookie or ``Authorization: Bearer`` header and
rotating the path, counting every answer that is not 2xx in a ``response()`` hook and printing
the latency percentiles (HdrHistogram) in ``done()``:

- ``risk_list``: ``/projects/<id>/risks/``, over every project (each 60 risks);
- ``agency_overview``: ``/monitoring/``, every project's monitors at a glance (200 rows);
- ``project_list``: ``/projects/``, the landing page (200 rows, each project's last audit);
- ``api_projects``: ``/api/v1/projects/?page=N``, over every page (50 a page).

wrk's latency is from writing a request to reading its whole answer, queueing for a free
gunicorn worker included (sync workers: one request each at a time, the connection closed
after each answer, so wrk reconnects). Target: every page's p95 under 100 ms and no error
(non-2xx, socket error or timeout). Prints one ``name: value unit`` line per figure, the worst
p95 last, with the machine's load average before and after (on a shared machine other work
takes the server's CPU); exits 1 when the target is missed, 2 when wrk, PostgreSQL or the
server is missing.

``.venv/bin/python benchmarks/panel_load.py [--duration S] [--connections N] [--projects N]
[--findings N] [--workers N] [--service-duration S] [--keep]``
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/launchready_bench_panel"
REDIS_URL = "redis://127.0.0.1:6379/12"
TARGET_P95_MS = 100.0
WRK = shutil.which("wrk") or "/usr/bin/wrk"
GUNICORN = REPO / ".venv" / "bin" / "gunicorn"
# A throwaway account and signing key of a throwaway database (fixed, so sessions survive a
# worker restart).
USERNAME = "bench-owner"
LOGIN_WORD = "bench-" + "load-pass-7"
SIGNING_KEY = "panel-load-benchmark-" + "k" * 40
HOSTS = ("", "www.", "app.", "api.", "admin.")
PROBES_PER_DAY = 24 * 60  # 1-minute monitors
PASSED, UNTESTED = 15, 5

# One Lua state per wrk thread: setup() keeps each thread so done() can add up their counts.
WRK_SCRIPT = """
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  paths = {}
  for i = 2, #args do paths[#paths + 1] = args[i] end
  header_name, header_value = args[1]:match("^([^:]+): (.*)$")
  n = 0
  non2xx = 0
end
function request()
  n = n + 1
  local headers = {}
  headers[header_name] = header_value
  return wrk.format("GET", paths[(n % #paths) + 1], headers)
end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format("wrk_p50_us %d\\n", latency:percentile(50)))
  io.write(string.format("wrk_p95_us %d\\n", latency:percentile(95)))
  io.write(string.format("wrk_p99_us %d\\n", latency:percentile(99)))
  io.write(string.format("wrk_max_us %d\\n", latency.max))
  io.write(string.format("wrk_requests %d\\n", summary.requests))
  io.write(string.format("wrk_duration_us %d\\n", summary.duration))
  io.write(string.format("wrk_non2xx %d\\n", bad))
  io.write(string.format("wrk_socket_errors %d\\n", e.connect + e.read + e.write + e.timeout))
end
"""


def line(name: str, value: float, unit: str) -> None:
    text = f"{value:.0f}" if unit == "count" else f"{value:.2f}" if unit == "runnable" else f"{value:.1f}"
    print(f"{name}: {text} {unit}", flush=True)


def recreate_database(url: str) -> None:
    """Drop and create the database ``url`` names (connected through its server's
    ``postgres`` database). Raises ``psycopg.Error`` when the server cannot be reached."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a plain database name: {name!r}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {parts.path.lstrip('/')} WITH (FORCE)")


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    """Production-like settings for the benchmark's processes (the seeding one and gunicorn):
    Redis as production has it (the cache, sessions through it) unless ``redis_url`` is empty."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SQLITE_PATH")}
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update({
        "DJANGO_SETTINGS_MODULE": "launchready.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": SIGNING_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback; TLS is the proxy's in production
        "SECURE_COOKIES": "false",
        "LOG_LEVEL": "WARNING",
        "SANDBOX_ENABLED": "false",
    })
    return env


def seed(projects: int, findings: int) -> dict:
    """The agency, its owner, projects, audits, findings and monitors; returns the owner's
    API key (read-only) and the project ids."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from checks.engine.registry import all_checks
    from checks.models import AuditRun, CheckResult, Monitor
    from launchready.api.keys import key_create
    from projects.models import Agency, Endpoint, Finding, Membership, Project

    now = timezone.now()
    owner = get_user_model().objects.create_user(USERNAME, "owner@bench.example.com", LOGIN_WORD,
                                                 first_name="Bench", last_name="Owner")
    agency = Agency.objects.create(name="Bench agency", slug="bench-agency")
    Membership.objects.create(user=owner, agency=agency, role=Membership.Role.OWNER)
    rows = Project.objects.bulk_create(
        Project(agency=agency, name=f"Client app {n:03}", client_name=f"Client {n:03} Ltd",
                apex_domain=f"client{n:03}.example.com", preferred_host=f"www.client{n:03}.example.com",
                created_by=owner)
        for n in range(projects))
    Endpoint.objects.bulk_create(Endpoint(project=p, kind="homepage", url=f"https://www.{p.apex_domain}/")
                                 for p in rows)
    runs = AuditRun.objects.bulk_create(  # bulk_create skips save(): each project's first run, #1
        AuditRun(project=p, number=1, state=AuditRun.State.DONE, created_by=owner,
                 started_at=now - timedelta(minutes=5), finished_at=now - timedelta(minutes=1),
                 heartbeat_at=now - timedelta(minutes=1))
        for p in rows)
    units = [(c, host) for c in all_checks() if c.per_host for host in HOSTS]
    results, found = [], []
    for project, run in zip(rows, runs, strict=True):
        for i, (check, host) in enumerate(units[:findings + PASSED + UNTESTED]):
            target = host + project.apex_domain
            status = ("fail" if i % 3 else "warn") if i < findings else (
                "pass" if i < findings + PASSED else "error")
            summary = f"{check.id} on {target}: {status} (seeded for the panel benchmark)"
            results.append(CheckResult(
                run=run, check_id=check.id, stage=check.stage.value, impact=check.impact.value,
                target=target, status=status, summary=summary,
                evidence={"host": target, "observed": ["a", "b", "c"], "status": 200},
                remediation="Fix it as the check's documentation says." if i < findings else "",
                metrics={"duration_ms": 12.5}, duration_ms=12.5))
            if i < findings:
                found.append(Finding(
                    project=project, check_id=check.id, target=target, stage=check.stage.value,
                    impact=check.impact.value, last_result_status=status, summary=summary,
                    owner=owner if i % 4 == 0 else None, first_run=run, last_run=run))
    CheckResult.objects.bulk_create(results, batch_size=2000)
    Finding.objects.bulk_create(found, batch_size=2000)
    monitors = Monitor.objects.bulk_create(
        Monitor(project=p, name=name, url=f"https://www.{p.apex_domain}/{name}", state=state,
                next_due_at=now + timedelta(minutes=1))
        for p in rows for name, state in (("home", "up"), ("health", "down" if p.pk % 10 == 0 else "up")))
    copy_probes(monitors, now)
    _, key = key_create(agency=agency, name="panel load benchmark", scope="read", created_by=owner)
    return {"key": key, "project_ids": [p.pk for p in rows]}


def flush_redis(redis_url: str) -> None:
    """Empty the benchmark's Redis database (cached pages and sessions of an earlier run)."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def copy_probes(monitors, now) -> None:
    """A day of 1-minute probes for each monitor (1,440 each: what the product's 1-minute
    checks write), through COPY: half a million rows take seconds, not minutes."""
    from django.db import connection

    from checks.models import Probe

    table = Probe._meta.db_table
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {table} (monitor_id, at, ok, status_code, latency_ms, error) FROM STDIN") as copy:
        for monitor in monitors:
            ok, status = monitor.state == "up", 200 if monitor.state == "up" else 503
            for minute in range(1, PROBES_PER_DAY + 1):
                copy.write_row((monitor.pk, now - timedelta(minutes=minute), ok, status, 40.0, ""))


def prepare(database_url: str, redis_url: str, projects: int, findings: int) -> dict:
    """Create, migrate and seed the database in this process; returns ``seed()``'s answer."""
    os.environ.pop("REDIS_URL", None)
    os.environ.update(server_env(database_url, redis_url))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    seeded = seed(projects, findings)
    connections.close_all()
    return seeded


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(database_url: str, redis_url: str, port: int, workers: int) -> subprocess.Popen:
    """gunicorn on 127.0.0.1:``port``, answering; raises ``RuntimeError`` if it does not
    answer within 60 s."""
    import httpx

    command = [str(GUNICORN), "-c", "python:launchready.gunicorn_conf", "launchready.wsgi:application",
               "-b", f"127.0.0.1:{port}",
               "--workers", str(workers), "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=REPO, env=server_env(database_url, redis_url),
                              start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_server(server)
    raise RuntimeError("gunicorn did not answer within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)


def log_in(base: str) -> str:
    """The session cookie of the owner, through the login form; raises ``RuntimeError``."""
    import httpx

    with httpx.Client(base_url=base, timeout=10) as client:
        client.get("/accounts/login/")
        answer = client.post("/accounts/login/", data={
            "username": USERNAME, "password": LOGIN_WORD, "csrfmiddlewaretoken": client.cookies["csrftoken"]})
        if answer.status_code != 302 or "sessionid" not in client.cookies:
            raise RuntimeError(f"log-in failed: {answer.status_code}")
        return client.cookies["sessionid"]


def pages(seeded: dict, session: str, projects: int) -> dict[str, tuple[str, list[str]]]:
    """``{page: (header, paths)}`` for the wrk runs."""
    cookie = f"Cookie: sessionid={session}"
    api_pages = max(1, -(-projects // 50))
    return {
        "risk_list": (cookie, [f"/projects/{pk}/risks/" for pk in seeded["project_ids"]]),
        "agency_overview": (cookie, ["/monitoring/"]),
        "project_list": (cookie, ["/projects/"]),
        "api_projects": (f"Authorization: Bearer {seeded['key']}",
                         [f"/api/v1/projects/?page={n}" for n in range(1, api_pages + 1)]),
    }


def check_pages(base: str, driven: dict[str, tuple[str, list[str]]], findings: int) -> None:
    """Each page answers 200 with what was seeded (a page that answers a login form fast
    would measure nothing); raises ``RuntimeError``."""
    import httpx

    for name, (header, paths) in driven.items():
        key, value = header.split(": ", 1)
        answer = httpx.get(base + paths[0], headers={key: value}, timeout=30)
        if answer.status_code != 200:
            raise RuntimeError(f"{name}: {paths[0]} answered {answer.status_code}")
        listed = answer.text.count('<div class="finding" data-finding=')
        if name == "risk_list" and listed != findings:
            raise RuntimeError(f"risk_list: {paths[0]} shows {listed} findings, not {findings}")


def first_views(base: str, driven: dict[str, tuple[str, list[str]]]) -> dict[str, list[float]]:
    """Each path of each page fetched once, one at a time: ``{page: [ms, ...]}``. The panel
    keeps rendered rows and risk cards in the cache (launchready/fragments.py,
    checks/risk_cards.py); this is what a person opening a page nobody has opened since its
    data changed waits, and it leaves the cache as a working day would."""
    import httpx

    times: dict[str, list[float]] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for name, (header, paths) in driven.items():
            key, value = header.split(": ", 1)
            for path in paths:
                started = time.perf_counter()
                if client.get(path, headers={key: value}).status_code != 200:
                    raise RuntimeError(f"{name}: {path} did not answer 200")
                times.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return times


def run_wrk(base: str, header: str, paths: list[str], connections: int, duration_s: float) -> dict:
    """wrk's figures for one page; raises ``RuntimeError`` with its output when it prints none."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        command = [WRK, f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration_s:g}s",
                   "--timeout", "10s", "-s", script.name, base + paths[0], "--", header, *paths]
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60)
    finally:
        Path(script.name).unlink(missing_ok=True)
    found = {k: int(v) for k, v in re.findall(r"^(wrk_\w+) (\d+)$", done.stdout, re.M)}
    if done.returncode != 0 or "wrk_p95_us" not in found:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    return {"p50_ms": found["wrk_p50_us"] / 1000, "p95_ms": found["wrk_p95_us"] / 1000,
            "p99_ms": found["wrk_p99_us"] / 1000, "max_ms": found["wrk_max_us"] / 1000,
            "requests": found["wrk_requests"],
            "per_s": found["wrk_requests"] / max(found["wrk_duration_us"] / 1e6, 1e-9),
            "errors": found["wrk_non2xx"] + found["wrk_socket_errors"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("PANEL_BENCH_DATABASE_URL", DATABASE_URL))
    parser.add_argument("--redis-url", default=os.environ.get("PANEL_BENCH_REDIS_URL", REDIS_URL),
                        help="a Redis database of its own, emptied first ('': no Redis)")
    parser.add_argument("--duration", type=float, default=30.0, help="wrk's run per page, seconds")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--findings", type=int, default=60, help="findings per project (at most 80)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--service-duration", type=float, default=5.0,
                        help="wrk's run per page with one connection first, seconds (0: none)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if not Path(WRK).exists() or not GUNICORN.exists():
        print(f"need wrk ({WRK}) and gunicorn ({GUNICORN})", file=sys.stderr)
        return 2
    try:
        recreate_database(args.database_url)
    except Exception as exc:  # noqa: BLE001 - any failure to reach PostgreSQL means "cannot run"
        print(f"cannot create the benchmark database: {exc}", file=sys.stderr)
        return 2
    try:
        started = time.monotonic()
        if args.redis_url:
            flush_redis(args.redis_url)
        seeded = prepare(args.database_url, args.redis_url, args.projects, args.findings)
        line("seed", time.monotonic() - started, "s")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        try:
            server = start_server(args.database_url, args.redis_url, port, args.workers)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 2
        try:
            driven = pages(seeded, log_in(base), args.projects)
            check_pages(base, driven, args.findings)
            first = first_views(base, driven)
            load_before = os.getloadavg()[0]
            # One connection first: each page's own time, with no queue for a worker in it.
            alone = {name: run_wrk(base, header, paths, 1, args.service_duration)
                     for name, (header, paths) in driven.items()} if args.service_duration > 0 else {}
            figures = {name: run_wrk(base, header, paths, args.connections, args.duration)
                       for name, (header, paths) in driven.items()}
            load_after = os.getloadavg()[0]
        finally:
            stop_server(server)
    finally:
        if not args.keep:
            drop_database(args.database_url)
    line("projects", args.projects, "count")
    line("findings", args.projects * args.findings, "count")
    line("connections", args.connections, "count")
    line("gunicorn_workers", args.workers, "count")
    # The machine's 1-minute load average around the runs: on a shared machine, other work takes
    # CPU from the server, and every figure below is only as good as this one.
    line("load_average_before", load_before, "runnable")
    line("load_average_after", load_after, "runnable")
    line("cpus", os.cpu_count() or 0, "count")
    for name, times in first.items():
        line(f"{name}_first_view_p50", statistics.median(times), "ms")
        line(f"{name}_first_view_max", max(times), "ms")
    for name, f in alone.items():
        line(f"{name}_one_connection_p50", f["p50_ms"], "ms")
        line(f"{name}_one_connection_p95", f["p95_ms"], "ms")
    for name, f in figures.items():
        line(f"{name}_requests", f["requests"], "count")
        line(f"{name}_errors", f["errors"], "count")
        line(f"{name}_rate", f["per_s"], "requests/s")
        line(f"{name}_p50", f["p50_ms"], "ms")
        line(f"{name}_p99", f["p99_ms"], "ms")
        line(f"{name}_p95", f["p95_ms"], "ms")
    worst = max(figures.values(), key=lambda f: f["p95_ms"])["p95_ms"]
    errors = sum(f["errors"] for f in figures.values())
    line("errors", errors, "count")
    line("worst_page_p95", worst, "ms")
    if worst >= TARGET_P95_MS or errors:
        print(f"# target missed: worst p95 {worst:.1f} ms (target < {TARGET_P95_MS:.0f} ms), "
              f"{errors} errors", file=sys.stderr)
    return 1 if worst >= TARGET_P95_MS or errors else 0


if __name__ == "__main__":
    sys.exit(main())
