"""http.canonical_host: every way of typing the site lands on one https:// origin."""

from __future__ import annotations

from checks.engine.registry import Context, all_checks
from checks.engine.spec import ProjectSpec
from tests.engine.support import redirect, route, run_check

WWW = "www.shop.test"
PAGE = [route("/*", 200, ("Content-Type", "text/html"), body="<h1>shop</h1>")]


def _run(net, preferred=WWW):
    return run_check(net, "http.canonical_host", "shop.test", apex="shop.test", preferred_host=preferred)


def test_every_start_landing_on_the_canonical_host_passes(sandbox):
    box, net = sandbox({"hosts": {"shop.test": {"https": redirect("https://www.shop.test{path}")}, WWW: {}}})

    result = _run(net)

    assert (result.status, result.summary) == ("pass", "all 4 start URLs land on https://www.shop.test")
    assert result.evidence["landings"] == {
        "http://shop.test/": "https://www.shop.test/", "https://shop.test/": "https://www.shop.test/",
        "http://www.shop.test/": "https://www.shop.test/", "https://www.shop.test/": "https://www.shop.test/",
    }
    assert result.evidence["unreached"] == {}
    assert result.evidence["declared_canonical"] == []


def test_apex_and_www_both_serving_the_site_fails_with_each_landing(sandbox):
    box, net = sandbox({"hosts": {"shop.test": {"https": PAGE}, WWW: {"https": PAGE}}})

    result = _run(net)

    assert result.status == "fail"
    assert result.summary == (
        "visitors land on 2 origins: http://shop.test/ → https://shop.test; https://shop.test/ → "
        "https://shop.test; http://www.shop.test/ → https://www.shop.test; https://www.shop.test/ → "
        "https://www.shop.test"
    )


def test_a_site_that_settles_on_the_other_host_warns_about_the_project_setting(sandbox):
    box, net = sandbox({"hosts": {"shop.test": {"https": PAGE}, WWW: {"https": redirect("https://shop.test{path}")}}})

    result = _run(net)

    assert result.status == "warn"
    assert result.summary == (
        "every start lands on https://shop.test, but the project's canonical host is www.shop.test"
    )


def test_a_page_declaring_another_canonical_origin_warns(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"https": redirect("https://www.shop.test{path}")},
        WWW: {"https": [route("/*", 200, ("Content-Type", "text/html; charset=utf-8"),
                              body='<head><link rel="Canonical" href="https://shop.test/"></head>')]},
    }})

    result = _run(net)

    assert result.status == "warn"
    assert result.summary == (
        "visitors land on https://www.shop.test, but its page declares https://shop.test as canonical"
    )
    assert result.evidence["declared_canonical"] == ["https://shop.test"]


def test_a_canonical_link_header_counts_too_and_a_relative_one_is_the_same_origin(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"https": redirect("https://www.shop.test{path}")},
        WWW: {"https": [route("/*", 200, ("Link", '<http://www.shop.test/>; rel="canonical"'),
                              ("Content-Type", "text/html"), body='<link rel=canonical href="/">')]},
    }})

    result = _run(net)

    assert result.status == "warn"
    assert result.summary == (
        "visitors land on https://www.shop.test, but its page declares http://www.shop.test as canonical"
    )
    assert result.evidence["declared_canonical"] == ["http://www.shop.test", "https://www.shop.test"]


def test_fewer_than_two_pages_reached_is_an_error(sandbox):
    box, net = sandbox({"hosts": {WWW: {"http": False}}})

    result = _run(net)

    assert result.status == "error"
    assert result.summary == "could not test: only 1 of 4 start URLs reach a page"
    assert sorted(result.evidence["unreached"]) == [
        "http://shop.test/", "http://www.shop.test/", "https://shop.test/",
    ]
    # shop.test exists (www.shop.test is under it) but has no address: NOERROR with no data.
    assert result.evidence["unreached"]["http://shop.test/"] == "shop.test has no A or AAAA records"


def test_a_waf_block_on_a_landing_page_is_an_error(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"https": redirect("https://www.shop.test{path}")},
        WWW: {"https": [route("/*", 403, ("x-amzn-waf-action", "block"))]},
    }})

    result = _run(net)

    assert result.status == "error"
    assert result.evidence["blocked_by"] == {"service": "AWS WAF", "marker": "x-amzn-waf-action: block"}


def test_a_project_without_www_compares_the_apex_schemes(sandbox):
    box, net = sandbox({"hosts": {"shop.test": {"https": PAGE}}})
    project = ProjectSpec(name="t", apex="shop.test", subdomains=("app",))
    check = {c.id: c for c in all_checks()}["http.canonical_host"]

    result = check.run("shop.test", Context(net, project))

    assert (result.status, result.summary) == ("pass", "all 2 start URLs land on https://shop.test")
