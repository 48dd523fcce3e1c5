"""Attacks on the deploy and environment webhooks of issue 5 (``projects/deploys.py``,
``projects/deploy_views.py``): crossed tokens, signatures over another body, replays, skew,
header tricks, hostile JSON. Every refusal must be a 4xx JSON answer that records nothing and
echoes no secret."""

from __future__ import annotations

import inspect
import json
import time

import pytest
from django.test import Client

from projects import deploys
from projects.models import DeployEvent, Environment, EnvironmentVariable

pytestmark = pytest.mark.django_db
DIGEST = "a" * 64
DEPLOY = {"environment": "production", "version": "v42", "commit": "9fceb02d0ae5", "actor": "ci"}


def _post(path: str, body: bytes, creds: deploys.HookCredentials, *, ts: int | None = None,
          token: str | None = None, secret: str | None = None, signature: str | None = None,
          auth: str | None = None, client: Client | None = None, **headers):
    stamp = str(int(time.time()) if ts is None else ts)
    sig = signature if signature is not None else deploys.signature_of(secret or creds.secret, stamp, body)
    meta = {"HTTP_AUTHORIZATION": auth if auth is not None else f"Bearer {token or creds.token}",
            "HTTP_X_LAUNCHREADY_TIMESTAMP": stamp, "HTTP_X_LAUNCHREADY_SIGNATURE": sig, **headers}
    return (client or Client()).generic("POST", path, body, content_type="application/json", **meta)


@pytest.fixture
def hooks(world):
    return {"a": deploys.hook_rotate(world.a.project), "b": deploys.hook_rotate(world.b.project)}


def _nothing_recorded():
    assert DeployEvent.objects.count() == 0
    assert EnvironmentVariable.objects.count() == 0


# --- refused as they should be ----------------------------------------------------------------


def test_the_signature_compare_is_constant_time():
    source = inspect.getsource(deploys.hook_authenticate)
    assert "hmac.compare_digest(" in source
    assert " == signature" not in source and "signature ==" not in source


def test_another_agencys_token_with_its_own_signature_records_only_for_that_agency(world, hooks):
    body = json.dumps(DEPLOY).encode()
    response = _post("/hooks/deploy", body, hooks["b"])
    assert response.status_code == 201
    assert list(DeployEvent.objects.values_list("project_id", flat=True)) == [world.b.project.pk]


def test_a_signature_over_a_different_body_is_refused(hooks):
    ts = int(time.time())
    signed = deploys.signature_of(hooks["a"].secret, str(ts), json.dumps(DEPLOY).encode())
    tampered = json.dumps({**DEPLOY, "environment": "staging"}).encode()
    response = _post("/hooks/deploy", tampered, hooks["a"], ts=ts, signature=signed)
    assert (response.status_code, response.json()) == (401, {"error": "bad signature"})
    _nothing_recorded()


def test_a_signature_with_a_shifted_timestamp_is_refused(hooks):
    ts = int(time.time())
    body = json.dumps(DEPLOY).encode()
    signed = deploys.signature_of(hooks["a"].secret, str(ts), body)
    for stamp in (ts + 1, f"0{ts}"):
        response = Client().generic(
            "POST", "/hooks/deploy", body, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {hooks['a'].token}", HTTP_X_LAUNCHREADY_TIMESTAMP=str(stamp),
            HTTP_X_LAUNCHREADY_SIGNATURE=signed)
        assert (response.status_code, response.json()) == (401, {"error": "bad signature"})
    _nothing_recorded()


@pytest.mark.parametrize("stamp, status", [("-5", 400), ("1e9", 400), ("١٧٠٠٠٠٠٠٠٠", 400),
                                           ("99999999999999999999", 400), ("0", 401)])
def test_odd_timestamps_are_refused(hooks, stamp, status):
    body = json.dumps(DEPLOY).encode()
    response = Client().generic(
        "POST", "/hooks/deploy", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {hooks['a'].token}",
        HTTP_X_LAUNCHREADY_TIMESTAMP=stamp.encode().decode("latin-1"),
        HTTP_X_LAUNCHREADY_SIGNATURE=deploys.signature_of(hooks["a"].secret, "0", body))
    assert response.status_code == status
    _nothing_recorded()


