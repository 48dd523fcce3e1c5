"""The deploy webhook and the environments intake: signed requests are recorded, and each
refusal (no token, another project's token, a stale timestamp, a bad signature, a replay, a
body too large, a bad field, a variable's value instead of its fingerprint) answers its exact
status and message and records nothing."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from projects import deploys
from projects.models import DeployEvent, Environment, Project

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
DIGEST_A = "a" * 64
DIGEST_B = "b" * 64


def _post(client, path: str, payload, creds: deploys.HookCredentials | None, *, timestamp: int | None = None,
          secret: str | None = None, token: str | None = None, signature: str | None = None,
          raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {}
    if creds is not None or token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token or creds.token}"
    headers["HTTP_X_LAUNCHREADY_TIMESTAMP"] = ts
    if signature is None and (secret or creds):
        signature = deploys.signature_of(secret or creds.secret, ts, body)
    if signature is not None:
        headers["HTTP_X_LAUNCHREADY_SIGNATURE"] = signature
    return client.generic("POST", path, body, content_type="application/json", **headers)


DEPLOY = {"kind": "deploy", "environment": "production", "version": "v42",
          "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8", "actor": "ci@github",
          "deployed_at": "2026-11-30T12:00:00Z"}
ZONE_NEEDED = "deployed_at must be an ISO 8601 time with a zone, like 2026-11-30T14:05:00Z"
IMPOSSIBLE = ("deployed_at is not a real time: check the date, the hour and the zone offset, like "
              "2026-11-30T14:05:00Z")


@pytest.fixture
def hooks(world):
    return {"a": deploys.hook_rotate(world.a.project), "b": deploys.hook_rotate(world.b.project)}


def test_a_signed_deploy_is_recorded_for_the_tokens_project(client, world, hooks):
    response = _post(client, "/hooks/deploy", DEPLOY, hooks["a"])

    assert response.status_code == 201
    event = DeployEvent.objects.get()
    assert response.json() == {"deploy": event.pk, "kind": "deploy", "environment": "production",
                               "smoke": "pending"}
    assert (event.project, event.version, event.commit, event.actor, event.deployed_at) == (
        world.a.project, "v42", DEPLOY["commit"], "ci@github", datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    assert event.smoke_status == "pending"
    assert Project.objects.get(pk=world.a.project.pk).rollback_last_tried_at is None


def test_the_hook_needs_no_csrf_token_and_starts_no_session(world, hooks):
    from django.test import Client

    response = _post(Client(enforce_csrf_checks=True), "/hooks/deploy", DEPLOY, hooks["a"])

    assert response.status_code == 201
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies


def test_a_rollback_also_records_that_a_rollback_was_tried(client, world, hooks):
    response = _post(client, "/hooks/deploy", {**DEPLOY, "kind": "rollback", "version": "v41"}, hooks["a"])

    assert response.status_code == 201
    assert Project.objects.get(pk=world.a.project.pk).rollback_last_tried_at == datetime(
        2026, 11, 30, 12, 0, tzinfo=UTC)


def test_the_token_and_secret_are_kept_only_hashed_and_encrypted(world, hooks):
    hook = world.a.project.deploy_hook
    hook.refresh_from_db()
    assert hook.token_sha256 == deploys.token_digest(hooks["a"].token)
    assert hooks["a"].token not in hook.token_sha256
    assert hooks["a"].secret not in hook.secret_encrypted
    assert hooks["a"].token.startswith("lrd_") and hooks["a"].secret.startswith("lrs_")


def _refused(response, status: int, message: str) -> None:
    assert (response.status_code, response.json()) == (status, {"error": message})
    assert DeployEvent.objects.count() == 0


def test_a_request_without_a_token_is_refused(client, hooks):
    _refused(_post(client, "/hooks/deploy", DEPLOY, None, secret=hooks["a"].secret), 401,
             "missing bearer token: send Authorization: Bearer <token>")


def test_an_unknown_token_is_refused(client, hooks):
    _refused(_post(client, "/hooks/deploy", DEPLOY, hooks["a"], token="lrd_guessed"), 401,
             "unknown token: create or rotate the hook on the project's Deploys page")


def test_another_projects_token_cannot_post_for_this_project(client, world, hooks):
    # B's token with A's secret: the token picks project B, whose secret does not sign this.
    crossed = _post(client, "/hooks/deploy", DEPLOY, hooks["b"], secret=hooks["a"].secret)
    _refused(crossed, 401, "bad signature")
    # B's token signed with B's secret records for B, never for A.
    assert _post(client, "/hooks/deploy", DEPLOY, hooks["b"]).status_code == 201
    assert list(DeployEvent.objects.values_list("project", flat=True)) == [world.b.project.pk]


def test_a_rotated_token_stops_working(client, world, hooks):
    deploys.hook_rotate(world.a.project)

    _refused(_post(client, "/hooks/deploy", DEPLOY, hooks["a"]), 401,
             "unknown token: create or rotate the hook on the project's Deploys page")


def test_a_bad_signature_is_refused(client, hooks):
    _refused(_post(client, "/hooks/deploy", DEPLOY, hooks["a"], secret="lrs_wrong"), 401, "bad signature")
    _refused(_post(client, "/hooks/deploy", DEPLOY, hooks["a"], signature="sha256=" + "0" * 64), 401,
             "bad signature")


def test_a_body_changed_after_signing_is_refused(client, hooks):
    ts = str(int(time.time()))
    signed = deploys.signature_of(hooks["a"].secret, ts, json.dumps(DEPLOY).encode())
    tampered = json.dumps({**DEPLOY, "version": "v666"}).encode()

    response = _post(client, "/hooks/deploy", None, hooks["a"], raw=tampered, timestamp=int(ts),
                     signature=signed)
    _refused(response, 401, "bad signature")


@pytest.mark.parametrize("skew_s, words", [(-301, "301 s behind"), (400, "400 s ahead of")])
def test_a_stale_timestamp_is_refused(client, hooks, skew_s, words, monkeypatch):
    now_s = int(time.time())
    # The server's clock pinned: a slow first request must not turn 301 s into 302 s.
    pinned = SimpleNamespace(now=lambda: datetime.fromtimestamp(now_s, tz=UTC))
    monkeypatch.setattr(deploys, "timezone", pinned)
    response = _post(client, "/hooks/deploy", DEPLOY, hooks["a"], timestamp=now_s + skew_s)

    _refused(response, 401, f"stale timestamp: {words} the server's clock (at most 300 s)")


def test_a_timestamp_within_five_minutes_is_accepted(client, hooks):
    response = _post(client, "/hooks/deploy", DEPLOY, hooks["a"], timestamp=int(time.time()) - 290)
    assert response.status_code == 201


def test_missing_or_malformed_headers_are_refused(client, hooks):
    body = json.dumps(DEPLOY).encode()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {hooks['a'].token}"}
    no_ts = client.generic("POST", "/hooks/deploy", body, content_type="application/json", **auth)
    _refused(no_ts, 400, "missing X-LaunchReady-Timestamp header (unix seconds)")
    bad_ts = client.generic("POST", "/hooks/deploy", body, content_type="application/json",
                            HTTP_X_LAUNCHREADY_TIMESTAMP="yesterday", **auth)
    _refused(bad_ts, 400, "X-LaunchReady-Timestamp must be unix seconds")
    no_sig = client.generic("POST", "/hooks/deploy", body, content_type="application/json",
                            HTTP_X_LAUNCHREADY_TIMESTAMP=str(int(time.time())), **auth)
    _refused(no_sig, 400, "missing X-LaunchReady-Signature header (sha256=<hex>)")


def test_a_replayed_request_is_refused(client, hooks):
    ts = int(time.time())
    first = _post(client, "/hooks/deploy", DEPLOY, hooks["a"], timestamp=ts)
    replay = _post(client, "/hooks/deploy", DEPLOY, hooks["a"], timestamp=ts)

    assert first.status_code == 201
    assert (replay.status_code, replay.json()) == (
        409, {"error": "replayed request: this signature was already used"})
    assert DeployEvent.objects.count() == 1


def test_a_body_over_64_kb_is_refused_unread(client, hooks):
    big = json.dumps({**DEPLOY, "actor": "x" * 70_000}).encode()

    _refused(_post(client, "/hooks/deploy", None, hooks["a"], raw=big), 413, "body over 65536 bytes")


def test_only_post_is_allowed(client):
    assert client.get("/hooks/deploy").status_code == 405


@pytest.mark.parametrize("change, message", [
    ({"environment": "qa"}, "environment must be one of development, staging, production"),
    ({"kind": "hotfix"}, "kind must be deploy or rollback"),
    ({"commit": "not-hex"}, "commit must be 7 to 64 hex digits"),
    ({"commit": "abc12"}, "commit must be 7 to 64 hex digits"),
    ({"version": None, "commit": None}, "name the release: give version or commit"),
    ({"deployed_at": "yesterday"}, ZONE_NEEDED),
    ({"deployed_at": "2026-11-30T12:00:00"}, ZONE_NEEDED),
    ({"deployed_at": "2999-01-01T00:00:00Z"}, "deployed_at is in the future"),
    ({"version": "v" * 101}, "version must be a string of at most 100 characters"),
    ({"version": "v\u00004"}, "version must not contain control characters (NUL, line breaks, tabs)"),
    ({"actor": "ci\nbot"}, "actor must not contain control characters (NUL, line breaks, tabs)"),
    ({"deployed_at": "2026-02-30T00:00:00Z"}, IMPOSSIBLE),
    ({"deployed_at": "2026-11-30T25:00:00Z"}, IMPOSSIBLE),
    ({"deployed_at": "2026-11-30T12:00:00+25:00"}, IMPOSSIBLE),
    ({"branch": "main"},
     "unknown field 'branch': use kind, environment, version, commit, actor, deployed_at"),
])
def test_a_bad_field_is_refused_with_its_message(client, hooks, change, message):
    payload = {k: v for k, v in {**DEPLOY, **change}.items() if v is not None}

    _refused(_post(client, "/hooks/deploy", payload, hooks["a"]), 400, message)


def test_a_body_that_is_not_a_json_object_is_refused(client, hooks):
    response = _post(client, "/hooks/deploy", None, hooks["a"], raw=b"[1, 2]")
    _refused(response, 400, "body must be a JSON object")
    response = _post(client, "/hooks/deploy", None, hooks["a"], raw=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("body is not JSON: ")
    response = _post(client, "/hooks/deploy", None, hooks["a"], raw=b"[" * 20_000 + b"]" * 20_000)
    _refused(response, 400, "body is not JSON this hook reads: nested too deeply")


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_bearer_scheme_is_read_in_any_case(client, hooks, scheme):
    body = json.dumps(DEPLOY).encode()
    ts = str(int(time.time()))
    response = client.generic("POST", "/hooks/deploy", body, content_type="application/json",
                              HTTP_AUTHORIZATION=f"{scheme} {hooks['a'].token}",
                              HTTP_X_LAUNCHREADY_TIMESTAMP=ts,
                              HTTP_X_LAUNCHREADY_SIGNATURE=deploys.signature_of(hooks["a"].secret, ts, body))
    assert response.status_code == 201


# --- environments -----------------------------------------------------------------------------


def test_an_environments_fingerprints_replace_the_previous_ones(client, world, hooks):
    ts = int(time.time())
    first = _post(client, "/hooks/environment",
                  {"environment": "staging", "url": "https://staging.alpha.example.com",
                   "variables": {"DATABASE_URL": DIGEST_A, "OLD": DIGEST_B}},
                  hooks["a"], timestamp=ts - 10)
    second = _post(client, "/hooks/environment",
                   {"environment": "staging",
                    "variables": {"DATABASE_URL": DIGEST_B.upper(), "STRIPE_SECRET_KEY": DIGEST_A}},
                   hooks["a"], timestamp=ts)

    assert (first.status_code, first.json()) == (200, {"environment": "staging", "variables": 2})
    assert (second.status_code, second.json()) == (200, {"environment": "staging", "variables": 2})
    environment = Environment.objects.get(project=world.a.project, name="staging")
    assert list(environment.variables.values_list("name", "sha256")) == [
        ("DATABASE_URL", DIGEST_B), ("STRIPE_SECRET_KEY", DIGEST_A)]
    assert environment.url == "https://staging.alpha.example.com"
    assert environment.variables_posted_at == datetime.fromtimestamp(ts, tz=UTC)
    assert not Environment.objects.filter(project=world.b.project).exists()


@pytest.mark.parametrize("url", ["https://alpha.example.com", "HTTPS://Staging.Alpha.Example.com/app",
                                 "https://preview.status-host.test:8443"])
def test_an_environment_url_on_a_host_of_the_project_is_kept(client, world, hooks, url):
    world.a.project.endpoints.create(kind="api", url="https://preview.status-host.test/api/me")

    response = _post(client, "/hooks/environment", {"environment": "staging", "variables": {}, "url": url},
                     hooks["a"])

    assert (response.status_code, response.json()) == (200, {"environment": "staging", "variables": 0})
    assert Environment.objects.get(project=world.a.project, name="staging").url == url


def test_a_variables_value_is_never_accepted(client, world, hooks):
    response = _post(client, "/hooks/environment",
                     {"environment": "production", "variables": {"DATABASE_URL": "postgres://u:hunter2@db/app"}},
                     hooks["a"])

    assert (response.status_code, response.json()) == (400, {
        "error": "variables.DATABASE_URL: send the SHA-256 of the value (64 hex digits), never the value"})
    assert "hunter2" not in response.content.decode()
    assert not Environment.objects.exists()


@pytest.mark.parametrize("payload, message", [
    ({"environment": "production", "variables": {"GOOD": DIGEST_A, "1BAD NAME": DIGEST_A}},
     "variable 2 is not a variable name (letters, digits, _ . -, starting with a letter or _; send NAME, "
     "not NAME=value)"),
    ({"environment": "production", "variables": {"API_KEY\n": DIGEST_A}},
     "variable 1 is not a variable name (letters, digits, _ . -, starting with a letter or _; send NAME, "
     "not NAME=value)"),
    ({"environment": "production", "variables": [DIGEST_A]},
     'variables must be an object of NAME: "<sha256 hex of the value>"'),
    ({"environment": "production", "variables": {f"V{n}": DIGEST_A for n in range(501)}},
     "at most 500 variables per environment"),
    ({"environment": "prod", "variables": {}}, "environment must be one of development, staging, production"),
    ({"environment": "staging", "variables": {}, "url": "javascript:alert(1)"},
     "url must be an https URL like https://staging.alpha.example.com: the smoke test signs in there"),
    ({"environment": "staging", "variables": {}, "url": "http://staging.alpha.example.com"},
     "url must be an https URL like https://staging.alpha.example.com: the smoke test signs in there"),
    ({"environment": "staging", "variables": {}, "url": "https://collector.test/"},
     "url: collector.test is not one of the project's hosts (alpha.example.com, its subdomains or an "
     "endpoint's host)"),
    ({"environment": "staging", "variables": {}, "url": "https://alpha.example.com.evil.test"},
     "url: alpha.example.com.evil.test is not one of the project's hosts (alpha.example.com, its "
     "subdomains or an endpoint's host)"),
    ({"environment": "staging", "variables": {}, "url": "https://u:pw@staging.alpha.example.com"},
     "url must hold no user name or password"),
    ({"environment": "staging", "variables": {}, "url": "https://staging.alpha.example.com:99999"},
     "url is not a URL: send one like https://staging.alpha.example.com"),
    ({"environment": "staging", "variables": {}, "url": "https://a\u0000b.alpha.example.com"},
     "url must not contain control characters (NUL, line breaks, tabs)"),
])
def test_a_bad_environment_post_is_refused(client, hooks, payload, message):
    response = _post(client, "/hooks/environment", payload, hooks["a"])

    assert (response.status_code, response.json()) == (400, {"error": message})
    assert not Environment.objects.exists()


def test_a_replayed_environment_post_is_refused(client, world, hooks):
    ts = int(time.time())
    payload = {"environment": "production", "variables": {"A": DIGEST_A}}
    assert _post(client, "/hooks/environment", payload, hooks["a"], timestamp=ts).status_code == 200

    replay = _post(client, "/hooks/environment", payload, hooks["a"], timestamp=ts)
    older = _post(client, "/hooks/environment", {**payload, "variables": {}}, hooks["a"], timestamp=ts - 5)

    message = ("replayed or out-of-order request: this environment was already posted with this timestamp "
               "or a later one")
    assert (replay.status_code, replay.json()) == (409, {"error": message})
    assert (older.status_code, older.json()) == (409, {"error": message})
    assert list(Environment.objects.get().variables.values_list("name", flat=True)) == ["A"]


def test_the_environment_hook_checks_the_signature_too(client, hooks):
    response = _post(client, "/hooks/environment", {"environment": "production", "variables": {}}, hooks["a"],
                     secret=hooks["b"].secret)

    assert (response.status_code, response.json()) == (401, {"error": "bad signature"})


# --- the CI script, against a live server -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_ci_script_signs_what_the_server_accepts(live_server, world, monkeypatch):
    dispatched: list[int] = []  # the smoke test is not this test's business: it would reach the internet
    monkeypatch.setattr(deploys, "smoke_dispatch", dispatched.append)
    creds = deploys.hook_rotate(world.a.project)
    env = {"PATH": "/usr/bin:/bin", "LAUNCHREADY_URL": live_server.url, "LAUNCHREADY_TOKEN": creds.token,
           "LAUNCHREADY_SECRET": creds.secret}

    done = subprocess.run(
        ["bash", str(REPO / "scripts/post-deploy.sh"), "production", "v43", "9fceb02d0ae5", "ci-bot"],
        env=env, capture_output=True, text=True, timeout=30)

    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert (reply["kind"], reply["environment"]) == ("deploy", "production")
    event = DeployEvent.objects.get(pk=reply["deploy"])
    assert (event.project_id, event.version, event.commit, event.actor) == (
        world.a.project.pk, "v43", "9fceb02d0ae5", "ci-bot")
    assert dispatched == [event.pk]


@pytest.mark.django_db(transaction=True)
def test_the_ci_script_fails_loudly_on_a_refusal(live_server, world):
    creds = deploys.hook_rotate(world.a.project)
    env = {"PATH": "/usr/bin:/bin", "LAUNCHREADY_URL": live_server.url, "LAUNCHREADY_TOKEN": creds.token,
           "LAUNCHREADY_SECRET": "lrs_wrong"}

    done = subprocess.run(["bash", str(REPO / "scripts/post-deploy.sh"), "production", "v43"],
                          env=env, capture_output=True, text=True, timeout=30)

    assert done.returncode == 1
    assert "HTTP 401" in done.stderr and "bad signature" in done.stderr
    assert not DeployEvent.objects.exists()
