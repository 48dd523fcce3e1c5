"""Exposed files of the hardening stage: ``/.env``, ``/.git/``, source maps and debug pages.

Every verdict is taken from what the server sends, never from the status alone: a single-page
app answers ``200`` with its HTML shell for every path, and that is no exposure; a ``.env``
served as ``404`` with its lines is one. Values read from a ``.env`` or a git config never
reach the evidence: only key names and section headers do.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from checks.engine.checks.content import HTML_TYPES, PAGE_KINDS, effective_content_type
from checks.engine.debug_pages import find_debug_page
from checks.engine.net.http import HttpExchange
from checks.engine.parallel import parallel_map
from checks.engine.registry import Context, check, every_host
from checks.engine.result import Impact, Result, Stage
from checks.engine.text import first_few
from checks.engine.waf import blocked_result

ENV_PATH, GIT_HEAD_PATH, GIT_CONFIG_PATH = "/.env", "/.git/HEAD", "/.git/config"
DEBUG_PROBE_PREFIX = "/launch-ready-debug-probe-"
MAX_SCRIPTS = 10  # same-site scripts fetched per host: a page may list hundreds
MAX_SHOWN = 10  # keys, sections or sources listed in the evidence
# dotenv syntax: KEY=value, optionally after "export " (motdotla/dotenv, python-dotenv).
_ENV_LINE = re.compile(r"^(?:export\s+)?([A-Z_][A-Z0-9_]*)=", re.M)
MIN_ENV_LINES = 2
# git's HEAD is a symbolic ref or a detached commit id (gitrepository-layout(5), "HEAD").
_GIT_HEAD = re.compile(r"^(ref: refs/\S+|[0-9a-f]{40}|[0-9a-f]{64})\s*$")
_GIT_SECTION = re.compile(r"^\s*\[[^\]\n]+\]", re.M)
# Source Map spec (ECMA-426 §11.1): "//# sourceMappingURL=<url>" ("//@" is the old form).
_MAP_COMMENT = re.compile(rb"//[#@][ \t]*sourceMappingURL[ \t]*=[ \t]*(\S+)")
_MAP_HEADERS = ("sourcemap", "x-sourcemap")
_XSSI_PREFIX = b")]}'"  # ECMA-426 §11.1.1: a map may start with it; readers skip the line
_PARSER = lxml.html.HTMLParser(encoding="utf-8", recover=True, no_network=True, huge_tree=False)


@dataclass
class Findings:
    """What the probes of one host found: ``exposed`` entries (``{kind, url, status, …}``),
    ``untested`` reasons, and the block ``Result`` of the first WAF answer, if any."""

    exposed: list[dict] = field(default_factory=list)
    untested: list[dict] = field(default_factory=list)
    checked: list[dict] = field(default_factory=list)
    blocked: Result | None = None

    def merge(self, other: Findings) -> None:
        self.exposed += other.exposed
        self.untested += other.untested
        self.checked += other.checked
        self.blocked = self.blocked or other.blocked


def env_keys(body: bytes) -> list[str]:
    """The keys of a dotenv file, in order, when ``body`` is one (at least ``MIN_ENV_LINES``
    lines ``KEY=value``, not an HTML page), else ``[]``. Values are never returned."""
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith("<"):
        return []
    keys = _ENV_LINE.findall(text)
    return list(dict.fromkeys(keys)) if len(keys) >= MIN_ENV_LINES else []


def git_head(body: bytes) -> str | None:
    """The first line of a git ``HEAD`` file (``ref: refs/heads/main`` or a commit id) when
    ``body`` is one, else ``None``."""
    first = body[:512].decode("utf-8", "replace").splitlines()[:1]
    return first[0].strip() if first and _GIT_HEAD.match(first[0]) else None


def git_config_sections(body: bytes) -> list[str]:
    """The section headers of a git ``config`` file (``[core]``, ``[remote "origin"]``) when
    ``body`` is one — it has a ``[core]`` section, git-config(1) — else ``[]``. Only headers:
    a remote URL may carry a token."""
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith("<"):
        return []
    sections = [s.strip() for s in _GIT_SECTION.findall(text)]
    return sections if "[core]" in sections else []


def map_sources(body: bytes, truncated: bool) -> list[str] | None:
    """The ``sources`` of a source map (ECMA-426 §4: a JSON object with a ``sources`` array)
    when ``body`` is one, else ``None``. A map cut at the body cap cannot be parsed: it counts
    when it opens as a JSON object naming ``"sources"`` (then ``[]``: not listed)."""
    data = _map_json(body)
    if not data.startswith(b"{"):
        return None
    if truncated:
        return [] if b'"sources"' in data else None
    sources = (map_object(body) or {}).get("sources")
    return [str(s) for s in sources] if isinstance(sources, list) else None


def map_object(body: bytes) -> dict | None:
    """The JSON object of a whole source map (its XSSI prefix skipped), else ``None``."""
    try:
        parsed = json.loads(_map_json(body))
    except (ValueError, RecursionError):  # RecursionError: a hostile map nested very deep
        return None
    return parsed if isinstance(parsed, dict) else None


def _map_json(body: bytes) -> bytes:
    data = body[len(_XSSI_PREFIX):].split(b"\n", 1)[-1] if body.startswith(_XSSI_PREFIX) else body
    return data.lstrip()


def script_urls(html: bytes, page_url: str) -> list[str]:
    """The absolute ``<script src>`` URLs of a page, in order, resolved against its first
    ``<base href>`` (WHATWG HTML "document base URL"); http(s) only."""
    return asset_urls(html, page_url, ("script",))


# (tag, attribute naming the URL); a <link> counts only with rel="stylesheet".
ASSET_ATTRIBUTES = {"script": "src", "link": "href", "img": "src"}


def asset_urls(html: bytes, page_url: str, tags: tuple[str, ...] = ("script", "link", "img")) -> list[str]:
    """The absolute URLs a page loads through ``tags`` (``<script src>``, ``<link
    rel=stylesheet href>``, ``<img src>``), in document order, resolved like ``script_urls``."""
    data = html.replace(b"\x00", b"")
    if not data.strip():
        return []
    try:
        root = lxml.html.document_fromstring(data, parser=_PARSER)
    except (lxml.etree.ParserError, ValueError):
        return []
    base = next((b.get("href") for b in root.iter("base") if b.get("href")), None)
    base_url = _join(page_url, base) if base else page_url
    if not base_url or urlsplit(base_url).scheme not in ("http", "https"):
        base_url = page_url
    found = [e for e in root.iter(*tags) if e.get(ASSET_ATTRIBUTES[e.tag])
             and (e.tag != "link" or "stylesheet" in (e.get("rel") or "").lower().split())]
    urls = [_join(base_url, e.get(ASSET_ATTRIBUTES[e.tag]).strip()) for e in found]
    return list(dict.fromkeys(u for u in urls if u and urlsplit(u).scheme in ("http", "https")))


def _join(base: str, url: str) -> str | None:
    try:
        return urljoin(base, url)
    except ValueError:
        return None


def same_site(url: str, host: str, apex: str) -> bool:
    """``url``'s host is ``host``, the project's apex or a name under the apex."""
    name = (urlsplit(url).hostname or "").lower()
    return name == host or (bool(apex) and (name == apex or name.endswith("." + apex)))


def get_final(ctx: Context, url: str, found: Findings) -> HttpExchange | None:
    """The final response of ``url`` (redirects followed, each hop through the policy), or
    ``None`` after recording why it could not be read (error, loop, WAF block)."""
    chain = ctx.net.http.follow(url)
    response = chain.final
    if chain.end != "final":
        reason = response.error or f"the redirects from {url} end in a {chain.end.replace('_', ' ')}"
        found.untested.append({"url": url, "reason": reason, "chain": chain.as_evidence()})
        return None
    if blocked := blocked_result(response, {"url": url, "status": response.status}):
        found.untested.append({"url": url, "reason": blocked.summary})
        found.blocked = found.blocked or blocked
        return None
    return response


def seen_entry(url: str, response: HttpExchange) -> dict:
    seen = {"url": url, "status": response.status}
    if response.url != url:
        seen["final_url"] = response.url
    return seen


def _judge_file(url: str, response: HttpExchange) -> dict | None:
    """The exposure ``response`` to ``url`` is (a .env, git HEAD, git config), else ``None``."""
    path = urlsplit(url).path
    entry = seen_entry(url, response)
    if path == ENV_PATH and (keys := env_keys(response.body)):
        return {"kind": "env", **entry, "keys": keys[:MAX_SHOWN], "key_count": len(keys),
                "first_bytes": [f"{k}=[redacted]" for k in keys[:3]]}
    if path == GIT_HEAD_PATH and (head := git_head(response.body)):
        return {"kind": "git_head", **entry, "first_bytes": head[:80]}
    if path == GIT_CONFIG_PATH and (sections := git_config_sections(response.body)):
        return {"kind": "git_config", **entry, "sections": sections[:MAX_SHOWN]}
    return None


def _probe_path(ctx: Context, url: str) -> Findings:
    """One probe URL judged as a file (by its path) and as a possible debug page."""
    found = Findings()
    response = get_final(ctx, url, found)
    if response is None:
        return found
    exposure = _judge_file(url, response)
    debug = find_debug_page(response.body)
    if exposure:
        found.exposed.append(exposure)
    elif debug:
        found.exposed.append({"kind": "debug_page", **seen_entry(url, response),
                              "framework": debug.framework, "fingerprint": list(debug.all_of)})
    else:
        found.checked.append(seen_entry(url, response))
    return found


def _one_per_debug_page(exposed: list[dict]) -> list[dict]:
    """A debug page answering every path is one exposure: the first URL keeps the entry, the
    others are listed in its ``also_at``."""
    kept: list[dict] = []
    first: dict[str, dict] = {}
    for entry in exposed:
        if entry["kind"] != "debug_page":
            kept.append(entry)
        elif entry["framework"] in first:
            first[entry["framework"]].setdefault("also_at", []).append(entry["url"])
        else:
            first[entry["framework"]] = entry
            kept.append(entry)
    return kept


def page_urls(target: str, ctx: Context) -> list[str]:
    """``https://target/`` and the project's GET page endpoints (``PAGE_KINDS``) on ``target``."""
    pages = [f"https://{target}/"]
    pages += [e.url for e in ctx.project.endpoints
              if e.kind in PAGE_KINDS and e.method == "GET" and e.host == target]
    return list(dict.fromkeys(pages))


