"""http.canonical_redirect: the other one of apex / www reaches the preferred host in one 301,
keeping the path and query. The check probes ``/launch-ready-probe?lr=1``."""

from __future__ import annotations

from tests.engine.support import redirect, route, run_check

START = "https://shop.test/launch-ready-probe?lr=1"
EXPECTED = "https://www.shop.test/launch-ready-probe?lr=1"


def _canonical(net):
    return run_check(
        net, "http.canonical_redirect", "shop.test", apex="shop.test", preferred_host="www.shop.test"
    )


def test_one_301_keeping_path_and_query_passes(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"https": redirect("https://www.shop.test{path}")},
        "www.shop.test": {"https": [route("/*", body="shop")]},
    }})

    result = _canonical(net)

    assert result.status == "pass"
    assert result.summary == f"shop.test → 301 → {EXPECTED}"
    assert result.metrics == {"hops": 1}
    assert (result.evidence["start"], result.evidence["expected"]) == (START, EXPECTED)
    assert result.evidence["hops"] == 1
    assert [(h["url"], h["status"]) for h in result.evidence["chain"]] == [(START, 301), (EXPECTED, 200)]


def test_two_hops_through_a_forwarder_warn(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"https": redirect("https://forward.registrar.test/shop.test{path}")},
        "forward.registrar.test": {"https": redirect("https://www.shop.test/{rest}", path="/shop.test/*")},
        "www.shop.test": {},
    }})

    result = _canonical(net)

    assert result.status == "warn"
    assert result.summary == (
        "shop.test reaches www.shop.test in 2 hops (shop.test→forward.registrar.test→www.shop.test)"
    )
    assert result.metrics == {"hops": 2}
    assert result.evidence["chain"][-1]["url"] == EXPECTED


def test_a_redirect_that_drops_the_path_warns(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"https": redirect("https://www.shop.test/")}, "www.shop.test": {},
    }})

    result = _canonical(net)

    assert result.status == "warn"
    assert result.summary == f"path or query lost: {START} lands on https://www.shop.test/"
    assert result.metrics == {"hops": 1}
    assert result.remediation == "Keep the path and query string in the redirect target."


def test_a_temporary_302_warns(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"https": redirect("https://www.shop.test{path}", 302)}, "www.shop.test": {},
    }})

    result = _canonical(net)

    assert result.status == "warn"
    assert result.summary == "shop.test redirects with a temporary 302"


def test_an_apex_that_serves_the_site_itself_fails(sandbox):
    box, net = sandbox({"hosts": {"shop.test": {"https": [route("/*", body="a copy")]}, "www.shop.test": {}}})

    result = _canonical(net)

    assert result.status == "fail"
    assert result.summary == "shop.test answers 200 itself instead of redirecting to www.shop.test"
    assert [h["status"] for h in result.evidence["chain"]] == [200]


def test_a_redirect_loop_fails(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"https": redirect("https://edge.shop.test{path}")},
        "edge.shop.test": {"https": redirect("https://shop.test{path}")},
        "www.shop.test": {},
    }})

    result = _canonical(net)

    assert result.status == "fail"
    assert result.summary == f"redirect loop after 2 hops from {START}"


def test_a_chain_that_never_reaches_the_preferred_host_fails(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"https": redirect("https://shop.example-parking.test{path}")},
        "shop.example-parking.test": {"https": [route("/*", body="This domain is parked")]},
        "www.shop.test": {},
    }})

    result = _canonical(net)

    assert result.status == "fail"
    assert result.summary == (
        f"{START} ends at https://shop.example-parking.test/launch-ready-probe?lr=1, not on www.shop.test"
    )


def test_with_the_apex_preferred_www_is_the_one_that_must_redirect(sandbox):
    box, net = sandbox({"hosts": {
        "www.shop.test": {"https": redirect("https://shop.test{path}")}, "shop.test": {},
    }})

    result = run_check(
        net, "http.canonical_redirect", "www.shop.test", apex="shop.test", preferred_host="shop.test"
    )

    assert result.status == "pass"
    assert result.summary == "www.shop.test → 301 → https://shop.test/launch-ready-probe?lr=1"


def test_an_apex_with_nothing_on_port_443_fails(sandbox):
    box, net = sandbox({"hosts": {"shop.test": {"https": False}, "www.shop.test": {}}})

    result = run_check(net, "http.canonical_redirect", "shop.test", preferred_host="www.shop.test")

    assert result.status == "fail"
    assert result.summary == (
        "nothing answers on https://shop.test/ (connection refused): visitors get an error, not www.shop.test"
    )
