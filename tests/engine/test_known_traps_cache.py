"""The known traps of ``shared/cases/known-traps.json`` about caching (CACHE-01, CACHE-01b,
CACHE-01c), each played from its scenario file in ``scenarios/cases/`` with exact verdicts."""

from __future__ import annotations

import json

import yaml

from checks.engine.audit import spec_from_dict
from checks.engine.registry import Context, all_checks
from tests.conftest import SCENARIOS


def _run(sandbox, case_id: str, check_id: str, target: str):
    data = yaml.safe_load((SCENARIOS / "cases" / f"{case_id}.yaml").read_text(encoding="utf-8"))
    box, net = sandbox(data)
    check = {c.id: c for c in all_checks()}[check_id]
    return check.run(target, Context(net, spec_from_dict(data["project"])))


def test_cache_01_a_personal_answer_marked_public_fails_although_the_cdn_says_dynamic(sandbox):
    result = _run(sandbox, "CACHE-01", "performance.cache_personal", "https://app.example.com/api/auth/me")

    assert result.status == "fail"
    assert result.summary == (
        "https://app.example.com/api/auth/me (personal): Cache-Control 'public, max-age=300, "
        "s-maxage=3600' lets shared caches store it (public, s-maxage=3600, max-age=300 without "
        "private); only the CDN's own rules keep it out of its cache today (CF-Cache-Status: DYNAMIC)"
    )
    answer = {"status": 200, "headers": [
        ["Cache-Control", "public, max-age=300, s-maxage=3600"], ["CF-Cache-Status", "DYNAMIC"],
        ["Set-Cookie", "session=[redacted]"],
    ]}
    assert result.evidence == {
        "url": "https://app.example.com/api/auth/me", "account": "member",
        "credentials": ["Authorization"], "responses": [answer, answer],
        "reasons": ["Cache-Control 'public, max-age=300, s-maxage=3600' lets shared caches store it "
                    "(public, s-maxage=3600, max-age=300 without private)"],
    }
    assert result.metrics == {"cache_hits": 0}
    assert result.remediation.startswith("Send Cache-Control: private, no-store")
    assert "tok-member-0001" not in json.dumps(result.evidence)


def test_cache_01b_a_fingerprinted_asset_that_sets_a_cookie_warns(sandbox):
    result = _run(sandbox, "CACHE-01b", "performance.cache_static", "www.example.com")

    assert result.status == "warn"
    assert result.summary == (
        "https://www.example.com/static/app.3f9a1c.js: Set-Cookie on a static asset "
        "(Cloudflare then bypasses its cache)"
    )
    assert result.evidence["assets"] == [{
        "url": "https://www.example.com/static/app.3f9a1c.js", "status": "warn", "lifetime_s": 31536000,
        "reasons": ["Set-Cookie on a static asset (Cloudflare then bypasses its cache)"],
        "headers": [["Cache-Control", "public, max-age=31536000, immutable"],
                    ["Set-Cookie", "visitor=[redacted]"], ["CF-Cache-Status", "BYPASS"]],
    }]
    assert "abc123" not in json.dumps(result.evidence)
    assert result.metrics == {"assets": 1, "short_lived": 0}


def test_cache_01c_authenticated_html_without_cache_control_warns(sandbox):
    result = _run(sandbox, "CACHE-01c", "performance.cache_personal", "https://app.example.com/dashboard")

    assert result.status == "warn"
    assert result.summary == (
        "https://app.example.com/dashboard (personal): no Cache-Control: caches may apply "
        "heuristic freshness (RFC 9111 §4.2.2)"
    )
    assert result.evidence["credentials"] == ["Cookie"]
    assert result.evidence["responses"] == [{"status": 200, "headers": []}, {"status": 200, "headers": []}]
