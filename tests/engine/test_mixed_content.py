"""http.mixed_content against real HTTPS pages, and the HTML and srcset parsing on its own."""

from __future__ import annotations

import pytest

from checks.engine.checks.content import find_insecure, html_pages, srcset_urls
from checks.engine.spec import ProjectSpec, endpoint_from
from tests.engine.support import route, run_check

PAGE = "https://www.shop.test/"
HTML = ("Content-Type", "text/html; charset=utf-8")


def _page(sandbox, body: str, *headers: tuple[str, str], url: str = PAGE, **spec):
    box, net = sandbox({"hosts": {
        "www.shop.test": {"https": [route("/*", 200, *(headers or (HTML,)), body=body)], **spec},
    }})
    return run_check(net, "http.mixed_content", url, apex="shop.test")


def _ref(tag, attribute, url, kind, upgraded=False) -> dict:
    return {"tag": tag, "attribute": attribute, "url": url, "kind": kind, "upgraded": upgraded}


def test_a_page_with_only_https_and_relative_subresources_passes(sandbox):
    result = _page(sandbox, '<script src="/app.js"></script><link rel=stylesheet href="//cdn.test/a.css">'
                            '<img src="https://img.test/a.png"><form method=post></form>')

    assert result.status == "pass"
    assert result.summary == "no http:// subresources on https://www.shop.test/"
    assert result.evidence == {
        "url": PAGE, "page": PAGE, "status": 200, "content_type": "text/html; charset=utf-8", "base": PAGE,
        "upgrade_insecure_requests": None, "insecure": [], "insecure_total": 0, "truncated": False,
    }
    assert result.metrics == {"blockable": 0, "upgradeable": 0}


def test_an_http_script_fails_as_blockable(sandbox):
    result = _page(sandbox, '<script src="http://cdn.test/app.js"></script><img src="http://img.test/a.png">')

    assert result.status == "fail"
    assert result.summary == (
        "1 http:// subresource on https://www.shop.test/ that browsers block: script http://cdn.test/app.js"
    )
    assert result.evidence["insecure"] == [
        _ref("script", "src", "http://cdn.test/app.js", "blockable"),
        _ref("img", "src", "http://img.test/a.png", "upgradeable"),
    ]
    assert result.metrics == {"blockable": 1, "upgradeable": 1}
    assert result.remediation == "Load every script, stylesheet, frame and form target over https://."


def test_stylesheets_frames_and_form_targets_are_blockable_too(sandbox):
    result = _page(sandbox, '<link rel="Preload Stylesheet" href="http://cdn.test/a.css">'
                            '<link rel=icon href="http://cdn.test/favicon.ico">'
                            '<iframe src="http://video.test/embed"></iframe>'
                            '<form action="http://www.shop.test/login"></form>')

    assert result.status == "fail"
    assert result.summary == (
        "3 http:// subresources on https://www.shop.test/ that browsers block: link http://cdn.test/a.css, "
        "iframe http://video.test/embed, form http://www.shop.test/login"
    )
    assert [(r["tag"], r["attribute"], r["kind"]) for r in result.evidence["insecure"]] == [
        ("link", "href", "blockable"), ("link", "href", "upgradeable"),  # an icon is an image
        ("iframe", "src", "blockable"), ("form", "action", "blockable"),
    ]


def test_plugins_tracks_module_preloads_and_form_buttons_are_blockable(sandbox):
    result = _page(sandbox, '<object data="http://cdn.test/a.swf"></object>'
                            '<embed src="http://cdn.test/b.swf">'
                            '<link rel=modulepreload href="http://cdn.test/m.js">'
                            '<link rel=preload as=font href="http://cdn.test/f.woff2">'
                            '<link rel=preload as=image href="http://cdn.test/hero.png">'
                            '<link rel=canonical href="http://www.shop.test/">'
                            '<video poster="http://cdn.test/p.jpg"><track src="http://cdn.test/t.vtt"></video>'
                            '<form><button formaction="http://www.shop.test/x">go</button>'
                            '<input type=image src="http://cdn.test/go.png"><input type=text src="http://x.test/">'
                            '</form>'
                            '<template><script src="http://cdn.test/inert.js"></script></template>')

    assert result.status == "fail"
    assert [(r["tag"], r["attribute"], r["kind"]) for r in result.evidence["insecure"]] == [
        ("object", "data", "blockable"), ("embed", "src", "blockable"),
        ("link", "href", "blockable"), ("link", "href", "blockable"), ("link", "href", "upgradeable"),
        ("video", "poster", "upgradeable"), ("track", "src", "blockable"),
        ("button", "formaction", "blockable"), ("input", "src", "upgradeable"),
    ]


