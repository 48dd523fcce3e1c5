"""Deploys of a project: its deploy webhook (token and signing secret), the deploys and
environments CI posts through it, the smoke test run after each deploy, rollback drills and
the test accounts the smoke test signs in with.

The webhook's authentication follows the usual signed-webhook conventions: a bearer token names
the hook (and so the project: a token never posts for another project), and each request is
signed with HMAC-SHA256 (RFC 2104) over ``"{timestamp}.{raw body}"`` — the timestamp inside the
signed bytes as Stripe (``Stripe-Signature: t=…,v1=…``) and Slack (``v0:{timestamp}:{body}``)
do, the ``sha256=<hex>`` form of GitHub's ``X-Hub-Signature-256`` —, compared in constant time
(``hmac.compare_digest``), and refused when the timestamp is more than five minutes from our
clock (Stripe's and Slack's default tolerance). A replayed deploy (the same signature) is
refused by the unique ``DeployEvent.signature_sha256``; a replayed environment post by the
timestamp, which must be newer than the environment's last post.

Functions take objects the caller fetched through ``projects.access`` (pages) or
``hook_authenticate`` (the webhook). Refusals raise ``HookRefused`` (the webhook) or
``ValidationError`` (pages), before anything is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from checks.engine.hardening_record import MAX_VARIABLES, VARIABLE_NAME
from checks.engine.spec import LOGIN_METHODS
from launchready import crypto
from projects.hardening_models import (
    ENVIRONMENT_NAMES,
    DeployEvent,
    DeployHook,
    Environment,
    EnvironmentVariable,
    TestAccount,
)

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-LaunchReady-Timestamp"
SIGNATURE_HEADER = "X-LaunchReady-Signature"
SIGNATURE_PREFIX = "sha256="
TOLERANCE_S = 300  # Stripe's and Slack's default: a signed request is good for five minutes
MAX_BODY_BYTES = 64 * 1024
TOKEN_PREFIX, SECRET_PREFIX = "lrd_", "lrs_"
DEPLOY_KEYS = ("kind", "environment", "version", "commit", "actor", "deployed_at")
ENVIRONMENT_KEYS = ("environment", "variables", "url")
_COMMIT = re.compile(r"[0-9a-f]{7,64}")  # used with fullmatch: "$" would let a final newline in
_SHA256 = re.compile(r"[0-9a-f]{64}")
# The auth-scheme is case-insensitive (RFC 9110 §11.1; RFC 6750 §2.1 defines "Bearer").
_BEARER = re.compile(r"Bearer\s+(\S+)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # PostgreSQL refuses NUL in text; the others are noise


class HookRefused(Exception):
    """A webhook request refused: ``status`` (400, 401, 409, 413) and a one-line ``message``
    the caller's CI prints. Never carries the token, the secret or a variable's value."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class HookCredentials:
    """A freshly made hook's ``token`` and signing ``secret``: shown once, then only hashed
    (token) or encrypted (secret)."""

    token: str
    secret: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "{timestamp}." + body)>``, the secret's UTF-8 bytes as
    the key: what ``X-LaunchReady-Signature`` must carry."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


# --- the hook ---------------------------------------------------------------------------------


def hook_rotate(project) -> HookCredentials:
    """Create ``project``'s deploy hook, or replace its token and secret (the old ones stop
    working at once). Returns them in clear, the only time they are."""
    credentials = HookCredentials(token=TOKEN_PREFIX + secrets.token_urlsafe(32),
                                  secret=SECRET_PREFIX + secrets.token_hex(32))
    DeployHook.objects.update_or_create(project=project, defaults={
        "token_sha256": token_digest(credentials.token),
        "secret_encrypted": crypto.encrypt(credentials.secret),
    })
    return credentials