def fetch_pages(target: str, ctx: Context, found: Findings) -> list[HttpExchange]:
    """The final responses of ``page_urls(target)``, each recorded in ``found.checked`` (or in
    ``found.untested`` when it could not be read)."""
    pages = []
    for page in page_urls(target, ctx):
        response = get_final(ctx, page, found)
        if response is not None:
            found.checked.append(seen_entry(page, response))
            pages.append(response)
    return pages


def same_site_scripts(pages: list[HttpExchange], target: str, apex: str) -> list[str]:
    """The same-site ``<script src>`` URLs of the HTML ``pages`` (by Content-Type), in order,
    at most ``MAX_SCRIPTS``."""
    scripts: list[str] = []
    for response in pages:
        media = effective_content_type(response.header_fields("content-type")).split(";")[0].strip()
        if media.lower() in HTML_TYPES:
            scripts += [s for s in script_urls(response.body, response.url) if same_site(s, target, apex)]
    return list(dict.fromkeys(scripts))[:MAX_SCRIPTS]


def source_map_url(script: HttpExchange) -> str | None:
    """The script's source map URL: the ``SourceMap`` header (ECMA-426 §11.1.2) wins over the
    last ``sourceMappingURL`` comment; ``data:`` URLs (inline maps) are not fetched."""
    values = [v for name in _MAP_HEADERS for v in script.header_fields(name)]
    comments = _MAP_COMMENT.findall(script.body)
    raw = values[0] if values else comments[-1].decode("utf-8", "replace") if comments else None
    url = _join(script.url, raw.strip()) if raw else None
    return url if url and urlsplit(url).scheme in ("http", "https") else None