def test_http_images_and_media_only_warn(sandbox):
    result = _page(sandbox, '<img srcset="http://img.test/a.png 1x, https://img.test/b.png 2x">'
                            '<video src="http://media.test/v.mp4"><source src="http://media.test/v.webm"></video>'
                            '<audio src="http://media.test/a.mp3"></audio>')

    assert result.status == "warn"
    assert result.summary == (
        "4 http:// image or media URLs on https://www.shop.test/ that browsers upgrade or drop: "
        "img http://img.test/a.png, video http://media.test/v.mp4, source http://media.test/v.webm and 1 more"
    )
    assert result.metrics == {"blockable": 0, "upgradeable": 4}
    assert result.remediation == "Write https:// URLs for images, audio and video."


def test_relative_urls_resolve_against_an_http_base_href(sandbox):
    result = _page(sandbox, '<head><base href="http://static.shop.test/v2/"></head>'
                            '<script src="app.js"></script>')

    assert result.status == "fail"
    assert result.evidence["base"] == "http://static.shop.test/v2/"
    assert result.evidence["insecure"] == [
        _ref("script", "src", "http://static.shop.test/v2/app.js", "blockable"),
    ]


def test_references_inside_comments_are_not_subresources(sandbox):
    result = _page(sandbox, '<!-- <script src="http://cdn.test/old.js"></script> --><p>hi</p>')

    assert result.status == "pass"


def test_upgrade_insecure_requests_in_the_header_upgrades_every_reference(sandbox):
    result = _page(sandbox, '<img src="http://img.test/a.png"><script src="http://cdn.test/app.js"></script>',
                   HTML, ("Content-Security-Policy", "upgrade-insecure-requests; default-src https:"))

    assert result.status == "pass"
    assert result.summary == (
        "2 http:// references on https://www.shop.test/, upgraded to https:// by upgrade-insecure-requests"
    )
    assert result.evidence["upgrade_insecure_requests"] == "header"
    assert result.evidence["insecure"] == [
        _ref("img", "src", "http://img.test/a.png", "upgradeable", True),
        _ref("script", "src", "http://cdn.test/app.js", "blockable", True),
    ]


def test_a_meta_upgrade_covers_only_what_comes_after_it(sandbox):
    result = _page(sandbox, '<script src="http://cdn.test/early.js"></script>'
                            '<meta http-equiv="Content-Security-Policy" content="upgrade-insecure-requests">'
                            '<script src="http://cdn.test/late.js"></script>')

    assert result.status == "fail"
    assert result.summary == (
        "1 http:// subresource on https://www.shop.test/ that browsers block: script http://cdn.test/early.js"
    )
    assert result.evidence["upgrade_insecure_requests"] == "meta"
    assert [r["upgraded"] for r in result.evidence["insecure"]] == [False, True]


def test_a_json_response_is_skipped(sandbox):
    result = _page(sandbox, '{"avatar": "http://img.test/a.png"}', ("Content-Type", "application/json"))

    assert result.status == "skipped"
    assert result.summary == "https://www.shop.test/ is not an HTML page (application/json)"


def test_a_plain_http_page_is_an_error_without_a_request(sandbox):
    result = _page(sandbox, "<p>hi</p>", url="http://www.shop.test/")

    assert result.status == "error"
    assert result.summary == "not an https page: http://www.shop.test/ is served over plain HTTP"
    assert result.evidence == {"url": "http://www.shop.test/"}


def test_a_redirect_is_followed_to_the_page(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"https": [
        route("/", 302, ("Location", "/en/")),
        route("/en/", 200, HTML, body='<img src="http://img.test/a.png">'),
    ]}}})

    result = run_check(net, "http.mixed_content", PAGE, apex="shop.test")

    assert result.status == "warn"
    assert result.evidence["page"] == "https://www.shop.test/en/"


