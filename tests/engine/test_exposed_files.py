"""hardening.exposed_files against real HTTPS hosts in the sandbox, and its content judges."""

from __future__ import annotations

import dataclasses
import json
import re
import time

from checks.engine.checks.exposed import env_keys, git_config_sections, git_head, map_sources, script_urls
from checks.engine.debug_pages import find_debug_page
from checks.engine.net.session import Net
from tests.engine.support import route, run_check

HTML = ("Content-Type", "text/html; charset=utf-8")
PROBE = re.compile(r"^https://(?P<host>[a-z.]+)/launch-ready-debug-probe-[0-9a-f]{16}$")
ENV_BODY = "APP_KEY=base64:c2VjcmV0LWtleQ==\nDB_PASSWORD=hunter2-sandbox\n# mail\nexport MAIL_HOST=smtp\n"


def _run(sandbox, routes: list[dict], host: str = "www.shop.test"):
    box, net = sandbox({"hosts": {host: {"https": routes}}})
    return run_check(net, "hardening.exposed_files", host)


def _urls(entries: list[dict]) -> list[str]:
    return [e["url"] for e in entries]


def test_a_spa_answering_200_html_everywhere_passes(sandbox):
    result = _run(sandbox, [route("/*", 200, HTML, body="<!doctype html><div id=root></div>")])

    assert result.status == "pass"
    assert result.summary == ("5 URLs of www.shop.test answered; none exposes a .env, .git, "
                              "source map or debug page")
    assert result.evidence["exposed"] == []
    assert result.evidence["untested"] == []
    checked = result.evidence["checked"]
    assert PROBE.match(checked[0]["url"])
    assert checked[1:] == [
        {"url": "https://www.shop.test/.env", "status": 200},
        {"url": "https://www.shop.test/.git/HEAD", "status": 200},
        {"url": "https://www.shop.test/.git/config", "status": 200},
        {"url": "https://www.shop.test/", "status": 200},
    ]
    assert result.metrics == {"exposed": 0, "untested": 0}


def test_an_env_file_fails_with_its_keys_and_never_a_value(sandbox):
    result = _run(sandbox, [route("/.env", 200, ("Content-Type", "text/plain"), body=ENV_BODY)])

    assert result.status == "fail"
    assert result.summary == ("https://www.shop.test/.env serves a .env file "
                              "(3 keys: APP_KEY, DB_PASSWORD, MAIL_HOST)")
    assert result.evidence["exposed"] == [{
        "kind": "env", "url": "https://www.shop.test/.env", "status": 200,
        "keys": ["APP_KEY", "DB_PASSWORD", "MAIL_HOST"], "key_count": 3,
        "first_bytes": ["APP_KEY=[redacted]", "DB_PASSWORD=[redacted]", "MAIL_HOST=[redacted]"],
    }]
    text = json.dumps(result.evidence) + result.summary + result.remediation
    assert "hunter2" not in text and "c2VjcmV0" not in text and "smtp" not in text
    assert result.remediation.startswith("Remove .env from the web root")
    assert result.metrics == {"exposed": 1, "untested": 0}


def test_an_env_answered_as_404_is_judged_by_its_content(sandbox):
    result = _run(sandbox, [route("/.env", 404, body=ENV_BODY)])

    assert result.status == "fail"
    assert result.evidence["exposed"][0]["status"] == 404


def test_git_head_and_config_fail_with_section_headers_only(sandbox):
    config = "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://bot:ghp_token123@git.test/a.git\n"
    result = _run(sandbox, [route("/.git/HEAD", body="ref: refs/heads/main\n"),
                            route("/.git/config", body=config)])

    assert result.status == "fail"
    assert result.summary == (
        "https://www.shop.test/.git/HEAD serves the repository's HEAD (ref: refs/heads/main); "
        "https://www.shop.test/.git/config serves the repository's config ([core], [remote \"origin\"])"
    )
    assert result.evidence["exposed"] == [
        {"kind": "git_head", "url": "https://www.shop.test/.git/HEAD", "status": 200,
         "first_bytes": "ref: refs/heads/main"},
        {"kind": "git_config", "url": "https://www.shop.test/.git/config", "status": 200,
         "sections": ["[core]", "[remote \"origin\"]"]},
    ]
    assert "ghp_token123" not in json.dumps(result.evidence)


def test_a_source_map_of_a_same_site_script_fails_and_names_it(sandbox):
    source_map = {"version": 3, "sources": ["src/App.tsx", "src/api.ts"], "mappings": "AAAA"}
    result = _run(sandbox, [
        route("/", 200, HTML, body="<script src=/js/app.js></script><script src=https://cdn.other.test/x.js></script>"),
        route("/js/app.js", body="run();\n//# sourceMappingURL=app.js.map\n"),
        route("/js/app.js.map", 200, ("Content-Type", "application/json"), body=json.dumps(source_map)),
    ])

    assert result.status == "fail"
    assert result.summary == ("https://www.shop.test/js/app.js.map serves the source map of "
                              "https://www.shop.test/js/app.js (2 sources)")
    assert result.evidence["exposed"] == [{
        "kind": "source_map", "url": "https://www.shop.test/js/app.js.map", "status": 200,
        "script": "https://www.shop.test/js/app.js", "sources": ["src/App.tsx", "src/api.ts"],
        "source_count": 2, "truncated": False,
    }]
    assert result.remediation.startswith("Stop publishing source maps")