def _probe_source_maps(target: str, ctx: Context, found: Findings) -> None:
    for script_url in same_site_scripts(fetch_pages(target, ctx, found), target, ctx.project.apex):
        script = get_final(ctx, script_url, found)
        if script is None:
            continue
        found.checked.append(seen_entry(script_url, script))
        map_url = source_map_url(script)
        if map_url is None:
            continue
        response = get_final(ctx, map_url, found)
        if response is None:
            continue
        sources = map_sources(response.body, response.truncated)
        if sources is None:
            found.checked.append(seen_entry(map_url, response))
            continue
        found.exposed.append({"kind": "source_map", **seen_entry(map_url, response), "script": script_url,
                              "sources": sources[:MAX_SHOWN], "source_count": len(sources),
                              "truncated": response.truncated})


def _phrase(entry: dict) -> str:
    url = entry["url"]
    if entry["kind"] == "env":
        return f"{url} serves a .env file ({entry['key_count']} keys: {first_few(entry['keys'])})"
    if entry["kind"] == "git_head":
        return f"{url} serves the repository's HEAD ({entry['first_bytes']})"
    if entry["kind"] == "git_config":
        return f"{url} serves the repository's config ({first_few(entry['sections'])})"
    if entry["kind"] == "source_map":
        count = f"{entry['source_count']} sources" if entry["source_count"] else "sources"
        return f"{url} serves the source map of {entry['script']} ({count})"
    return f"{url} shows the {entry['framework']}"


