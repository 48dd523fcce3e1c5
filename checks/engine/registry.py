"""The check registry: every check registers itself with its metadata by decorator.

    @check("http.hsts", stage=Stage.EDGE, impact=Impact.HIGH, targets=every_host)
    def hsts(target: str, ctx: Context) -> Result: ...

``id`` never changes meaning: findings are keyed on (project, check id, target).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from checks.engine.net.session import Net
from checks.engine.result import Impact, Result, Stage
from checks.engine.spec import ProjectSpec

_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class Context:
    """What a check gets besides its target: the audit's network and the project."""

    net: Net
    project: ProjectSpec


@dataclass(frozen=True)
class Check:
    """A registered check: metadata plus ``run(target, ctx) -> Result``.

    ``targets(project)`` lists what the check runs on (hosts, URLs); ``timeout_s`` bounds one
    run; ``quick`` puts it in the stage-1 quick audit; ``measures_latency`` marks a check
    whose figure our own load would skew (it waits for ``runner.wait_for_quiet`` and is not
    counted as load itself).
    """

    id: str
    stage: Stage
    impact: Impact
    title: str
    run: Callable[[str, Context], Result]
    targets: Callable[[ProjectSpec], list[str]]
    timeout_s: float
    quick: bool
    measures_latency: bool = False

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip()

    @property
    def per_host(self) -> bool:
        """True when its targets are host names; False when they are URLs (endpoints)."""
        return not getattr(self.targets, "url_targets", False)


REGISTRY: dict[str, Check] = {}


def check(
    check_id: str,
    *,
    stage: Stage,
    impact: Impact,
    title: str,
    targets: Callable[[ProjectSpec], list[str]],
    timeout_s: float = 30.0,
    quick: bool = False,
    measures_latency: bool = False,
):
    """Register the decorated ``run`` function as check ``check_id``."""
    if not _ID.match(check_id):
        raise ValueError(f"check id {check_id!r} must be dotted lower-case")

    def register(run: Callable[[str, Context], Result]):
        if check_id in REGISTRY:
            raise ValueError(f"check id {check_id!r} registered twice")
        REGISTRY[check_id] = Check(check_id, stage, impact, title, run, targets, timeout_s, quick,
                                    measures_latency)
        return run

    return register


def all_checks() -> list[Check]:
    """Every registered check, in stage order then id."""
    import checks.engine.checks  # noqa: F401  (importing fills the registry)

    return sorted(REGISTRY.values(), key=lambda c: (c.stage.number, c.id))


def url_targets(targets: Callable[[ProjectSpec], list[str]]):
    """Mark a targets function whose targets are URLs (endpoints), not host names."""
    targets.url_targets = True
    return targets


def every_host(project: ProjectSpec) -> list[str]:
    """Targets: the apex, each subdomain and each endpoint's host."""
    return project.hosts


def apex_only(project: ProjectSpec) -> list[str]:
    """Target: the apex (the registrable domain)."""
    return [project.apex]


def alternate_host(project: ProjectSpec) -> list[str]:
    """Target: the one of apex / www that must redirect to the preferred host."""
    return [project.alternate_host] if project.alternate_host else []
