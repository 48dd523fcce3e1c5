"""Content checks of the edge stage: mixed content on the pages members open.

The page is parsed with libxml2's HTML parser through lxml (comments, attribute quoting and
character references handled as a browser does), never with a regex.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
import lxml.etree
import lxml.html

from checks.engine.checks.headers import csp_policies, parse_policy
from checks.engine.net.http import HttpExchange
from checks.engine.registry import Context, check, url_targets
from checks.engine.result import Impact, Result, Stage
from checks.engine.spec import ProjectSpec
from checks.engine.waf import blocked_result

PAGE_KINDS = ("homepage", "login", "feed", "profile", "content")
HTML_TYPES = ("text/html", "application/xhtml+xml")
UIR = "upgrade-insecure-requests"
# (tag, attribute) → blockable? W3C Mixed Content §4.1: only images, audio and video are
# upgradeable; every other request (scripts, styles, frames, plugins, forms, tracks) is blockable.
WATCHED: dict[str, tuple[tuple[str, bool], ...]] = {
    "script": (("src", True),),
    "link": (("href", True),),  # only the rels that fetch, see _link_blockable
    "iframe": (("src", True),),
    "frame": (("src", True),),
    "object": (("data", True),),
    "embed": (("src", True),),
    "track": (("src", True),),
    "form": (("action", True),),
    "button": (("formaction", True),),
    "input": (("formaction", True), ("src", False)),  # src only on type=image
    "img": (("src", False), ("srcset", False)),
    "audio": (("src", False),),
    "video": (("src", False), ("poster", False)),
    "source": (("src", False), ("srcset", False)),
}
FETCHING_RELS = ("stylesheet", "modulepreload", "preload", "icon", "apple-touch-icon")
MEDIA_DESTINATIONS = ("image", "audio", "video")
MAX_LISTED = 100
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))


@dataclass(frozen=True)
class Reference:
    """One subresource URL as written in the page: ``upgraded`` when a ``<meta>`` CSP with
    upgrade-insecure-requests came before it (a meta policy applies from where it appears)."""

    tag: str
    attribute: str
    value: str
    blockable: bool
    upgraded: bool


def srcset_urls(value: str) -> list[str]:
    """The URLs of a ``srcset`` attribute (WHATWG HTML "parse a srcset attribute"): candidates
    are separated by commas, but a URL may hold commas and descriptors may hold ``(…,…)``.
    ``"a.png 1x, b,c.png 2x"`` → ``["a.png", "b,c.png"]``."""
    urls, position, size = [], 0, len(value)
    while True:
        while position < size and (value[position].isspace() or value[position] == ","):
            position += 1
        if position >= size:
            return urls
        start = position
        while position < size and not value[position].isspace():
            position += 1
        url = value[start:position]
        if url.endswith(","):
            urls.append(url.rstrip(","))  # no descriptors: the comma ends the candidate
            continue
        urls.append(url)
        in_parens = False  # descriptors run to the next comma outside parentheses
        while position < size:
            char = value[position]
            if in_parens:
                in_parens = char != ")"
            elif char == "(":
                in_parens = True
            elif char == ",":
                break
            position += 1
        position += 1


_PARSER = lxml.html.HTMLParser(encoding="utf-8", recover=True, no_network=True, huge_tree=False)


class _Collector:
    """Collects the watched references, the first ``<base href>`` and meta-delivered CSP.

    The page is parsed by libxml2's HTML parser (lxml), which is linear in the page's size:
    the standard library's ``html.parser`` on Python < 3.11.13 takes quadratic time on
    unterminated tags (CVE-2025-6069), so a 60 KB hostile page held a check for a minute.
    """

    def __init__(self) -> None:
        self.base: str | None = None
        self.meta_upgrade = False
        self.references: list[Reference] = []

    def feed(self, html: str) -> None:
        # Bytes, so an XML declaration naming an encoding is no error; NUL is U+FFFD in HTML.
        data = html.replace("\x00", "\ufffd").encode("utf-8")
        if not data.strip():
            return
        try:
            root = lxml.html.document_fromstring(data, parser=_PARSER)
        except (lxml.etree.ParserError, ValueError):
            return  # nothing a browser would render either
        # A <template>'s content is inert (WHATWG HTML §4.12.3): nothing in it is fetched.
        # The set holds the elements themselves: lxml's proxies keep their identity only
        # while referenced, so ids of dropped proxies could be reused.
        inert = {e for t in root.iter("template") for e in t.iter() if e is not t}
        for element in root.iter():
            if isinstance(element.tag, str) and element not in inert:  # skip comments, PIs
                self.handle_starttag(element.tag.lower(), list(element.attrib.items()))

    def close(self) -> None:
        """Nothing to flush: ``feed`` parses the whole page at once."""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes: dict[str, str | None] = {}
        for name, value in attrs:  # the first of a repeated attribute counts
            attributes.setdefault(name.lower(), value)
        if tag == "base" and self.base is None and attributes.get("href") is not None:
            self.base = attributes["href"]
        if tag == "meta" and (attributes.get("http-equiv") or "").lower() == "content-security-policy":
            self.meta_upgrade |= UIR in parse_policy(attributes.get("content") or "")
        for attribute, blockable in WATCHED.get(tag, ()):
            value = attributes.get(attribute)
            if not value:  # absent, or an empty form action (the page itself)
                continue
            if tag == "link":
                blockable = _link_blockable(attributes)
                if blockable is None:
                    continue
            if tag == "input" and attribute == "src" and (attributes.get("type") or "").lower() != "image":
                continue
            for url in srcset_urls(value) if attribute == "srcset" else [value]:
                self.references.append(Reference(tag, attribute, url, blockable, self.meta_upgrade))


def _link_blockable(attributes: dict[str, str | None]) -> bool | None:
    """Whether a ``<link>`` fetches something blockable (True), an image (False), or nothing
    we judge (None: canonical, alternate, prefetch hints). Icons are images; a preload is
    judged by its ``as`` destination (W3C Mixed Content §4.1)."""
    rels = (attributes.get("rel") or "").lower().split()
    fetching = [r for r in rels if r in FETCHING_RELS]
    if not fetching:
        return None
    if all(r in ("icon", "apple-touch-icon") for r in fetching):
        return False
    if "preload" in fetching and len(fetching) == 1:
        return (attributes.get("as") or "").lower() not in MEDIA_DESTINATIONS
    return True


def _clean(url: str) -> str:
    """WHATWG URL parsing: leading/trailing C0 controls and spaces go, tabs and newlines too."""
    return _TAB_OR_NEWLINE.sub("", url).strip(_C0_OR_SPACE)


def _join(base: str, url: str) -> str | None:
    try:
        return urljoin(base, _clean(url))
    except ValueError:  # not a URL a browser can parse either, so nothing is fetched
        return None


def _base_url(page_url: str, href: str | None) -> str:
    """The document base URL: the first ``<base href>`` resolved against the page, unless it is
    not an http(s) URL (HTML: then the page's own URL)."""
    joined = _join(page_url, href) if href is not None else None
    return joined if joined and urlsplit(joined).scheme in ("http", "https") else page_url


def effective_content_type(fields: list[str]) -> str:
    """The MIME type a browser uses, per WHATWG Fetch "extract a MIME type": every
    Content-Type field combined and split on commas; the last value with a ``type/subtype``
    wins. ``""`` when there is none."""
    chosen = ""
    for field in fields:
        for value in field.split(","):
            essence = value.split(";")[0].strip()
            if re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+", essence):
                chosen = value.strip()
    return chosen


def _decode(body: bytes, content_type: str) -> str:
    charset = "utf-8"
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"') or charset
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return body.decode(charset, errors="replace")


def find_insecure(html: str, page_url: str, header_upgrade: bool) -> tuple[str, list[dict], bool]:
    """``(base URL, insecure references, meta upgrade-insecure-requests seen)`` of a page: every
    watched reference that resolves to an ``http://`` URL, as ``{tag, attribute, url, kind,
    upgraded}`` with ``kind`` ``blockable`` or ``upgradeable``."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    base = _base_url(page_url, collector.base)
    insecure = []
    for ref in collector.references:
        url = _join(base, ref.value)
        if url and urlsplit(url).scheme == "http":
            insecure.append({"tag": ref.tag, "attribute": ref.attribute, "url": url,
                             "kind": "blockable" if ref.blockable else "upgradeable",
                             "upgraded": header_upgrade or ref.upgraded})
    return base, insecure, collector.meta_upgrade


def canonical_links(response: HttpExchange) -> list[str]:
    """The canonical URLs a page declares, absolute: ``Link: <…>; rel="canonical"`` fields
    (RFC 8288 §3, parsed by httpx) then ``<link rel=canonical href>`` in the HTML ``<head>``
    (RFC 6596 §3). ``[]`` when it declares none.

    What no search engine follows is left out: a ``<link>`` outside ``<head>`` (canonical is
    not "body-ok", WHATWG HTML §4.2.4, §4.6.7; Google ignores it there) or in a ``<template>``
    (inert, §4.12.3), and a URL that is not ``http(s)://`` with a host (``javascript:``,
    ``data:``, ``mailto:``)."""
    links = []
    header = ", ".join(response.header_fields("link"))
    if header:
        parsed = httpx.Response(200, headers={"link": header}).links
        links += [link["url"] for rel, link in parsed.items() if "canonical" in rel.lower().split()]
    content_type = effective_content_type(response.header_fields("content-type"))
    if content_type.split(";")[0].strip().lower() in HTML_TYPES and response.body.strip():
        html = _decode(response.body, content_type).replace("\x00", "\ufffd").encode("utf-8")
        try:
            root = lxml.html.document_fromstring(html, parser=_PARSER)
        except (lxml.etree.ParserError, ValueError):
            root = None
        for element in root.iter("link") if root is not None else ():
            rels = (element.get("rel") or "").lower().split()
            ancestors = {a.tag for a in element.iterancestors()}
            in_head = "head" in ancestors and "template" not in ancestors
            if "canonical" in rels and element.get("href") and in_head:
                links.append(element.get("href"))
    joined = [url for link in links if (url := _join(response.url, link))]
    return [url for url in joined if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname]


@url_targets
def html_pages(project: ProjectSpec) -> list[str]:
    """Targets: GET homepage, login, feed, profile and content URLs (the preferred host if no homepage)."""
    urls = [e.url for e in project.endpoints if e.kind in PAGE_KINDS and e.method == "GET"]
    if not any(e.kind == "homepage" for e in project.endpoints):
        urls.insert(0, f"https://{project.preferred_host}/")
    return list(dict.fromkeys(urls))


def _count(references: list, noun: str) -> str:
    return f"{len(references)} {noun}{'' if len(references) == 1 else 's'}"


def _named(references: list[dict]) -> str:
    shown = ", ".join(f"{r['tag']} {r['url']}" for r in references[:3])
    return shown + (f" and {len(references) - 3} more" if len(references) > 3 else "")


@check(
    "http.mixed_content",
    stage=Stage.EDGE,
    impact=Impact.HIGH,
    title="No mixed content",
    targets=html_pages,
)
def mixed_content(target: str, ctx: Context) -> Result:
    """The HTTPS page loads no subresource over plain ``http://``.

    The HTML is parsed; each URL is resolved against the page and its first ``<base href>``.
    W3C Mixed Content §3: ``<script src>``, ``<link rel=stylesheet href>``, ``<iframe src>``
    and ``<form action>`` are blockable (browsers block them: the page breaks);
    ``<img src|srcset>``, ``<audio|video|source src>`` (and ``<source srcset>``) are
    upgradeable (browsers try https:// and drop them if that fails). An enforced
    ``Content-Security-Policy: upgrade-insecure-requests`` (W3C Upgrade Insecure Requests
    §4.1; in the header, or a ``<meta>`` before the reference) upgrades every request, so
    nothing it covers is mixed content; the evidence marks those ``upgraded``. Redirects are
    followed to the page (RFC 9110 §15.4); its Content-Type says whether it is HTML (§8.3).
    - fail: a blockable ``http://`` reference not upgraded.
    - warn: only upgradeable ``http://`` references not upgraded.
    - pass: none, or every one upgraded by upgrade-insecure-requests.
    - skipped: the response is not HTML (by its Content-Type).
    - error: the URL, or the page it redirects to, is not https:// ("not an https page"); the
      fetch failed; the redirects loop or never end.
    Metrics: ``blockable``, ``upgradeable`` (references not upgraded).
    """
    if urlsplit(target).scheme != "https":
        return Result.error(f"not an https page: {target} is served over plain HTTP", {"url": target},
                            remediation="Serve the page over HTTPS; its subresources then must be too.")
    chain = ctx.net.http.follow(target)
    response = chain.final
    if chain.end != "final":
        reason = response.error or f"the redirects from {target} end in a {chain.end.replace('_', ' ')}"
        return Result.error(f"could not test: {reason}", {"url": target, "chain": chain.as_evidence()})
    if urlsplit(response.url).scheme != "https":
        return Result.error(f"not an https page: {target} redirects to {response.url}",
                            {"url": target, "chain": chain.as_evidence()},
                            remediation="Keep every redirect of the page on https://.")
    content_type = effective_content_type(response.header_fields("content-type"))
    evidence: dict = {"url": target, "page": response.url, "status": response.status,
                      "content_type": content_type}
    if blocked := blocked_result(response, evidence):
        return blocked
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in HTML_TYPES:
        return Result.skipped(f"{target} is not an HTML page ({media_type or 'no Content-Type'})", evidence)
    header_upgrade = any(UIR in p for p in csp_policies(response.header_fields("content-security-policy")))
    html = _decode(response.body, content_type)
    base, insecure, meta_upgrade = find_insecure(html, response.url, header_upgrade)
    live = [r for r in insecure if not r["upgraded"]]
    blocked = [r for r in live if r["kind"] == "blockable"]
    evidence.update(
        base=base, upgrade_insecure_requests="header" if header_upgrade else "meta" if meta_upgrade else None,
        insecure=insecure[:MAX_LISTED], insecure_total=len(insecure), truncated=response.truncated,
    )
    metrics = {"blockable": len(blocked), "upgradeable": len(live) - len(blocked)}
    if blocked:
        return Result.fail(
            f"{_count(blocked, 'http:// subresource')} on {target} that browsers block: {_named(blocked)}",
            evidence, metrics=metrics,
            remediation="Load every script, stylesheet, frame and form target over https://.",
        )
    if live:
        return Result.warn(
            f"{_count(live, 'http:// image or media URL')} on {target} that browsers upgrade or drop: "
            f"{_named(live)}",
            evidence, metrics=metrics, remediation="Write https:// URLs for images, audio and video.",
        )
    if insecure:
        return Result.passed(f"{_count(insecure, 'http:// reference')} on {target}, upgraded to https:// "
                             "by upgrade-insecure-requests", evidence, metrics=metrics)
    return Result.passed(f"no http:// subresources on {target}", evidence, metrics=metrics)
