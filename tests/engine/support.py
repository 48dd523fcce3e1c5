"""Helpers for engine tests: run one registered check against a sandbox's network."""

from __future__ import annotations

from checks.engine.net.session import Net
from checks.engine.registry import Context, all_checks
from checks.engine.result import Result
from checks.engine.spec import ProjectSpec


def run_check(net: Net, check_id: str, target: str, *, apex: str = "", preferred_host: str = "") -> Result:
    """Run check ``check_id`` on ``target`` directly (no exception boundary, so a crash fails
    the test). ``apex`` defaults to the target's last two labels."""
    checks = {c.id: c for c in all_checks()}
    apex = apex or ".".join(target.split(".")[-2:])
    project = ProjectSpec(name="test", apex=apex, preferred_host=preferred_host)
    return checks[check_id].run(target, Context(net, project))


def route(path: str = "/*", status: int = 200, *headers: tuple[str, str], **extra) -> dict:
    """A scenario route as data: ``route("/*", 301, ("Location", "https://x/"))``."""
    return {"path": path, "status": status, "headers": [list(h) for h in headers], **extra}


def redirect(location: str, status: int = 301, path: str = "/*") -> list[dict]:
    """Routes that answer every path under ``path`` with a redirect to ``location``."""
    return [route(path, status, ("Location", location))]