def hook_authenticate(*, authorization: str, timestamp: str, signature: str, body: bytes,
                      now: float | None = None) -> DeployHook:
    """The hook that ``authorization`` (``Bearer <token>``, the scheme in any case) names, once
    the request's signature over ``timestamp`` and ``body`` is good and fresh. Raises
    ``HookRefused``: 413 body over ``MAX_BODY_BYTES``; 401 no or unknown token, stale timestamp,
    bad signature; 400 a missing or malformed header."""
    if len(body) > MAX_BODY_BYTES:
        raise HookRefused(413, f"body over {MAX_BODY_BYTES} bytes")
    match = _BEARER.fullmatch(authorization.strip())
    if not match:
        raise HookRefused(401, "missing bearer token: send Authorization: Bearer <token>")
    digest = token_digest(match.group(1))
    hook = DeployHook.objects.select_related("project").filter(token_sha256=digest).first()
    if hook is None:
        raise HookRefused(401, "unknown token: create or rotate the hook on the project's Deploys page")
    if not timestamp:
        raise HookRefused(400, f"missing {TIMESTAMP_HEADER} header (unix seconds)")
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        raise HookRefused(400, f"{TIMESTAMP_HEADER} must be unix seconds")
    skew_s = int(timestamp) - int(timezone.now().timestamp() if now is None else now)
    if abs(skew_s) > TOLERANCE_S:
        raise HookRefused(401, f"stale timestamp: {abs(skew_s)} s {'ahead of' if skew_s > 0 else 'behind'} "
                               f"the server's clock (at most {TOLERANCE_S} s)")
    if not signature:
        raise HookRefused(400, f"missing {SIGNATURE_HEADER} header (sha256=<hex>)")
    try:
        secret = crypto.decrypt(hook.secret_encrypted)
    except crypto.SecretDecryptionError:
        raise HookRefused(401, "the hook's secret cannot be read with this server's keys: "
                               "rotate the hook") from None
    if not hmac.compare_digest(signature_of(secret, timestamp, body).encode(), signature.strip().encode()):
        raise HookRefused(401, "bad signature")
    return hook


def _json_object(body: bytes, keys: tuple[str, ...]) -> dict:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HookRefused(400, f"body is not JSON: {exc}") from None
    except RecursionError:  # thousands of nested arrays: the decoder recurses once per level
        raise HookRefused(400, "body is not JSON this hook reads: nested too deeply") from None
    if not isinstance(data, dict):
        raise HookRefused(400, "body must be a JSON object")
    unknown = sorted(str(k) for k in data if k not in keys)
    if unknown:
        raise HookRefused(400, f"unknown field {unknown[0][:60]!r}: use {', '.join(keys)}")
    return data


def _text(data: dict, key: str, limit: int) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise HookRefused(400, f"{key} must be a string of at most {limit} characters")
    if _CONTROL.search(value.strip()):
        raise HookRefused(400, f"{key} must not contain control characters (NUL, line breaks, tabs)")
    return value.strip()


def _environment(data: dict) -> str:
    name = data.get("environment")
    if name not in ENVIRONMENT_NAMES:
        raise HookRefused(400, f"environment must be one of {', '.join(ENVIRONMENT_NAMES)}")
    return name


# --- deploys ----------------------------------------------------------------------------------


def deploy_record(hook: DeployHook, *, body: bytes, signature: str) -> DeployEvent:
    """Record the deploy (or rollback) ``body`` describes for ``hook``'s project, and start its
    smoke test once committed. A rollback also sets the project's ``rollback_last_tried_at``.

    ``body``: ``{"kind": "deploy"|"rollback" (default deploy), "environment":
    "development"|"staging"|"production", "version": ≤100 chars, "commit": 7–64 hex digits,
    "actor": ≤200 chars, "deployed_at": ISO 8601 with a zone (default now)}``, version or commit
    required. Raises ``HookRefused``: 400 for a field, 409 for a replay."""
    data = _json_object(body, DEPLOY_KEYS)
    kind = data.get("kind", "deploy")
    if kind not in DeployEvent.Kind.values:
        raise HookRefused(400, "kind must be deploy or rollback")
    environment = _environment(data)
    version, actor = _text(data, "version", 100), _text(data, "actor", 200)
    commit = _text(data, "commit", 64).lower()
    if commit and not _COMMIT.fullmatch(commit):
        raise HookRefused(400, "commit must be 7 to 64 hex digits")
    if not (version or commit):
        raise HookRefused(400, "name the release: give version or commit")
    deployed_at = _deployed_at(data.get("deployed_at"))
    project = hook.project
    try:
        with transaction.atomic():
            event = DeployEvent.objects.create(
                project=project, kind=kind, environment=environment, version=version, commit=commit,
                actor=actor, deployed_at=deployed_at,
                signature_sha256=hashlib.sha256(signature.strip().encode()).hexdigest(),
            )
            if kind == DeployEvent.Kind.ROLLBACK:
                type(project).objects.filter(pk=project.pk).update(rollback_last_tried_at=deployed_at)
            smoke_dispatch(event.pk)
    except IntegrityError:
        raise HookRefused(409, "replayed request: this signature was already used") from None
    return event


def _deployed_at(value) -> dt.datetime:
    now = timezone.now()
    if value is None:
        return now
    try:
        when = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible: 2026-02-30, hour 25, an offset of +25:00
        raise HookRefused(400, "deployed_at is not a real time: check the date, the hour and the zone "
                               "offset, like 2026-11-30T14:05:00Z") from None
    if when is None or when.tzinfo is None:
        raise HookRefused(400, "deployed_at must be an ISO 8601 time with a zone, like 2026-11-30T14:05:00Z")
    if when > now + dt.timedelta(seconds=TOLERANCE_S):
        raise HookRefused(400, "deployed_at is in the future")
    return when


