"""Which network a monitor's probes and a channel's alerts go through.

- A monitor of a project that audits a sandbox scenario probes through that sandbox's
  profile (``checks.network.network_for``): the sandbox is started once in the process and
  kept running for the process's life (a worker probes its monitors every minute; starting
  and stopping it per batch would cost more than the probes).
- Every other monitor, and every alert webhook, goes through the production profile with
  ``MONITOR_ALLOWED_NETWORKS`` as the outbound policy's exceptions (empty in production;
  tests allow loopback there).
"""

from __future__ import annotations

import dataclasses
import threading
from contextlib import ExitStack

from django.conf import settings

from checks.engine.net.profile import NetworkProfile
from checks.network import network_for, production_profile, scenario_path

_lock = threading.Lock()
_stack = ExitStack()
_sandboxes: dict[str, NetworkProfile] = {}


def monitor_profile() -> NetworkProfile:
    """The production profile (settings' resolvers, system trust, ports 80/443), whose policy
    lets ``MONITOR_ALLOWED_NETWORKS`` through."""
    return dataclasses.replace(
        production_profile(), allowed_networks=tuple(settings.MONITOR_ALLOWED_NETWORKS), mailbox=None
    )


def profile_key(project) -> str:
    """What probes of ``project`` share a network by: its scenario path, or ``""`` for the
    production network."""
    return str(scenario_path(project.sandbox_scenario)) if project.sandbox_scenario else ""


def profile_for(project) -> NetworkProfile:
    """The profile to probe ``project``'s monitors with. Raises ``ScenarioError`` when its
    sandbox cannot be started (the scenario is gone or invalid, or SANDBOX_ENABLED is off)."""
    key = profile_key(project)
    if not key:
        return monitor_profile()
    with _lock:
        if key not in _sandboxes:
            _sandboxes[key] = _stack.enter_context(network_for(project))
        return _sandboxes[key]


def pin_sandbox_profile(scenario: str, profile: NetworkProfile) -> None:
    """Use ``profile`` for the projects of ``scenario`` (a path as in ``sandbox_scenario``)
    in this process instead of starting their sandbox here: for a benchmark or test whose
    sandbox runs in another process."""
    with _lock:
        _sandboxes[str(scenario_path(scenario))] = profile


def release_sandboxes() -> None:
    """Stop every sandbox this process started for monitors and forget pinned profiles."""
    with _lock:
        _stack.close()
        _sandboxes.clear()
