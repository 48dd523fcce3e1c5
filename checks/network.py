"""Which network a project's audit uses: the production profile, or its sandbox.

A sandbox is started once per process and shared by the stages running in it (a reference
count), so a run's stages see the same certificates and addresses.
"""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from checks.engine.email.mailbox import RedisMailbox
from checks.engine.net.profile import NetworkProfile
from checks.sandbox import Sandbox, ScenarioError, load_scenario

_lock = threading.Lock()
_running: dict[str, tuple[Sandbox, int]] = {}


def production_profile() -> NetworkProfile:
    """The real network, from settings. The capture mailbox of email.transactional is set only
    when both ``MAIL_CAPTURE_DOMAIN`` and ``REDIS_URL`` are (the capture server, another
    process, hands the mail over through Redis); otherwise that check reports ``error``."""
    capture = {}
    if settings.MAIL_CAPTURE_DOMAIN and settings.REDIS_URL:
        capture = {
            "mail_capture_domain": settings.MAIL_CAPTURE_DOMAIN,
            "mailbox": redis_mailbox(settings.REDIS_URL),
        }
    return NetworkProfile(
        nameservers=tuple(settings.AUDIT_NAMESERVERS),
        dns_timeout_s=settings.AUDIT_DNS_TIMEOUT_S,
        http_timeout_s=settings.AUDIT_HTTP_TIMEOUT_S,
        **capture,
    )


@functools.lru_cache(maxsize=4)
def redis_mailbox(redis_url: str) -> RedisMailbox:
    """One ``RedisMailbox`` (and its connection pool) per URL for the process's lifetime."""
    return RedisMailbox(redis_url)


def scenario_path(name: str) -> Path:
    """Resolve a project's ``sandbox_scenario`` (absolute, or relative to SCENARIOS_DIR)."""
    path = Path(name)
    if not path.is_absolute():
        path = Path(settings.SCENARIOS_DIR) / path
    return path.resolve()


@contextmanager
def network_for(project):
    """Yield the ``NetworkProfile`` to audit ``project`` with (starting its sandbox if any).

    Raises ``ScenarioError`` when the project's scenario cannot be loaded or the sandbox is
    disabled.
    """
    if not project.sandbox_scenario:
        yield production_profile()
        return
    if not settings.SANDBOX_ENABLED:
        raise ScenarioError("this project audits a sandbox scenario, and SANDBOX_ENABLED is off")
    key = str(scenario_path(project.sandbox_scenario))
    with _lock:
        if key in _running:
            sandbox, count = _running[key]
            _running[key] = (sandbox, count + 1)
        else:
            sandbox = Sandbox(load_scenario(key))
            sandbox.start()
            _running[key] = (sandbox, 1)
    try:
        yield sandbox.profile
    finally:
        with _lock:
            sandbox, count = _running[key]
            if count == 1:
                del _running[key]
                sandbox.stop()
            else:
                _running[key] = (sandbox, count - 1)