_FIXES = {
    "env": "Remove .env from the web root (keep it outside the document root) and rotate every "
           "key it holds: it has been public.",
    "git_head": "Deny /.git/ in the web server (or deploy a build without the .git folder); "
                "the whole history, with any secret ever committed, can be downloaded.",
    "git_config": "Deny /.git/ in the web server (or deploy a build without the .git folder); "
                  "rotate any token in a remote URL.",
    "source_map": "Stop publishing source maps in production (upload them to the error tracker "
                  "instead), or serve them only to your own network.",
    "debug_page": "Turn debug mode off in production (Django DEBUG = False, Flask/Werkzeug "
                  "debug off, Laravel APP_DEBUG=false, Rails config.consider_all_requests_local "
                  "= false).",
}


@check(
    "hardening.exposed_files",
    stage=Stage.HARDENING,
    impact=Impact.BLOCKER,
    title="No exposed .env, .git, source maps or debug pages",
    targets=every_host,
    timeout_s=60.0,
)
def exposed_files(target: str, ctx: Context) -> Result:
    """``https://host/`` serves no ``.env``, no ``.git/``, no source maps and no debug page.

    Judged by content, never by status (a single-page app answers 200 HTML for every path);
    redirects are followed (RFC 9110 §15.4), each hop through the outbound policy; bodies are
    capped; a page's type is its Content-Type (RFC 9110 §8.3).
    - ``/.env``: at least two dotenv lines ``KEY=value`` (``^[A-Z_][A-Z0-9_]*=``) and not HTML.
    - ``/.git/HEAD``: ``ref: refs/…`` or a commit id (gitrepository-layout(5)).
    - ``/.git/config``: a ``[core]`` section (git-config(1)).
    - source maps: each same-site ``<script src>`` of the homepage and the host's page
      endpoints (at most 10), its ``SourceMap`` header or last ``sourceMappingURL`` comment
      (ECMA-426 §11.1), and the map answering a JSON object with ``sources`` (§4).
    - debug pages: a path that cannot exist (``/launch-ready-debug-probe-<random>``) and the
      file probes, matched against the fingerprints in ``checks/engine/debug_pages.py``
      (Django, Werkzeug, Laravel Whoops/Ignition, Rails).
    Evidence: each exposure's URL, status and first bytes redacted — a ``.env``'s keys only,
    a git config's section headers only, never a value.
    - fail: any exposure (summary names each).
    - error: no exposure found but a probe could not be read (DNS, TLS, timeout, redirect loop,
      WAF block): never a pass untested.
    - pass: every probe answered and none exposes anything.
    """
    base = f"https://{target}"
    probes = [base + DEBUG_PROBE_PREFIX + secrets.token_hex(8),
              base + ENV_PATH, base + GIT_HEAD_PATH, base + GIT_CONFIG_PATH]
    found = Findings()
    # The probes' waits overlap; their findings are merged in the probes' order.
    for probed in parallel_map(lambda url: _probe_path(ctx, url), probes, name="lr-exposed"):
        found.merge(probed)
    found.exposed = _one_per_debug_page(found.exposed)
    _probe_source_maps(target, ctx, found)
    evidence = {"exposed": found.exposed, "untested": found.untested, "checked": found.checked}
    metrics = {"exposed": len(found.exposed), "untested": len(found.untested)}
    if found.exposed:
        kinds = list(dict.fromkeys(e["kind"] for e in found.exposed))
        phrases = [_phrase(e) for e in found.exposed]
        return Result.fail(first_few(phrases, separator="; "), evidence, metrics=metrics,
                           remediation=" ".join(_FIXES[k] for k in kinds))
    if found.blocked is not None:
        found.blocked.evidence.update(evidence)
        found.blocked.metrics = metrics
        return found.blocked
    if found.untested:
        # One cause (no DNS, an expired certificate) usually stops every probe: say it once.
        reasons = list(dict.fromkeys(u["reason"] for u in found.untested))
        return Result.error(f"could not test: {first_few(reasons, separator='; ')}", evidence,
                            metrics=metrics)
    return Result.passed(f"{len(found.checked)} URLs of {target} answered; none exposes a .env, "
                         ".git, source map or debug page", evidence, metrics=metrics)