# --- environments -----------------------------------------------------------------------------


def environment_record(hook: DeployHook, *, body: bytes, timestamp: str) -> Environment:
    """Replace the variables of one environment of ``hook``'s project (the row is created if
    missing). ``body``: ``{"environment": name, "variables": {NAME: "<64 hex: SHA-256 of the
    value>"}, "url": optional https base URL on a host of the project, where the smoke test signs
    in for that environment}`` — at most ``MAX_VARIABLES`` names; a value that is not a SHA-256
    fingerprint is refused, so a value sent by mistake is never stored. Raises ``HookRefused``:
    400 for a field, 409 for a post not newer than the environment's last one (a replay)."""
    data = _json_object(body, ENVIRONMENT_KEYS)
    name = _environment(data)
    variables = _variables(data.get("variables"))
    url = _environment_url(hook.project, _text(data, "url", 2000))
    posted_at = dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
    with transaction.atomic():
        environment, _ = (Environment.objects.select_for_update()
                          .get_or_create(project=hook.project, name=name))
        if environment.variables_posted_at and environment.variables_posted_at >= posted_at:
            raise HookRefused(409, "replayed or out-of-order request: this environment was already "
                                   "posted with this timestamp or a later one")
        environment.variables.all().delete()
        EnvironmentVariable.objects.bulk_create(
            EnvironmentVariable(environment=environment, name=k, sha256=v)
            for k, v in sorted(variables.items())
        )
        environment.variables_posted_at = posted_at
        if url:
            environment.url = url
        environment.save()
    return environment


def _variables(value) -> dict[str, str]:
    if not isinstance(value, dict):
        raise HookRefused(400, "variables must be an object of NAME: \"<sha256 hex of the value>\"")
    if len(value) > MAX_VARIABLES:
        raise HookRefused(400, f"at most {MAX_VARIABLES} variables per environment")
    clean = {}
    for position, (name, digest) in enumerate(value.items(), start=1):
        if not VARIABLE_NAME.fullmatch(name):
            # Named by position only: a NAME=value line of an `env` dump posted as a name would
            # otherwise send the value back to the CI log.
            raise HookRefused(400, f"variable {position} is not a variable name (letters, digits, _ . -, "
                                   "starting with a letter or _; send NAME, not NAME=value)")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest.lower()):
            # The message names the variable, never the value: it may be the secret itself.
            raise HookRefused(400, f"variables.{name}: send the SHA-256 of the value (64 hex digits), "
                                   "never the value")
        clean[name] = digest.lower()
    return clean


def _environment_url(project, url: str) -> str:
    """``url`` when the smoke test may sign in there: ``https`` (the test account's password
    never travels in clear), no user or password in it, on a host of the project (its apex, a
    subdomain of it, or the host of one of its endpoints) — else whoever holds the CI secret
    could point the smoke test, and the client's test logins, at a host of their own. ``""``
    stays ``""`` (no URL posted). Raises ``HookRefused`` (400)."""
    from checks.engine.smoke import url_host_problem

    if not url:
        return ""
    example = f"https://staging.{project.apex_domain}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        raise HookRefused(400, f"url is not a URL: send one like {example}") from None
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise HookRefused(400, f"url must be an https URL like {example}: the smoke test signs in there")
    if parts.username or parts.password:
        raise HookRefused(400, "url must hold no user name or password")
    declared = [urlsplit(u).hostname or "" for u in project.endpoints.values_list("url", flat=True)]
    problem = url_host_problem(parts.hostname, project.apex_domain, declared)
    if problem:
        raise HookRefused(400, f"url: {problem}")
    return url


# --- smoke test -------------------------------------------------------------------------------


def smoke_dispatch(event_id: int) -> None:
    """Run the smoke test of deploy ``event_id`` once the transaction commits: a Celery task
    on Redis when configured, else the in-process pool the audits use."""
    if settings.REDIS_URL:
        from projects.tasks import deploy_smoke

        deploy_smoke.delay_on_commit(event_id)
    else:
        from checks.services import _inprocess_pool

        transaction.on_commit(lambda: _inprocess_pool().submit(_smoke_inprocess, event_id))


def _smoke_inprocess(event_id: int) -> None:
    try:
        smoke_execute(event_id)
    except Exception:
        log.exception("smoke test of deploy %s failed", event_id)
    finally:
        connections.close_all()  # a pool thread must not keep its connection


