"""The edge stage's wall time for 5 hosts with 200 ms on every response and every DNS answer.

A healthy project (apex, www, app, api, admin; www canonical) is played by the sandbox with
``latency_ms: 200`` on every HTTP(S) route and ``dns_latency_ms: 200`` on every DNS answer;
the edge stage runs once (``run_audit(stages=[edge])``). Every host's checks must run
concurrently: done one after the other they would take well over 10 s.

Target: under 3 s wall time, every verdict as the scenario expects. Prints one
``name: value unit`` line per figure, the wall time last; exits 1 when the target is missed
or a verdict differs, 2 when the sandbox cannot start.

Engine only (no Django): ``.venv/bin/python benchmarks/edge_stage.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.audit_wall import expect_mismatches, line, run_stage, start  # noqa: E402
from checks.engine.result import Stage  # noqa: E402
from checks.sandbox import parse_scenario  # noqa: E402

LATENCY_MS = 200
TARGET_MS = 3000
APEX = "edge-bench.test"
HSTS = ["Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"]
SECURITY = [
    ["Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"],
    ["X-Content-Type-Options", "nosniff"],
    ["Referrer-Policy", "strict-origin-when-cross-origin"],
]


def scenario_data() -> dict:
    """Five healthy hosts; the apex sends everything to www in one 301. Every unit of the edge
    stage is expected, so a fast but wrong stage fails the benchmark."""
    page = [{"path": "/*", "headers": [HSTS, ["Content-Type", "text/html"], *SECURITY],
             "body": "<h1>ok</h1>"}]
    hosts = {f"{label}.{APEX}": {"https": page} for label in ("www", "app", "api", "admin")}
    hosts[APEX] = {"https": [{"path": "/*", "status": 301,
                              "headers": [["Location", f"https://www.{APEX}{{path}}"], HSTS]}]}
    every = [APEX, *(f"{label}.{APEX}" for label in ("www", "app", "api", "admin"))]
    checks = ("dns.resolves", "dns.caa", "dns.authoritative", "dns.ttl", "tls.certificate",
              "tls.protocols", "tls.key_strength", "http.https_redirect", "http.redirect_hops", "http.hsts")
    expect = {check: dict.fromkeys(every, "pass") for check in checks}
    for not_applicable in ("dns.dangling_cname", "edge.cloudflare", "edge.origin_exposure"):
        expect[not_applicable] = dict.fromkeys(every, "skipped")  # no CNAME; not behind Cloudflare
    expect["http.canonical_host"] = {APEX: "pass"}
    expect["http.security_headers"] = {**dict.fromkeys(every, "pass"), APEX: "skipped"}  # a redirect
    expect["http.canonical_redirect"] = {APEX: "pass"}
    expect["http.hsts_preload"] = {APEX: "pass"}
    expect["http.mixed_content"] = {f"https://www.{APEX}/": "pass"}
    return {
        "name": "edge stage benchmark",
        "latency_ms": LATENCY_MS,
        "dns_latency_ms": LATENCY_MS,
        "project": {"name": "Edge bench", "apex": APEX, "preferred_host": f"www.{APEX}"},
        "dns": {APEX: {"CAA": [[0, "issue", "sandbox.test"]]}},
        "hosts": hosts,
        "expect": expect,
    }


def main() -> int:
    started_sandbox = start(lambda: parse_scenario(scenario_data()))
    if started_sandbox is None:
        return 2
    sandbox, project = started_sandbox
    scenario = sandbox.scenario
    outcomes, counters, wall_ms = run_stage(sandbox, project, Stage.EDGE)
    mismatches = expect_mismatches(scenario, outcomes, every_unit=True)
    for mismatch in mismatches:
        print(f"# verdict differs from expect: {mismatch}", file=sys.stderr)
    line("hosts", len(project.hosts), "count")
    line("units", len(outcomes), "count")
    line("latency_per_response_and_dns_answer", LATENCY_MS, "ms")
    line("unit_time_sum", sum(o.duration_ms for o in outcomes), "ms")  # inside the concurrent run
    line("dns_queries", counters["dns_queries"], "count")
    line("connections_opened", counters["connections_opened"], "count")
    line("expect_mismatches", len(mismatches), "count")
    line("edge_stage_wall", wall_ms, "ms")
    if wall_ms >= TARGET_MS:
        print(f"# target missed: {wall_ms:.0f} ms >= {TARGET_MS} ms", file=sys.stderr)
    return 1 if wall_ms >= TARGET_MS or mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