def test_a_replay_with_the_signature_rewritten_is_still_refused(hooks):
    ts = int(time.time())
    body = json.dumps(DEPLOY).encode()
    signed = deploys.signature_of(hooks["a"].secret, str(ts), body)
    assert _post("/hooks/deploy", body, hooks["a"], ts=ts, signature=signed).status_code == 201
    padded = _post("/hooks/deploy", body, hooks["a"], ts=ts, signature=f"  {signed}\t")
    upper = _post("/hooks/deploy", body, hooks["a"], ts=ts, signature=signed.upper())
    assert (padded.status_code, padded.json()) == (409, {"error": "replayed request: this signature was "
                                                                  "already used"})
    assert (upper.status_code, upper.json()) == (401, {"error": "bad signature"})
    assert DeployEvent.objects.count() == 1


def test_a_signed_deploy_body_cannot_be_replayed_to_the_environment_hook(hooks):
    ts = int(time.time())
    body = json.dumps(DEPLOY).encode()
    assert _post("/hooks/deploy", body, hooks["a"], ts=ts).status_code == 201
    crossed = _post("/hooks/environment", body, hooks["a"], ts=ts)
    assert crossed.status_code == 400
    assert not Environment.objects.exists()


def test_a_body_over_the_cap_is_refused_even_when_content_length_lies(hooks):
    body = json.dumps({**DEPLOY, "actor": "x" * 70_000}).encode()
    response = _post("/hooks/deploy", body, hooks["a"], CONTENT_LENGTH="10")
    assert response.status_code in (400, 401, 413)
    _nothing_recorded()


@pytest.mark.parametrize("auth", ["", "Basic dXNlcjpwdw==", "Bearer", "Bearer  ", "Token lrd_x"])
def test_other_authorization_schemes_are_refused(hooks, auth):
    response = _post("/hooks/deploy", json.dumps(DEPLOY).encode(), hooks["a"], auth=auth)
    assert response.status_code == 401
    _nothing_recorded()


@pytest.mark.parametrize("payload", [
    b"\xff\xfe\x00garbage", b"", b"null", b"\"deploy\"", b"[]",
    json.dumps({**DEPLOY, "environment": ["production"]}).encode(),
    json.dumps({**DEPLOY, "environment": {"production": 1}}).encode(),
    json.dumps({**DEPLOY, "version": 42}).encode(),
    json.dumps({**DEPLOY, "version": ["v"]}).encode(),
    json.dumps({**DEPLOY, "commit": 1234567}).encode(),
    json.dumps({**DEPLOY, "kind": ["deploy"]}).encode(),
    json.dumps({**DEPLOY, "deployed_at": 1700000000}).encode(),
    json.dumps({**DEPLOY, "commit": "９fceb02"}).encode(),
])
def test_non_json_and_wrong_types_are_400(hooks, payload):
    response = _post("/hooks/deploy", payload, hooks["a"])
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    _nothing_recorded()


@pytest.mark.parametrize("variables", [
    {"DATABASE_URL": "postgres://u:hunter2@db/app"},
    {"STRIPE_SECRET_KEY": "sk_live_hunter2hunter2hunter2"},
    {"TOKEN": "g" * 64},
    {"TOKEN": "a" * 63 + "\n"},
    {"TOKEN": ["a" * 64]},
    {"TOKEN": None},
])
def test_a_value_instead_of_a_fingerprint_is_neither_stored_nor_echoed(hooks, variables):
    body = json.dumps({"environment": "production", "variables": variables}).encode()
    response = _post("/hooks/environment", body, hooks["a"])
    assert response.status_code == 400
    assert "hunter2" not in response.content.decode()
    _nothing_recorded()


def test_unicode_in_fields_is_stored_as_sent(hooks):
    body = json.dumps({**DEPLOY, "version": "v42 – 🚀 ünïcode", "actor": "Zoë <ci>"}).encode()
    assert _post("/hooks/deploy", body, hooks["a"]).status_code == 201
    assert DeployEvent.objects.get().actor == "Zoë <ci>"


def test_the_hook_is_csrf_exempt_but_header_case_does_not_matter(hooks):
    body = json.dumps(DEPLOY).encode()
    ts = str(int(time.time()))
    # WSGI folds header names to upper case: X-LAUNCHREADY-SIGNATURE reaches the view the same.
    response = Client(enforce_csrf_checks=True).generic(
        "POST", "/hooks/deploy", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {hooks['a'].token}", HTTP_X_LAUNCHREADY_TIMESTAMP=ts,
        HTTP_X_LAUNCHREADY_SIGNATURE=deploys.signature_of(hooks["a"].secret, ts, body))
    assert response.status_code == 201


