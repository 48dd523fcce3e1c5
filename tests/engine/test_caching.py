"""performance.cache_personal and performance.cache_static against the sandbox's member app,
the header rules of checks/engine/caching.py, and the member app itself."""

from __future__ import annotations

import json
import re

import pytest

from checks.engine.audit import spec_from_dict
from checks.engine.caching import (
    cache_control,
    cache_hits,
    fingerprinted,
    freshness_s,
    judge_personal,
    judge_static,
)
from checks.engine.registry import Context, all_checks
from checks.sandbox import ScenarioError, parse_scenario

HOST = "app.members.test"
PROFILE = f"https://{HOST}/api/profile"
JSON = ["Content-Type", "application/json"]
ALICE = {"label": "alice", "login": "form", "username": "alice", "password": "pw-alice"}
BOB = {"label": "bob", "login": "form", "username": "bob", "password": "pw-bob"}


def member_app(routes: list[dict], *, accounts=(ALICE, BOB), endpoints=None, members=None) -> dict:
    """A scenario: the member app on app.members.test with alice and bob, a login form and a
    personal profile endpoint."""
    return {
        "project": {
            "name": "Members", "apex": "members.test", "preferred_host": HOST, "subdomains": ["app"],
            "endpoints": endpoints or [{"kind": "login", "method": "POST", "url": f"https://{HOST}/login"},
                                       {"kind": "profile", "url": PROFILE}],
            "accounts": [dict(a) for a in accounts],
        },
        "hosts": {HOST: {"members": members or {"accounts": {"alice": "pw-alice", "bob": "pw-bob"}},
                         "https": routes}},
    }


def profile_route(cache_control_value: str | None, **options) -> dict:
    headers = [JSON] + ([["Cache-Control", cache_control_value]] if cache_control_value else [])
    return {"path": "/api/profile", "personal": True, "headers": headers,
            "body": '{"member": "{member}"}', **options}


def run(sandbox, data: dict, check_id: str, target: str):
    box, net = sandbox(data)
    check = {c.id: c for c in all_checks()}[check_id]
    return check.run(target, Context(net, spec_from_dict(data["project"])))


# The header rules (RFC 9111) -------------------------------------------------------------

def test_cache_control_joins_fields_unquotes_and_keeps_the_first_value():
    assert cache_control(['public, max-age=300', 'private="Set-Cookie", MAX-AGE=5, no-cache']) == {
        "public": None, "max-age": "300", "private": "Set-Cookie", "no-cache": None,
    }


@pytest.mark.parametrize(("headers", "authorization", "status"), [
    ([("Cache-Control", "private")], False, "pass"),
    ([("Cache-Control", "no-store")], True, "pass"),
    ([("Cache-Control", "public, no-store")], False, "pass"),  # no-store wins: nothing is stored
    ([("Cache-Control", "private, max-age=600")], False, "pass"),
    ([("Cache-Control", "max-age=60")], False, "fail"),
    ([("Cache-Control", "s-maxage=60")], False, "fail"),
    ([("Cache-Control", "public")], False, "fail"),
    ([("Cache-Control", 'private="Set-Cookie", max-age=60')], False, "fail"),  # qualified: body shared
    ([("Cache-Control", "no-cache, must-revalidate")], True, "fail"),  # §3.5 lets it be stored
    ([("Cache-Control", "no-cache, must-revalidate")], False, "warn"),
    ([("Cache-Control", "no-cache")], False, "warn"),
    ([("Cache-Control", "max-age=0")], False, "warn"),
    ([("Content-Type", "text/html")], False, "warn"),
    ([("Expires", "Thu, 01 Jan 2037 00:00:00 GMT"), ("Date", "Mon, 30 Nov 2026 12:00:00 GMT")], False,
     "fail"),
    ([("Cache-Control", "private"), ("Age", "12")], False, "fail"),
    ([("Cache-Control", "private"), ("X-Cache", "Hit from cloudfront")], False, "fail"),
    ([("Cache-Control", "private"), ("CF-Cache-Status", "DYNAMIC")], False, "pass"),
])
def test_personal_answers_must_be_private_or_no_store_and_never_a_hit(headers, authorization, status):
    assert judge_personal(headers, authorization=authorization)[0] == status


def test_cache_hits_name_each_sign():
    headers = [("Age", "30"), ("CF-Cache-Status", "HIT"), ("X-Cache", "HIT, MISS"), ("X-Cache", "MISS")]
    assert cache_hits(headers) == ["Age: 30", "CF-Cache-Status: HIT", "X-Cache: HIT, MISS"]