def test_a_redirect_down_to_plain_http_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {
        "https": [route("/*", 301, ("Location", "http://www.shop.test/plain"))],
        "http": [route("/*", 200, HTML, body="<p>plain</p>")],
    }}})

    result = run_check(net, "http.mixed_content", PAGE, apex="shop.test")

    assert result.status == "error"
    assert result.summary == "not an https page: https://www.shop.test/ redirects to http://www.shop.test/plain"


def test_a_tls_failure_is_an_error(sandbox):
    result = _page(sandbox, "<p>hi</p>", certificate="expired")

    assert result.status == "error"
    assert result.summary == "could not test: TLS failed: certificate verify failed: certificate has expired"


def test_a_redirect_loop_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"https": [route("/*", 301, ("Location", "/"))]}}})

    result = run_check(net, "http.mixed_content", PAGE, apex="shop.test")

    assert result.status == "error"
    assert result.summary == "could not test: the redirects from https://www.shop.test/ end in a loop"


def test_the_pages_checked_are_get_endpoints_of_page_kinds_plus_the_preferred_host():
    project = ProjectSpec(name="p", apex="shop.test", preferred_host="www.shop.test", endpoints=(
        endpoint_from("login", "GET", "https://app.shop.test/login"),
        endpoint_from("login", "POST", "https://app.shop.test/session"),
        endpoint_from("feed", "GET", "https://api.shop.test/feed"),
        endpoint_from("health", "GET", "https://api.shop.test/health"),
    ))

    assert html_pages(project) == [
        "https://www.shop.test/", "https://app.shop.test/login", "https://api.shop.test/feed",
    ]


def test_a_listed_homepage_replaces_the_preferred_host():
    project = ProjectSpec(name="p", apex="shop.test", endpoints=(
        endpoint_from("homepage", "GET", "https://shop.test/home"),
    ))

    assert html_pages(project) == ["https://shop.test/home"]


# Parsing


@pytest.mark.parametrize(
    ("srcset", "urls"),
    [
        ("a.png", ["a.png"]),
        ("a.png 1x, b.png 2x", ["a.png", "b.png"]),
        ("a.png,b.png", ["a.png,b.png"]),  # no space after the comma: one URL holding a comma
        ("a.png, b.png", ["a.png", "b.png"]),
        ("https://i.test/w_100,h_50/a.png 100w, b.png 200w", ["https://i.test/w_100,h_50/a.png", "b.png"]),
        ("a.png (x, y) 1x, b.png", ["a.png", "b.png"]),
        (" , ", []),
    ],
)
def test_srcset_urls_follow_the_html_algorithm(srcset, urls):
    assert srcset_urls(srcset) == urls


def test_url_whitespace_and_character_references_are_handled_like_a_browser():
    base, insecure, meta = find_insecure(
        '<script src=" ht\ttp://cdn.test/a.js "></script><img src="&#104;ttp://img.test/b.png">', PAGE, False,
    )

    assert [r["url"] for r in insecure] == ["http://cdn.test/a.js", "http://img.test/b.png"]


def test_a_base_href_that_is_not_http_is_ignored():
    base, insecure, meta = find_insecure('<base href="javascript:alert(1)"><img src="a.png">', PAGE, False)

    assert (base, insecure) == (PAGE, [])


def test_a_page_of_unterminated_tags_gets_its_verdict_without_quadratic_parsing(sandbox):
    """300 KB of '<a ' took html.parser minutes on Python 3.11.7 (CVE-2025-6069); the check
    must answer like any other page."""
    box, net = sandbox({"hosts": {"www.shop.test": {"https": [
        {"path": "/", "headers": [["Content-Type", "text/html"]], "body": "<a " * 100_000},
    ]}}})

    result = run_check(net, "http.mixed_content", "https://www.shop.test/", apex="shop.test")

    assert result.status == "pass"


def test_the_last_content_type_wins_as_browsers_read_it(sandbox):
    """WHATWG Fetch, extract a MIME type: text/plain then text/html is an HTML page."""
    box, net = sandbox({"hosts": {"www.shop.test": {"https": [
        {"path": "/", "body": '<script src="http://cdn.test/x.js"></script>',
         "headers": [["Content-Type", "text/plain"], ["Content-Type", "text/html; charset=utf-8"]]},
    ]}}})

    result = run_check(net, "http.mixed_content", "https://www.shop.test/", apex="shop.test")

    assert result.status == "fail"
    assert result.evidence["content_type"] == "text/html; charset=utf-8"