def test_refusals_never_echo_the_token_or_the_secret(hooks):
    body = json.dumps(DEPLOY).encode()
    responses = [
        _post("/hooks/deploy", body, hooks["a"], secret=hooks["b"].secret),
        _post("/hooks/deploy", body, hooks["a"], token=hooks["a"].token + "x"),
        _post("/hooks/deploy", body, hooks["a"], ts=int(time.time()) - 999),
        _post("/hooks/deploy", b"{bad", hooks["a"]),
    ]
    for response in responses:
        text = response.content.decode()
        for value in (hooks["a"].token, hooks["a"].secret, hooks["b"].secret):
            assert value not in text


# --- found by the review, fixed ---------------------------------------------------------------


@pytest.mark.parametrize("field", ["version", "actor"])
def test_a_nul_in_a_deploy_field_is_a_400(hooks, field):
    body = json.dumps({**DEPLOY, field: "v\u00004"}).encode()
    response = _post("/hooks/deploy", body, hooks["a"], client=Client(raise_request_exception=False))
    assert response.status_code == 400
    _nothing_recorded()


def test_a_nul_in_the_environment_url_is_a_400(hooks):
    body = json.dumps({"environment": "staging", "variables": {}, "url": "https://a\u0000b.example"}).encode()
    response = _post("/hooks/environment", body, hooks["a"], client=Client(raise_request_exception=False))
    assert response.status_code == 400


@pytest.mark.parametrize("when", ["2026-02-30T00:00:00Z", "2026-11-30T25:00:00Z",
                                  "2026-11-30T12:00:00+25:00"])
def test_an_impossible_deployed_at_is_a_400(hooks, when):
    body = json.dumps({**DEPLOY, "deployed_at": when}).encode()
    response = _post("/hooks/deploy", body, hooks["a"], client=Client(raise_request_exception=False))
    assert response.status_code == 400


def test_deeply_nested_json_is_a_400(hooks):
    body = b"[" * 20_000 + b"]" * 20_000
    response = _post("/hooks/deploy", body, hooks["a"], client=Client(raise_request_exception=False))
    assert response.status_code == 400


def test_a_name_value_pair_posted_as_a_name_is_not_echoed(hooks):
    body = json.dumps({"environment": "production",
                       "variables": {"DATABASE_URL=postgres://u:hunter2@db/app": DIGEST}}).encode()
    response = _post("/hooks/environment", body, hooks["a"])
    assert response.status_code == 400
    assert "hunter2" not in response.content.decode()


def test_a_variable_name_with_a_trailing_newline_is_refused(hooks):
    body = json.dumps({"environment": "production", "variables": {"API_KEY\n": DIGEST}}).encode()
    response = _post("/hooks/environment", body, hooks["a"])
    assert response.status_code == 400


def test_a_lower_case_bearer_scheme_is_accepted(hooks):
    response = _post("/hooks/deploy", json.dumps(DEPLOY).encode(), hooks["a"],
                     auth=f"bearer {hooks['a'].token}")
    assert response.status_code == 201


def test_markup_posted_by_ci_is_escaped_on_the_deploys_page(world, hooks):
    body = json.dumps({**DEPLOY, "actor": "<script>alert(1)</script>",
                       "version": "<img src=x onerror=1>"}).encode()
    assert _post("/hooks/deploy", body, hooks["a"]).status_code == 201
    client = Client()
    client.force_login(world.a.founder)
    page = client.get(f"/projects/{world.a.project.pk}/deploys/").content.decode()
    assert "<script>alert(1)</script>" not in page and "<img src=x onerror=1>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_refused_and_accepted_requests_log_no_token_or_secret(hooks, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    body = json.dumps(DEPLOY).encode()
    _post("/hooks/deploy", body, hooks["a"], secret=hooks["b"].secret)
    _post("/hooks/deploy", body, hooks["a"])
    _post("/hooks/environment", json.dumps({"environment": "staging", "variables": {"A": "x"}}).encode(),
          hooks["a"])
    for value in (hooks["a"].token, hooks["a"].secret, hooks["b"].secret):
        assert value not in caplog.text
