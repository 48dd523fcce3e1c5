"""A scenario's test accounts and stage 3 facts as data: ``project.accounts`` and
``project.hardening``, validated into ``TestAccount`` tuples and ``HardeningFacts``.

    accounts:
      - {label: alice, login: form, username: alice@example.com, password: pw-a}
      - {label: bob, login: bearer, token: tok-b}
      - {label: carol, login: cookie, cookie_name: session, cookie: c0ffee}
    hardening:
      environments:
        production: {STRIPE_SECRET_KEY: "sha256:<64 hex>", DEBUG: "false"}   # plain values are hashed
        staging: {...}
      rollback_last_tried_days: 12      # null or absent: never tried
      deploys:
        - {environment: production, version: v42, days_ago: 1, smoke: pass, kind: deploy}
      repository: {url: "https://git.example.com/app.git"}
      accepted_secrets: ["<fingerprint>", ...]
"""

from __future__ import annotations

import hashlib
import re

from checks.engine.spec import (
    LOGIN_METHODS,
    DeployFacts,
    EnvironmentFacts,
    HardeningFacts,
    RepositorySource,
    TestAccount,
)

ENVIRONMENT_NAMES = ("development", "staging", "production")
SMOKE_STATUSES = ("pending", "pass", "fail", "error")
DEPLOY_KINDS = ("deploy", "rollback")
ACCOUNT_KEYS = ("label", "login", "username", "password", "token", "cookie", "cookie_name",
                "username_field", "password_field")
HARDENING_KEYS = ("environments", "rollback_last_tried_days", "deploys", "repository", "accepted_secrets")
DEPLOY_KEYS = ("kind", "environment", "version", "commit", "actor", "days_ago", "smoke")
MAX_ACCOUNTS = 10
MAX_VARIABLES = 500
DAY_S = 86400
_SHA256 = re.compile(r"\Asha256:([0-9a-f]{64})\Z")
# \Z, not $: "$" also matches before a final newline, so "API_KEY\n" would pass.
VARIABLE_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_.-]{0,199}\Z")


def fingerprint(value: str) -> str:
    """The SHA-256 hex digest of a variable's value (UTF-8): what CI posts instead of it."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def accounts_from_list(data: object) -> tuple[TestAccount, ...]:
    """Test accounts from a scenario's ``project.accounts`` list (raises ``ValueError``)."""
    if data is None:
        return ()
    if not isinstance(data, list) or len(data) > MAX_ACCOUNTS:
        raise ValueError(f"the project's accounts must be a list of at most {MAX_ACCOUNTS} mappings")
    accounts = []
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise ValueError(f"account {number} must be a mapping of {', '.join(ACCOUNT_KEYS)}")
        unknown = sorted(set(map(str, item)) - set(ACCOUNT_KEYS))
        if unknown:
            raise ValueError(f"account {number} has unknown keys {unknown}: use {', '.join(ACCOUNT_KEYS)}")
        login = str(item.get("login") or "form")
        if login not in LOGIN_METHODS:
            raise ValueError(f"account {number}: login {login!r} must be one of {', '.join(LOGIN_METHODS)}")
        secret = {"form": "password", "bearer": "token", "cookie": "cookie"}[login]
        accounts.append(TestAccount(
            label=str(item.get("label") or f"account {number}"), login=login,
            username=str(item.get("username") or ""), secret=str(item.get(secret) or ""),
            username_field=str(item.get("username_field") or "username"),
            password_field=str(item.get("password_field") or "password"),
            cookie_name=str(item.get("cookie_name") or ""),
        ))
    labels = [a.label for a in accounts]
    if len(set(labels)) != len(labels):
        raise ValueError("the project's accounts need distinct labels")
    return tuple(accounts)