def smoke_execute(event_id: int) -> str | None:
    """Claim deploy ``event_id``'s smoke test (``smoke_at`` set once, by conditional UPDATE),
    run it and store ``smoke_status``, ``smoke_steps`` and ``smoke_at``. Returns the status, or
    ``None`` when another worker had claimed it."""
    from checks.engine.net.session import Net
    from checks.engine.smoke import SmokeResult, SmokeStep, smoke_test
    from checks.engine.spec import INVALID_PROJECT
    from checks.network import network_for
    from checks.sandbox import ScenarioError

    if not DeployEvent.objects.filter(pk=event_id, smoke_at=None).update(smoke_at=timezone.now()):
        return None
    event = DeployEvent.objects.select_related("project").get(pk=event_id)
    project = event.project
    try:
        base_url = _base_url(project, event.environment)
        spec = project.spec(secrets=True)
        with network_for(project) as profile, Net(profile) as net:
            result = smoke_test(net, spec, base_url=base_url)
    except (SmokeNotPossible, ScenarioError, *INVALID_PROJECT) as exc:
        result = SmokeResult("error", (SmokeStep("setup", "error", str(exc)),))
    except Exception as exc:  # never leave a deploy pending forever: say why it did not run
        log.exception("smoke test of deploy %s crashed", event_id)
        step = SmokeStep("setup", "error", f"the smoke test failed: {type(exc).__name__}")
        result = SmokeResult("error", (step,))
    DeployEvent.objects.filter(pk=event_id).update(
        smoke_status=result.status, smoke_steps=result.as_list(), smoke_at=timezone.now())
    return result.status


class SmokeNotPossible(Exception):
    """The smoke test cannot run for this deploy; the message says why."""


def _base_url(project, environment: str) -> str:
    """"" for production (the project's own endpoints); another environment's URL as posted
    to the environments hook. Raises ``SmokeNotPossible`` when none was posted."""
    if environment == "production":
        return ""
    url = project.environments.filter(name=environment).values_list("url", flat=True).first()
    if not url:
        raise SmokeNotPossible(f"no URL recorded for the {environment} environment: post it with "
                               "/hooks/environment (\"url\") to smoke-test its deploys")
    return url


# --- rollback drills and test accounts --------------------------------------------------------


def rollback_drill_record(project) -> dt.datetime:
    """Record that a rollback was carried out now (a drill); returns the time."""
    now = timezone.now()
    type(project).objects.filter(pk=project.pk).update(rollback_last_tried_at=now)
    project.rollback_last_tried_at = now
    return now


def account_create(project, *, label: str, login: str, username: str = "", secret: str,
                        username_field: str = "username", password_field: str = "password",
                        cookie_name: str = "") -> TestAccount:
    """A new test account of ``project`` (``secret`` stored encrypted). ``login`` one of
    ``LOGIN_METHODS``; ``form`` needs ``username``, ``cookie`` a ``cookie_name``; labels are
    unique per project. Raises ``ValidationError`` with a message per field."""
    errors = {}
    label = label.strip()
    if not label:
        errors["label"] = "Name the account (alice, member-1)."
    elif project.test_accounts.filter(label=label).exists():
        errors["label"] = "The project already has an account with this label."
    if login not in LOGIN_METHODS:
        errors["login"] = f"Choose one of {', '.join(LOGIN_METHODS)}."
    if login == "form" and not username.strip():
        errors["username"] = "A login form needs the user name."
    if login == "form" and not (username_field.strip() and password_field.strip()):
        errors["username_field"] = "Give the form's field names."
    if login == "cookie" and not cookie_name.strip():
        errors["cookie_name"] = "Name the session cookie (sessionid)."
    if not secret:
        errors["secret"] = "Give the password, cookie value or token."
    if errors:
        raise ValidationError(errors)
    account = TestAccount(
        project=project, label=label, login=login, username=username.strip(),
        username_field=username_field.strip() or "username",
        password_field=password_field.strip() or "password",
        cookie_name=cookie_name.strip(),
    )
    account.set_secret(secret)
    account.save()
    return account


def account_delete(account: TestAccount) -> None:
    account.delete()


def smoke_timed_out(event_id: int) -> None:
    """Finish a smoke test that ran out of time as ``error``, saying so."""
    from checks.engine.smoke import SmokeStep

    step = SmokeStep("setup", "error", "the smoke test ran out of time").as_dict()
    DeployEvent.objects.filter(pk=event_id, smoke_status=DeployEvent.Smoke.PENDING).update(
        smoke_status=DeployEvent.Smoke.ERROR, smoke_steps=[step], smoke_at=timezone.now())
