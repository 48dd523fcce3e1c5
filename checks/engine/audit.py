"""Run a whole audit in one process: what the CLI, the benchmarks and engine tests use.

The web product runs the same units through Celery tasks (one per stage); this module is
the same work without a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from checks.engine.net.profile import DEFAULT_PROFILE, NetworkProfile
from checks.engine.net.session import Net
from checks.engine.registry import Context
from checks.engine.result import Outcome, Stage
from checks.engine.runner import plan, run_units
from checks.engine.spec import EndpointSpec, ProjectSpec


def spec_from_dict(data: dict) -> ProjectSpec:
    """A ``ProjectSpec`` from a scenario's ``project`` mapping (raises ``ValueError``)."""
    if not data.get("apex"):
        raise ValueError("the project needs an apex domain")
    endpoints = tuple(
        EndpointSpec(kind=str(e["kind"]), url=str(e["url"]), method=str(e.get("method", "GET")).upper())
        for e in data.get("endpoints") or []
    )
    kwargs = {}
    if data.get("subdomains") is not None:
        kwargs["subdomains"] = tuple(data["subdomains"])
    return ProjectSpec(
        name=str(data.get("name") or data["apex"]),
        apex=str(data["apex"]),
        preferred_host=str(data.get("preferred_host") or ""),
        endpoints=endpoints,
        **kwargs,
    )


def run_audit(
    project: ProjectSpec,
    profile: NetworkProfile = DEFAULT_PROFILE,
    *,
    stages: Iterable[Stage] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> tuple[list[Outcome], dict[str, int]]:
    """Every unit of ``stages`` for ``project``, concurrently; returns outcomes and counters."""
    with Net(profile) as net:
        outcomes = run_units(plan(project, stages=stages), Context(net, project), on_outcome)
        return outcomes, net.counters()
