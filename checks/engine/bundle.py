"""A host's deployed client bundle, fetched and bounded: what ``hardening.secrets_bundle`` scans.

The bundle of a host is what every visitor's browser receives: the HTML of its root and of the
project's page endpoints on it, the same-site scripts those pages load (at most
``exposed.MAX_SCRIPTS``), and the ``sourcesContent`` of those scripts' source maps (ECMA-426
§4: the original sources, when the map embeds them). Page and script discovery is
``hardening.exposed_files``' own (``checks/engine/checks/exposed.py``), and the HTTP client
memoises GETs, so both checks fetch each URL once per audit.

Bounds: each response is capped at the profile's ``max_body_bytes`` (2 MB by default); the
texts of one host are scanned up to ``MAX_SCAN_CHARS`` in all (a 2 MB one-line bundle takes
detect-secrets 6 to 24 s); string literals hashed for the environment-fingerprint match are
``MIN_LITERAL_CHARS``..``MAX_LITERAL_CHARS`` long, at most ``MAX_LITERALS`` per host. What is
left out is listed (``not_scanned``), never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from checks.engine.checks.exposed import (
    Findings,
    fetch_pages,
    get_final,
    map_object,
    same_site_scripts,
    seen_entry,
    source_map_url,
)
from checks.engine.net.http import HttpExchange
from checks.engine.registry import Context

MAX_SCAN_CHARS = 4_000_000  # per host: 25–50 s of detect-secrets on minified code
MIN_LITERAL_CHARS, MAX_LITERAL_CHARS = 8, 512
MAX_LITERALS = 100_000  # per host; hashing them all takes well under a second
# JavaScript string literals: "…" and '…' (ending before a line break) and templates `…`, escape
# pairs skipped. Each is matched whole whatever its length, so a long one does not shift which
# quote opens the next; a quote never closed takes the rest of its line (the last alternative),
# so no stretch is read twice: linear in the text. A tokenizer, not a parser: a quote inside a
# regular-expression literal or a comment can shift the literals after it on that line.
_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"|'
                      r"'((?:[^'\\\n]|\\.)*)'|"
                      r"`((?:[^`\\]|\\.)*)`|"
                      r"[\"'`][^\n]*")
_TEMPLATE = 3  # the group of a template literal

PAGE, SCRIPT, MAP_SOURCE = "page", "script", "map_source"


@dataclass(frozen=True)
class BundleText:
    """One text of the bundle: its ``url`` (for a map source, the map's URL), ``kind``
    (``page``, ``script`` or ``map_source``), ``source`` (the map's ``sources`` entry for a map
    source, else ``""``) and the ``text`` itself (UTF-8 decoded, invalid bytes replaced)."""

    url: str
    kind: str
    text: str
    source: str = ""

    def place(self, offset: int) -> dict:
        """Where character ``offset`` of the text is, for evidence: ``{"url", "offset"}`` with
        the UTF-8 byte offset in the response body for a page or script; ``{"url", "source",
        "line", "column"}`` (1-based) for a map source."""
        if self.kind != MAP_SOURCE:
            return {"url": self.url, "offset": len(self.text[:offset].encode("utf-8"))}
        line_start = self.text.rfind("\n", 0, offset) + 1
        return {"url": self.url, "source": self.source, "line": self.text.count("\n", 0, offset) + 1,
                "column": offset - line_start + 1}

    @staticmethod
    def phrase(place: dict) -> str:
        """``"https://x/app.js at byte 120"`` or ``"https://x/app.js.map (src/a.ts 3:15)"``."""
        if "source" in place:
            return f"{place['url']} ({place['source']} {place['line']}:{place['column']})"
        return f"{place['url']} at byte {place['offset']}"


@dataclass
class Bundle:
    """What was fetched for a host: ``texts`` to scan (within the budget), ``scanned`` (one
    entry per URL: ``{"url", "kind", "bytes"}``, map entries with ``sources``), ``not_scanned``
    (``{"url", "reason"}``: cut at the body cap or over the budget), and ``found`` — the
    exposed-files accumulator holding what could not be read (``untested``, ``blocked``)."""

    texts: list[BundleText] = field(default_factory=list)
    scanned: list[dict] = field(default_factory=list)
    not_scanned: list[dict] = field(default_factory=list)
    found: Findings = field(default_factory=Findings)
    chars: int = 0

    def add(self, text: BundleText, entry: dict, budget_chars: int) -> None:
        """Keep ``text`` if the budget allows (else record it under ``not_scanned``)."""
        if self.chars + len(text.text) > budget_chars:
            self.not_scanned.append({"url": text.url, **({"source": text.source} if text.source else {}),
                                     "reason": f"over the {budget_chars}-character scan budget"})
            return
        self.chars += len(text.text)
        self.texts.append(text)
        entry.setdefault("bytes", 0)
        entry["bytes"] += len(text.text.encode("utf-8"))

    def add_response(self, response: HttpExchange, kind: str, budget_chars: int) -> None:
        entry = {"url": response.url, "kind": kind}
        self.scanned.append(entry)
        self.add(BundleText(response.url, kind, _decoded(response.body)), entry, budget_chars)
        if response.truncated:
            self.not_scanned.append({"url": response.url, "reason": f"cut at {len(response.body)} bytes"})


def collect(target: str, ctx: Context, budget_chars: int = MAX_SCAN_CHARS) -> Bundle:
    """The bundle of ``target``: its pages (``exposed.page_urls``), their same-site scripts and
    the embedded sources of those scripts' maps, in that order; redirects followed through the
    outbound policy, failures recorded in ``bundle.found``. Never raises for network trouble."""
    bundle = Bundle()
    pages = fetch_pages(target, ctx, bundle.found)
    for page in pages:
        bundle.add_response(page, PAGE, budget_chars)
    for script_url in same_site_scripts(pages, target, ctx.project.apex):
        script = get_final(ctx, script_url, bundle.found)
        if script is None:
            continue
        bundle.found.checked.append(seen_entry(script_url, script))
        bundle.add_response(script, SCRIPT, budget_chars)
        _add_map(ctx, script, bundle, budget_chars)
    return bundle


def _add_map(ctx: Context, script: HttpExchange, bundle: Bundle, budget_chars: int) -> None:
    """The embedded sources of ``script``'s source map, when it has one that parses."""
    url = source_map_url(script)
    response = get_final(ctx, url, bundle.found) if url else None
    if response is None:
        return
    parsed = None if response.truncated else map_object(response.body)
    contents = parsed.get("sourcesContent") if parsed else None
    if response.truncated and response.body.lstrip().startswith((b"{", b")]}'")):
        reason = f"source map cut at {len(response.body)} bytes"
        bundle.not_scanned.append({"url": response.url, "reason": reason})
    if not isinstance(contents, list):
        return
    names = parsed.get("sources") if isinstance(parsed.get("sources"), list) else []
    entry = {"url": response.url, "kind": "source_map", "sources": 0}
    bundle.scanned.append(entry)
    for index, content in enumerate(contents):
        if isinstance(content, str) and content:
            name = str(names[index]) if index < len(names) else f"sources[{index}]"
            entry["sources"] += 1
            bundle.add(BundleText(response.url, MAP_SOURCE, content, name), entry, budget_chars)


def _decoded(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def string_literals(text: str) -> Iterator[tuple[int, str]]:
    """``(offset, body)`` of every JavaScript string literal in ``text``, escapes as written; a
    template holding ``${…}`` is skipped (its value is not in the text)."""
    for match in _LITERAL.finditer(text):
        group = match.lastindex
        if group is None or (group == _TEMPLATE and "${" in match.group(group)):
            continue
        yield match.start() + 1, match.group(group)


def literals(text: str) -> Iterator[tuple[int, str]]:
    """``(offset, value)`` of each JavaScript string literal of ``MIN_LITERAL_CHARS`` to
    ``MAX_LITERAL_CHARS`` characters in ``text``: the value as written and, when it holds
    escapes, also as decoded (JSON string escapes; ``\\'`` → ``'``), since a build tool writes
    an environment value with ``JSON.stringify``."""
    for offset, raw in string_literals(text):
        if not MIN_LITERAL_CHARS <= len(raw) <= MAX_LITERAL_CHARS:
            continue
        yield offset, raw
        if "\\" in raw:
            try:
                decoded = json.loads('"' + raw.replace("\\'", "'").replace("\\`", "`") + '"')
            except ValueError:
                continue
            if decoded != raw:
                yield offset, decoded


def match_fingerprints(texts: list[BundleText], fingerprints: dict[str, list[str]],
                       max_literals: int = MAX_LITERALS) -> tuple[list[dict], int, bool]:
    """Places where a string literal's SHA-256 is one of ``fingerprints`` (hex → variable
    names, ``environments.secret_fingerprints``): ``[{"variables": [...], **place}]`` (one per
    variable set and text); how many literals were hashed; and whether that was all of them
    (``False`` once ``max_literals`` were hashed and more remained)."""
    matches: list[dict] = []
    hashed = 0
    if not fingerprints:
        return matches, hashed, True
    for text in texts:
        seen: set[str] = set()
        for offset, value in literals(text.text):
            if hashed >= max_literals:
                return matches, hashed, False
            hashed += 1
            digest = hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
            if digest in fingerprints and digest not in seen:
                seen.add(digest)
                matches.append({"variables": fingerprints[digest], **text.place(offset)})
    return matches, hashed, True