def hardening_from_dict(data: object, *, rollback_steps: bool) -> HardeningFacts:
    """``HardeningFacts`` from a scenario's ``project.hardening`` mapping (raises
    ``ValueError``); ``rollback_steps``: the project's rollback notes are written."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ValueError(f"the project's hardening must be a mapping of {', '.join(HARDENING_KEYS)}")
    unknown = sorted(set(map(str, data)) - set(HARDENING_KEYS))
    if unknown:
        raise ValueError(
            f"the project's hardening has unknown keys {unknown}: use {', '.join(HARDENING_KEYS)}"
        )
    tried = data.get("rollback_last_tried_days")
    if tried is not None and (not isinstance(tried, int | float) or tried < 0):
        raise ValueError("hardening.rollback_last_tried_days must be a number of days, 0 or more")
    accepted = data.get("accepted_secrets") or []
    if not isinstance(accepted, list):
        raise ValueError("hardening.accepted_secrets must be a list of fingerprints")
    return HardeningFacts(
        environments=_environments(data.get("environments")),
        rollback_steps=rollback_steps,
        rollback_tried_age_s=None if tried is None else float(tried) * DAY_S,
        deploys=_deploys(data.get("deploys")),
        accepted_secrets=frozenset(str(f) for f in accepted),
        repository=_repository(data.get("repository")),
    )


def environment_variables(values: object, where: str) -> tuple[tuple[str, str], ...]:
    """``(NAME, sha256 hex)`` pairs, sorted, from ``{NAME: "sha256:<hex>" | plain value}``
    (a plain value is hashed here; only the digest is kept). Raises ``ValueError``."""
    if not isinstance(values, dict) or len(values) > MAX_VARIABLES:
        raise ValueError(f"{where} must map at most {MAX_VARIABLES} variable names to values or sha256:<hex>")
    pairs = []
    for name, value in values.items():
        if not VARIABLE_NAME.match(str(name)):
            raise ValueError(f"{where}: {str(name)[:60]!r} is not a variable name")
        text = "" if value is None else str(value)
        match = _SHA256.match(text)
        pairs.append((str(name), match.group(1) if match else fingerprint(text)))
    return tuple(sorted(pairs))


def _environments(data: object) -> tuple[EnvironmentFacts, ...]:
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ValueError("hardening.environments must map development / staging / production to variables")
    facts = []
    for name, values in data.items():
        if name not in ENVIRONMENT_NAMES:
            raise ValueError(
                f"hardening.environments: {name!r} must be one of {', '.join(ENVIRONMENT_NAMES)}"
            )
        variables = environment_variables(values or {}, f"hardening.environments.{name}")
        facts.append(EnvironmentFacts(name=name, variables=variables))
    return tuple(facts)


def _deploys(data: object) -> tuple[DeployFacts, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ValueError("hardening.deploys must be a list of {environment, version, days_ago, smoke}")
    deploys = []
    for number, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise ValueError(f"deploy {number} must be a mapping of {', '.join(DEPLOY_KEYS)}")
        unknown = sorted(set(map(str, item)) - set(DEPLOY_KEYS))
        if unknown:
            raise ValueError(f"deploy {number} has unknown keys {unknown}: use {', '.join(DEPLOY_KEYS)}")
        kind, environment = str(item.get("kind") or "deploy"), str(item.get("environment") or "production")
        smoke = str(item.get("smoke") or "pending")
        if kind not in DEPLOY_KINDS or environment not in ENVIRONMENT_NAMES or smoke not in SMOKE_STATUSES:
            raise ValueError(
                f"deploy {number}: kind must be one of {', '.join(DEPLOY_KINDS)}, environment one of "
                f"{', '.join(ENVIRONMENT_NAMES)}, smoke one of {', '.join(SMOKE_STATUSES)}"
            )
        days = item.get("days_ago", 0)
        if not isinstance(days, int | float) or days < 0:
            raise ValueError(f"deploy {number}: days_ago must be a number, 0 or more")
        deploys.append(DeployFacts(
            kind=kind, environment=environment,
            version=str(item.get("version") or item.get("commit") or "")[:100],
            age_s=float(days) * DAY_S, smoke_status=smoke,
        ))
    return tuple(sorted(deploys, key=lambda d: d.age_s))


def _repository(data: object) -> RepositorySource | None:
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str) or set(data) - {"url"}:
        raise ValueError("hardening.repository must be {url: https://…}")
    return RepositorySource(url=data["url"])