def test_freshness_prefers_s_maxage_for_shared_caches_and_an_invalid_expires_is_stale():
    directives = {"max-age": "60", "s-maxage": "600"}
    assert freshness_s(directives, None, None, shared=True) == 600
    assert freshness_s(directives, None, None, shared=False) == 60
    assert freshness_s({}, "0", "Mon, 30 Nov 2026 12:00:00 GMT", shared=False) == 0
    assert freshness_s({}, None, None, shared=False) is None


@pytest.mark.parametrize(("url", "expected"), [
    ("https://x.test/static/app.3f9a1c.js", True),  # webpack [contenthash:6]
    ("https://x.test/assets/index-BxY3kq9Z.js", True),  # Vite / Rollup
    ("https://x.test/main.8a3f09d2e1b4c5a6f7e8.css", True),
    ("https://x.test/jquery-3.7.1.min.js", False),
    ("https://x.test/polyfills-es2015.js", False),
    ("https://x.test/logo.png", False),
    ("https://x.test/deadbeef/", False),  # no file name
])
def test_fingerprinted_names_carry_a_content_hash(url, expected):
    assert fingerprinted(url) is expected


@pytest.mark.parametrize(("url", "headers", "expected"), [
    ("https://x.test/a.js", [("Cache-Control", "max-age=86400")], ("pass", [], 86400)),
    ("https://x.test/a.js", [("Cache-Control", "max-age=3600")],
     ("warn", ["cached 3600 s, under a day (86400 s)"], 3600)),
    ("https://x.test/a.1f2e3d4c.js", [("Cache-Control", "max-age=31536000")],
     ("warn", ["fingerprinted name without immutable"], 31536000)),
    ("https://x.test/a.js", [], ("fail", ["no freshness lifetime (no max-age or Expires)"], None)),
    ("https://x.test/a.js", [("Cache-Control", "no-cache, private")],
     ("fail", ["not cacheable (no-cache, private)"], None)),
    ("https://x.test/a.js", [("Cache-Control", "max-age=0")], ("fail", ["a freshness lifetime of 0 s"], 0)),
])
def test_static_assets_are_cached_a_day_and_immutable_when_fingerprinted(url, headers, expected):
    assert judge_static(url, headers) == expected


# performance.cache_personal ---------------------------------------------------------------

def test_a_private_profile_passes(sandbox):
    data = member_app([profile_route("private, no-store")])

    result = run(sandbox, data, "performance.cache_personal", PROFILE)

    assert result.status == "pass"
    assert result.summary == (f"{PROFILE} answers test account 'alice' with Cache-Control "
                              "'private, no-store' and was not served from a cache")
    answer = {"status": 200, "headers": [["Cache-Control", "private, no-store"]]}
    assert result.evidence == {"url": PROFILE, "account": "alice", "credentials": ["Cookie"],
                               "responses": [answer, answer], "reasons": []}
    assert result.metrics == {"cache_hits": 0}


def test_personal_data_served_from_the_cdn_fails_on_the_hit(sandbox):
    data = member_app([profile_route("public, max-age=600", shared_cache=True)])

    result = run(sandbox, data, "performance.cache_personal", PROFILE)

    assert result.status == "fail"
    summary = re.sub(r"Age: \d+", "Age: N", result.summary)
    assert summary == (f"{PROFILE} (personal): Cache-Control 'public, max-age=600' lets shared caches "
                       "store it (public, max-age=600 without private); served from a cache "
                       "(Age: N, CF-Cache-Status: HIT)")
    first, second = result.evidence["responses"]
    assert first == {"status": 200, "headers": [["Cache-Control", "public, max-age=600"],
                                                 ["CF-Cache-Status", "MISS"]]}
    assert second["headers"][0] == ["Cache-Control", "public, max-age=600"]
    assert second["headers"][2] == ["CF-Cache-Status", "HIT"]
    assert second["headers"][1][0] == "Age" and second["headers"][1][1].isdigit()
    assert result.metrics == {"cache_hits": 1}


def test_no_test_account_is_an_error_not_a_pass(sandbox):
    data = member_app([profile_route("private")], accounts=())

    result = run(sandbox, data, "performance.cache_personal", PROFILE)

    assert result.status == "error"
    assert result.summary == f"needs a test account: {PROFILE} is personal and is read logged in"


def test_a_refused_login_is_an_error_and_never_shows_the_password(sandbox):
    wrong = {**ALICE, "password": "not-her-password"}
    data = member_app([profile_route("private")], accounts=(wrong,))

    result = run(sandbox, data, "performance.cache_personal", PROFILE)

    assert result.status == "error"
    assert result.summary == (f"could not log in to read {PROFILE}: the login form at https://{HOST}/login "
                              "refused test account 'alice' (HTTP 401)")
    assert "not-her-password" not in json.dumps(result.evidence) + result.summary


