"""http.https_redirect: http://host/ must send visitors to https:// and never back."""

from __future__ import annotations

from tests.engine.support import redirect, route, run_check


def test_a_301_to_https_passes(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": "redirect"}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert result.status == "pass"
    assert result.summary == "http://www.shop.test/ → 301 → https://www.shop.test/"
    assert [(h["url"], h["status"]) for h in result.evidence["chain"]] == [
        ("http://www.shop.test/", 301), ("https://www.shop.test/", 200),
    ]
    assert result.evidence["chain"][0]["location"] == "https://www.shop.test/"
    assert result.evidence["chain"][0]["address"] == box.addresses["www.shop.test"]


def test_a_308_to_https_passes_too(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": redirect("https://www.shop.test{path}", 308)}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert (result.status, result.summary) == ("pass", "http://www.shop.test/ → 308 → https://www.shop.test/")


def test_a_temporary_302_to_https_warns(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": redirect("https://www.shop.test/", 302)}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert result.status == "warn"
    assert result.summary == "http://www.shop.test/ redirects with a temporary 302"
    assert result.remediation == "Use 301 (or 308) so that browsers and search engines remember it."


def test_a_page_served_over_plain_http_fails(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": [route("/*", 200, body="<h1>shop</h1>")]}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == (
        "http://www.shop.test/ answers 200 over plain HTTP instead of redirecting to https://"
    )
    assert [h["status"] for h in result.evidence["chain"]] == [200]


def test_a_redirect_loop_fails(sandbox):
    box, net = sandbox({"hosts": {
        "www.shop.test": {"http": redirect("http://shop.test/")},
        "shop.test": {"http": redirect("http://www.shop.test/")},
    }})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == "redirect loop after 2 hops from http://www.shop.test/"
    assert [h["url"] for h in result.evidence["chain"]] == ["http://www.shop.test/", "http://shop.test/"]


def test_a_chain_of_12_redirects_is_capped_and_fails(sandbox):
    hosts = {f"h{i}.shop.test": {"http": redirect(f"http://h{i + 1}.shop.test/")} for i in range(12)}
    hosts["h12.shop.test"] = {}
    box, net = sandbox({"hosts": hosts})

    result = run_check(net, "http.https_redirect", "h0.shop.test")

    assert result.status == "fail"
    assert result.summary == "more than 10 redirects from http://h0.shop.test/"
    # The 11th redirect is seen and not followed: hops h0 … h10, never h11.
    assert [h["url"] for h in result.evidence["chain"]] == [f"http://h{i}.shop.test/" for i in range(11)]
    # 11 for the root; the deep link's first hop joins the same chain, which is not re-fetched.
    assert box.http.requests == 12


def test_ten_redirects_are_still_followed_to_the_end(sandbox):
    hosts = {f"h{i}.shop.test": {"http": redirect(f"http://h{i + 1}.shop.test/")} for i in range(9)}
    hosts["h9.shop.test"] = {"http": redirect("https://h9.shop.test/")}
    box, net = sandbox({"hosts": hosts})

    result = run_check(net, "http.https_redirect", "h0.shop.test")

    # Not capped: the chain ends in a page, but the first hop goes to another http:// URL.
    assert result.status == "warn"
    assert result.summary == "the first redirect goes to http://h1.shop.test/, another plain-HTTP URL"
    assert len(result.evidence["chain"]) == 11


def test_a_chain_that_goes_back_to_plain_http_fails(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"http": "redirect", "https": redirect("http://www.shop.test/")},
        "www.shop.test": {"http": "redirect"},
    }})

    result = run_check(net, "http.https_redirect", "shop.test")

    assert result.status == "fail"
    assert result.summary == "hop 2 goes back to plain HTTP: http://www.shop.test/"
    assert [h["url"] for h in result.evidence["chain"]] == [
        "http://shop.test/", "https://shop.test/", "http://www.shop.test/", "https://www.shop.test/",
    ]
    assert result.remediation == "Every redirect after the first https:// hop must stay on https://."


def test_nothing_listening_on_port_80_warns(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": False}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    address = box.addresses["www.shop.test"]
    assert result.status == "warn"
    assert result.summary == (
        "nothing answers on port 80 of www.shop.test: visitors typing the bare name get an error"
    )
    [hop] = result.evidence["chain"]
    assert (hop["error_kind"], hop["error"]) == ("connect", f"{address}:80: [Errno 111] Connection refused")
    assert box.http.requests == 0


def test_a_host_that_does_not_resolve_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})

    result = run_check(net, "http.https_redirect", "admin.shop.test")

    assert result.status == "error"
    assert result.summary == "could not test: admin.shop.test does not exist (NXDOMAIN)"
    assert result.evidence["chain"][0]["error_kind"] == "dns"
    assert net.counters()["connections_opened"] == 0


def test_a_redirect_to_a_non_http_scheme_fails(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": redirect("ftp://www.shop.test/")}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == "redirect to an unusable Location 'ftp://www.shop.test/'"


def test_a_redirect_to_https_where_nothing_listens_fails(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"https": False}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    address = box.addresses["www.shop.test"]
    assert result.status == "fail"
    assert result.summary == (
        f"the redirect leads to https://www.shop.test/, which does not answer: "
        f"{address}:443: [Errno 111] Connection refused"
    )
    assert result.evidence["chain"][-1]["error_kind"] == "connect"


def test_a_redirect_to_a_host_that_does_not_exist_fails(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": redirect("https://gone.shop.test/")}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == (
        "the redirect leads to https://gone.shop.test/, which does not answer: "
        "gone.shop.test does not exist (NXDOMAIN)"
    )


def test_a_redirect_into_a_private_network_cannot_be_followed_and_is_an_error(sandbox):
    box, net = sandbox({
        "dns": {"internal.shop.test": {"A": ["10.0.0.5"]}},
        "hosts": {"www.shop.test": {"http": redirect("https://internal.shop.test/")}},
    })

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert result.status == "error"
    assert result.summary == (
        "could not follow the redirect to https://internal.shop.test/: "
        "outbound policy refused 10.0.0.5: private"
    )
    # Only the first hops (the root's and the deep link's, asked at the same time), never 10.0.0.5:
    # two connections when the two overlap, one when a busy machine let the first end before the
    # second began (the connection is then reused).
    assert net.http.backend.connections_opened in (1, 2)


def test_a_redirect_to_https_with_an_expired_certificate_still_passes_here(sandbox):
    """The redirect is right; the certificate is tls.certificate's finding, not this one's."""
    box, net = sandbox({"hosts": {"www.shop.test": {"certificate": "expired"}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert (result.status, result.summary) == ("pass", "http://www.shop.test/ → 301 → https://www.shop.test/")
    assert result.evidence["chain"][-1]["error_kind"] == "tls"


DEEP = "http://www.shop.test/launch-ready/deep/link?lr=1&from=http"


def test_a_deep_link_redirected_to_the_home_page_warns_path_lost(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": redirect("https://www.shop.test/")}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert result.status == "warn"
    assert result.summary == f"path or query lost: {DEEP} arrives on https:// as https://www.shop.test/"
    assert result.evidence["deep"]["start"] == DEEP
    assert [h["url"] for h in result.evidence["deep"]["chain"]] == [DEEP, "https://www.shop.test/"]
    assert [h["url"] for h in result.evidence["chain"]] == ["http://www.shop.test/", "https://www.shop.test/"]


def test_a_deep_link_served_over_plain_http_fails_although_the_root_redirects(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": [
        route("/", 301, ("Location", "https://www.shop.test/")),
        route("/*", 200, body="<h1>an old page, still on http</h1>"),
    ]}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == f"{DEEP} answers 200 over plain HTTP instead of redirecting to https://"
    assert result.evidence["chain"][0]["status"] == 301
    assert result.evidence["deep"]["chain"][0]["status"] == 200


def test_three_redirects_keep_the_https_redirect_passing_and_make_redirect_hops_warn(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"https": redirect("https://fwd.shop.test/shop{path}")},
        "fwd.shop.test": {"https": [route("/shop/*", 301, ("Location", "https://www.shop.test/{rest}"))]},
        "www.shop.test": {},
    }})

    to_https = run_check(net, "http.https_redirect", "shop.test")
    hops = run_check(net, "http.redirect_hops", "shop.test")

    assert (to_https.status, to_https.metrics) == ("pass", {"hops": 3})
    assert to_https.evidence["deep"]["chain"][-1]["url"] == (
        "https://www.shop.test/launch-ready/deep/link?lr=1&from=http"
    )
    assert hops.status == "warn"
    assert hops.summary == (
        "http://shop.test/ takes 3 redirects (shop.test→shop.test→fwd.shop.test→www.shop.test); "
        "at most 2 are needed"
    )
    assert hops.metrics == {"hops": 3}


def test_two_redirects_pass(sandbox):
    box, net = sandbox({"hosts": {
        "shop.test": {"https": redirect("https://www.shop.test{path}")},
        "www.shop.test": {},
    }})

    result = run_check(net, "http.redirect_hops", "shop.test")

    assert (result.status, result.metrics) == ("pass", {"hops": 2})
    assert result.summary == "http://shop.test/ reaches https://www.shop.test/ in 2 redirects"


def test_redirect_hops_skips_a_chain_that_ends_in_no_page(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": False}}})

    result = run_check(net, "http.redirect_hops", "www.shop.test")

    address = box.addresses["www.shop.test"]
    assert result.status == "skipped"
    assert result.summary == (
        f"the redirects from http://www.shop.test/ do not end in a page "
        f"({address}:80: [Errno 111] Connection refused)"
    )


def test_a_waf_challenge_on_port_80_is_an_error_not_a_fail(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": [route(
        "/*", 403, ("Server", "cloudflare"), ("cf-mitigated", "challenge"),
        ("Content-Type", "text/html"), body="<title>Just a moment...</title>",
    )]}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert result.status == "error"
    assert result.summary == (
        "could not test: http://www.shop.test/ answered 403 from Cloudflare, which blocked the "
        "scanner (cf-mitigated: challenge)"
    )
    assert result.evidence["blocked_by"] == {"service": "Cloudflare", "marker": "cf-mitigated: challenge"}
    assert result.remediation.startswith("Allow the Launch Ready scanner through Cloudflare")


def test_the_sites_own_403_over_plain_http_is_still_a_fail(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"http": [route("/*", 403, body="Forbidden")]}}})

    result = run_check(net, "http.https_redirect", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == "http://www.shop.test/ answers 403 over plain HTTP instead of redirecting to https://"