def test_a_map_url_answering_the_spa_shell_is_no_exposure(sandbox):
    result = _run(sandbox, [
        route("/js/app.js", body="run();\n//# sourceMappingURL=app.js.map\n"),
        route("/*", 200, HTML, body="<script src=/js/app.js></script>"),
    ])

    assert result.status == "pass"
    assert result.evidence["checked"][-3:] == [
        {"url": "https://www.shop.test/", "status": 200},
        {"url": "https://www.shop.test/js/app.js", "status": 200},
        {"url": "https://www.shop.test/js/app.js.map", "status": 200},
    ]


def _debug(sandbox, status: int, body: str):
    return _run(sandbox, [route("/*", status, HTML, body=body)])


def test_djangos_technical_404_fails_once_for_every_path(sandbox):
    result = _debug(sandbox, 404, "<p>You’re seeing this error because you have "
                                  "<code>DEBUG = True</code> in settings.</p>")

    assert result.status == "fail"
    [entry] = result.evidence["exposed"]
    assert PROBE.match(entry["url"]) and entry["status"] == 404
    assert entry["framework"] == "Django debug page (DEBUG = True)"
    assert entry["also_at"] == ["https://www.shop.test/.env", "https://www.shop.test/.git/HEAD",
                                "https://www.shop.test/.git/config"]
    assert result.summary == f"{entry['url']} shows the Django debug page (DEBUG = True)"
    assert result.remediation.startswith("Turn debug mode off in production")


def test_werkzeug_laravel_and_rails_pages_are_recognised(sandbox):
    pages = {
        "Werkzeug debugger": "<title>KeyError // Werkzeug Debugger</title>",
        "Laravel error page (Ignition)": "<script src=/vendor/laravel-ignition/ignition.js></script>",
        "Laravel error page (Whoops)": "<title>Whoops! There was an error.</title>",
        "Rails development error page": "<h1>Routing Error</h1><p>Rails.root: /app</p>",
    }
    for framework, body in pages.items():
        result = _debug(sandbox, 500, body)
        assert (result.status, result.evidence["exposed"][0]["framework"]) == ("fail", framework)


def test_unreachable_host_is_an_error_never_a_pass(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})

    result = run_check(net, "hardening.exposed_files", "gone.shop.test")

    assert result.status == "error"
    assert result.summary == "could not test: gone.shop.test does not exist (NXDOMAIN)"
    assert result.evidence["exposed"] == [] and result.evidence["checked"] == []
    assert len(result.evidence["untested"]) == 5


def test_a_waf_challenge_is_an_error_naming_the_service(sandbox):
    result = _run(sandbox, [route("/*", 403, ("cf-mitigated", "challenge"), body="blocked")])

    assert result.status == "error"
    assert "from Cloudflare, which blocked the scanner (cf-mitigated: challenge)" in result.summary
    assert result.evidence["blocked_by"] == {"service": "Cloudflare", "marker": "cf-mitigated: challenge"}
    assert result.metrics == {"exposed": 0, "untested": 5}


def test_a_redirect_loop_on_env_is_an_error_within_the_time_limit(sandbox):
    started = time.monotonic()
    result = _run(sandbox, [route("/.env", 302, ("Location", "https://www.shop.test/.env")),
                            route("/*", 200, HTML, body="<p>home</p>")])

    assert time.monotonic() - started < 5
    assert result.status == "error"
    assert result.summary == "could not test: the redirects from https://www.shop.test/.env end in a loop"
    assert result.evidence["untested"][0]["chain"][0]["location"] == "https://www.shop.test/.env"


def test_an_endless_env_body_is_capped_and_still_judged(sandbox):
    endless = route("/.env", body=ENV_BODY, stream="endless")
    box, _ = sandbox({"hosts": {"www.shop.test": {"https": [endless]}}})
    profile = dataclasses.replace(box.profile, max_body_bytes=100_000)

    with Net(profile) as net:
        started = time.monotonic()
        result = run_check(net, "hardening.exposed_files", "www.shop.test")

    assert time.monotonic() - started < 5
    assert result.status == "fail"
    assert result.evidence["exposed"][0]["keys"] == ["APP_KEY", "DB_PASSWORD", "MAIL_HOST"]


def test_a_drip_fed_env_ends_in_a_timeout_error(sandbox):
    box, _ = sandbox({"hosts": {"www.shop.test": {"https": [
        route("/.env", body="x", stream="endless", chunk_delay_ms=100), route("/*", 200, HTML)]}}})
    profile = dataclasses.replace(box.profile, http_timeout_s=1)

    with Net(profile) as net:
        started = time.monotonic()
        result = run_check(net, "hardening.exposed_files", "www.shop.test")

    assert time.monotonic() - started < 3
    assert result.status == "error"
    assert result.summary.startswith("could not test: timed out (ReadTimeout) (after 1.")


def test_the_content_judges():
    assert env_keys(b"A=1\n") == []  # one line is not a dotenv file
    assert env_keys(b"<!doctype html>\nA=1\nB=2") == []
    assert env_keys(b"A=1\nexport B_2=x\nA=3") == ["A", "B_2"]
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert git_head(sha.encode() + b"\n") == sha
    assert git_head(b"<html>ref: refs/heads/main") is None
    assert git_config_sections(b"[user]\nname = x\n") == []
    assert map_sources(b")]}'\n{\"sources\": [\"a.ts\"]}", False) == ["a.ts"]
    assert map_sources(b"{\"version\": 3, \"sources\": [\"a", True) == []
    assert map_sources(b"<!doctype html>", False) is None
    assert script_urls(b"<base href=/b/><script src=x.js></script><script>inline()</script>",
                       "https://h.test/p") == ["https://h.test/b/x.js"]
    assert find_debug_page(b"a page about car ignition") is None
