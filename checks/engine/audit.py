"""Run a whole audit in one process: what the CLI, the benchmarks and engine tests use.

The web product runs the same units through Celery tasks (one per stage); this module is
the same work without a database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from checks.engine.handover_record import handover_from_dict
from checks.engine.hardening_record import accounts_from_list, hardening_from_dict
from checks.engine.monitoring_record import monitoring_from_dict
from checks.engine.net.profile import DEFAULT_PROFILE, NetworkProfile
from checks.engine.net.session import Net
from checks.engine.registry import Context
from checks.engine.result import Outcome, Stage
from checks.engine.runner import plan, run_units
from checks.engine.spec import InvalidEndpoint, ProjectSpec, SmtpSettings, endpoint_from


def spec_from_dict(data: dict) -> ProjectSpec:
    """A ``ProjectSpec`` from a scenario's ``project`` mapping (raises ``ValueError``); its
    ``handover`` mapping (``checks/engine/handover_record.py``) becomes ``spec.handover``, its
    ``monitoring`` mapping (``checks/engine/monitoring_record.py``) ``spec.monitoring``, its
    ``hardening`` mapping and ``accounts`` list (``checks/engine/hardening_record.py``)
    ``spec.hardening`` and ``spec.accounts``."""
    if not data.get("apex") or not isinstance(data["apex"], str):
        raise ValueError("the project needs an apex domain")
    if not isinstance(data.get("endpoints") or [], list):
        raise ValueError("the project's endpoints must be a list of {kind, url, method}")
    subdomains = data.get("subdomains")
    if subdomains is not None and (
        not isinstance(subdomains, list) or not all(isinstance(s, str) for s in subdomains)
    ):
        raise ValueError("the project's subdomains must be a list of names, like [www, app]")
    endpoints = []
    for number, e in enumerate(data.get("endpoints") or [], 1):
        if not isinstance(e, dict) or "kind" not in e or "url" not in e:
            raise ValueError(f"endpoint {number} needs a kind and a url")
        try:
            endpoints.append(endpoint_from(
                str(e["kind"]), str(e.get("method", "GET")), str(e["url"]),
                target_p95_ms=e.get("target_p95_ms"), personal=e.get("personal"),
            ))
        except InvalidEndpoint as exc:
            raise ValueError(f"endpoint {number}: {exc}") from None
    kwargs = {}
    if subdomains is not None:
        kwargs["subdomains"] = tuple(subdomains)
    selectors = data.get("dkim_selectors")
    if selectors is not None:
        if not isinstance(selectors, list) or not all(isinstance(s, str) for s in selectors):
            raise ValueError("the project's dkim_selectors must be a list of selectors, like [s1, google]")
        kwargs["dkim_selectors"] = tuple(selectors)
    if data.get("mail_provider") is not None:
        kwargs["mail_provider"] = str(data["mail_provider"])
    sending_ips = data.get("mail_sending_ips")
    if sending_ips is not None:
        if not isinstance(sending_ips, list):
            raise ValueError("the project's mail_sending_ips must be a list, like [192.0.2.10]")
        kwargs["mail_sending_ips"] = tuple(str(ip) for ip in sending_ips)
    if data.get("smtp") is not None:
        kwargs["smtp"] = smtp_from_dict(data["smtp"])
    if "handover" in data:  # absent: stage 7 is not audited; {}: a record with nothing in it
        rollback = bool(str(data.get("rollback_notes") or "").strip())
        kwargs["handover"] = handover_from_dict(data["handover"] or {}).facts(rollback=rollback)
    if "monitoring" in data:  # absent: stage 5 is not audited; {}: nothing monitored
        monitoring = {} if data["monitoring"] is None else data["monitoring"]
        kwargs["monitoring"] = monitoring_from_dict(
            monitoring, tuple(endpoints), apex=str(data["apex"]),
            preferred_host=str(data.get("preferred_host") or ""),
        ).facts()
    if "hardening" in data:  # absent: stage 3's recorded facts are not audited
        rollback = bool(str(data.get("rollback_notes") or "").strip())
        kwargs["hardening"] = hardening_from_dict(data["hardening"], rollback_steps=rollback)
    kwargs["accounts"] = accounts_from_list(data.get("accounts"))
    preferred = str(data.get("preferred_host") or "")
    spec = ProjectSpec(
        name=str(data.get("name") or data["apex"]),
        apex=str(data["apex"]),
        preferred_host=str(data.get("preferred_host") or ""),
        endpoints=tuple(endpoints),
        **kwargs,
    )
    if preferred and spec.preferred_host != spec.apex and not spec.preferred_host.endswith("." + spec.apex):
        raise ValueError(f"the preferred host must be {spec.apex} or a name under it")
    return spec


SMTP_KEYS = ("host", "port", "security", "username", "password", "from")


def smtp_from_dict(data: object) -> SmtpSettings:
    """``SmtpSettings`` from a scenario's ``project.smtp`` mapping ``{host, port, security,
    username, password, from}`` (raises ``ValueError``; ``InvalidMailSetting`` is one)."""
    if not isinstance(data, dict):
        raise ValueError(f"the project's smtp must be a mapping of {', '.join(SMTP_KEYS)}")
    unknown = sorted(set(map(str, data)) - set(SMTP_KEYS))
    if unknown:
        raise ValueError(f"the project's smtp has unknown keys {unknown}: use {', '.join(SMTP_KEYS)}")
    if not data.get("host") or not data.get("from"):
        raise ValueError("the project's smtp needs a host and a from address")
    return SmtpSettings(
        host=str(data["host"]), from_address=str(data["from"]), port=data.get("port") or 0,
        security=str(data.get("security") or "starttls"), username=str(data.get("username") or ""),
        password=str(data.get("password") or ""),
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
