"""http.hsts_preload: the apex meets hstspreload.org's requirements, or each unmet one is named."""

from __future__ import annotations

from tests.engine.support import run_check

PRELOAD = ["Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"]


def _apex(sandbox, sts: list[str] | None, http=None):
    headers = [sts] if sts else []
    host = {"https": [{"path": "/*", "headers": headers, "body": "ok"}]}
    if http is not None:
        host["http"] = http
    box, net = sandbox({"hosts": {"shop.test": host}})
    return run_check(net, "http.hsts_preload", "shop.test")


def test_an_apex_with_a_full_policy_and_a_same_host_redirect_is_eligible(sandbox):
    result = _apex(sandbox, PRELOAD)

    assert (result.status, result.summary) == ("pass", "shop.test meets the HSTS preload requirements")
    assert result.evidence["unmet"] == []
    assert result.evidence["effective"] == {"max_age": 63072000, "include_subdomains": True, "preload": True}


def test_a_policy_without_preload_and_subdomains_lists_both_unmet(sandbox):
    result = _apex(sandbox, ["Strict-Transport-Security", "max-age=31536000"])

    assert result.status == "warn"
    assert result.summary == (
        "shop.test is not eligible for HSTS preload: needs includeSubDomains (and 1 more)"
    )
    assert result.evidence["unmet"] == ["includeSubDomains", "the preload directive"]


def test_an_http_redirect_straight_to_another_host_is_not_eligible(sandbox):
    http = [{"path": "/*", "status": 301, "headers": [["Location", "https://www.shop.test/"]]}]
    result = _apex(sandbox, PRELOAD, http=http)

    assert result.status == "warn"
    assert result.evidence["unmet"] == [
        "http://shop.test/ must redirect to https://shop.test/ first (https://www.shop.test/)"
    ]


def test_no_https_answer_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"shop.test": {"certificate": "expired"}}})

    result = run_check(net, "http.hsts_preload", "shop.test")

    assert result.status == "error"
    assert result.summary == "could not test: TLS failed: certificate verify failed: certificate has expired"