def test_an_answer_that_is_not_the_members_data_is_an_error(sandbox):
    data = member_app([{"path": "/api/profile", "status": 302, "headers": [["Location", "/login"]]}])

    result = run(sandbox, data, "performance.cache_personal", PROFILE)

    assert result.status == "error"
    assert result.summary == (f"{PROFILE} answered HTTP 302 to test account 'alice', not the member's own "
                              "data: its caching was not tested")


# performance.cache_static -----------------------------------------------------------------

def _static_site(assets: list[dict]) -> dict:
    page = "".join(f"<script src={a['path']}></script>" for a in assets)
    page += "<script src=https://cdn.other.test/lib.js></script>"  # another site: not judged
    routes = [{"path": "/", "headers": [["Content-Type", "text/html"]], "body": page}, *assets]
    data = member_app(routes, endpoints=[{"kind": "homepage", "url": f"https://{HOST}/"}])
    return data


def test_a_script_without_caching_headers_fails(sandbox):
    data = _static_site([{"path": "/app.js", "body": "x"},
                         {"path": "/vendor.js", "headers": [["Cache-Control", "max-age=604800"]],
                          "body": "x"}])

    result = run(sandbox, data, "performance.cache_static", HOST)

    assert result.status == "fail"
    assert result.summary == f"https://{HOST}/app.js: no freshness lifetime (no max-age or Expires)"
    assert [a["status"] for a in result.evidence["assets"]] == ["fail", "pass"]
    assert result.metrics == {"assets": 2, "short_lived": 1}


def test_pages_without_same_site_assets_are_skipped(sandbox):
    result = run(sandbox, _static_site([]), "performance.cache_static", HOST)

    assert result.status == "skipped"
    assert result.summary == f"the pages of {HOST} load no same-site script, stylesheet or image"


def test_an_asset_that_cannot_be_read_is_an_error(sandbox):
    data = _static_site([{"path": "/app.js", "status": 500, "body": "boom"}])

    result = run(sandbox, data, "performance.cache_static", HOST)

    assert result.status == "error"
    assert result.summary == "could not test: HTTP 500"


def test_assets_are_capped_at_twenty(sandbox):
    assets = [{"path": f"/a{i}.js", "headers": [["Cache-Control", "max-age=86400"]], "body": "x"}
              for i in range(30)]

    result = run(sandbox, _static_site(assets), "performance.cache_static", HOST)

    assert result.status == "pass"
    assert result.summary == "20 static assets cached for a day or more, fingerprinted ones immutable"


# The member app ---------------------------------------------------------------------------

def test_the_member_app_logs_in_fills_the_member_and_refuses_strangers(sandbox):
    box, net = sandbox(member_app([profile_route("private", compress="gzip")]))
    form = b"username=bob&password=pw-bob"
    form_type = (("Content-Type", "application/x-www-form-urlencoded"),)

    login = net.http.fetch(f"https://{HOST}/login", method="POST", body=form, headers=form_type)
    wrong = net.http.fetch(f"https://{HOST}/login", method="POST", body=b"username=bob&password=x",
                           headers=form_type)
    cookie = login.header("set-cookie").split(";")[0]
    anonymous = net.http.fetch(PROFILE)
    profile = net.http.fetch(PROFILE, headers=(("Cookie", cookie), ("Accept-Encoding", "gzip")))

    assert login.status == 303 and re.fullmatch(r"session=[0-9a-f]{32}", cookie)
    assert wrong.status == 401
    assert anonymous.status == 401
    assert profile.status == 200
    assert profile.header("content-encoding") == "gzip"
    assert profile.body == b'{"member": "bob"}'  # httpx undoes the gzip for the body


@pytest.mark.parametrize(("host", "message"), [
    ({"https": [{"path": "/", "personal": True}]},
     "a route is personal or leak_cookie, but the host has no members"),
    ({"members": {"accounts": {}}, "https": []}, "accounts must name at least one member"),
    ({"members": {"accounts": {"a": "b"}, "tokens": {"z": "t"}}}, "tokens: 'z' is not an account"),
    ({"members": {"accounts": {"a": "b"}}, "https": [{"path": "/", "compress": "br"}]},
     "compress must be one of gzip"),
    ({"members": {"accounts": {"a": "b"}}, "https": [{"path": "/", "body_size": -1}]},
     "body_size must be a whole number of bytes from 0 to 20000000"),
])
def test_member_app_mistakes_are_scenario_errors(host, message):
    with pytest.raises(ScenarioError, match=re.escape(message)):
        parse_scenario({"hosts": {"app.members.test": host}})
