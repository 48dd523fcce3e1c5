"""The detector: Yelp's detect-secrets, used the way its own ``detect-secrets scan`` does.

``detect_settings()`` enables every plugin detect-secrets ships (its ``default_settings``) with
its default filters: the heuristics for test-looking values, UUIDs, sequential strings,
templated values (``${PASSWORD}``), lock files and swagger files, plus the inline
``pragma: allowlist secret`` comment. One default filter is moved: ``is_indirect_reference``
drops a whole line that looks like ``x = f(...)``, for every plugin, so Stripe's own sample
``require('stripe')('sk_live_…')`` hid the key. ``rules.py`` applies it to the generic rules
(keyword, entropy) only, for which it was written. Secret verification (calling Stripe, AWS …
with the key) is deliberately not enabled: a scan must never send a client's key anywhere.

detect-secrets keeps its settings in a process-wide singleton, so ``detect_settings()`` holds
a process-wide re-entrant lock: scans in other threads (the repository check and the client
bundle check of one audit) wait for each other instead of corrupting the settings. It is held
for one text at a time (``detect_in_text``), never across a repository: a repository scan and
a bundle scan in one audit take turns file by file.

Bounded work: a minified bundle is one line of megabytes, and detect-secrets runs some thirty
regular expressions (and its keyword rules, one match per rule per line) over a whole line: a
2 MB bundle took 6–24 s in 2,048-character pieces. Lines of at most ``MAX_PIECE_CHARS`` are
still read whole, by every plugin. Of a longer line (``plan()``), detect-secrets reads only the
windows (``WINDOW_MARGIN_CHARS`` either side, merged when they touch, cut into overlapping
pieces) around each place where one of its plugins could find something we report
(``candidates()``): a secret-sounding name with an assigned quoted value without whitespace
(its keyword rules; a value with whitespace is prose, dropped by ``rules.py`` anyway; unquoted
values too for the file types whose rules take them), a run of ``MIN_RUN_CHARS`` key
characters that is not a UUID (vendor tokens, base64 high-entropy strings: 4.5 bits per
character need 23 characters or more), a JWT, a URL with a password, a PEM header. Found once
by one pass of fast regular expressions over the line. Given up on long lines only: hex
strings of 9–19 characters (the hex entropy plugin's; CSS hashes, colours, short ids in a
bundle), public IP addresses (``rules.py`` drops those) and the middle of runs longer than
``MAX_RUN_CHARS`` (inlined base64 data). About 0.4 s per MB
(``benchmarks/secret_scan.py``).
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from detect_secrets.core.scan import scan_file
from detect_secrets.plugins.keyword import (
    DENYLIST,
    QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
    REGEX_BY_FILETYPE,
)
from detect_secrets.settings import default_settings
from detect_secrets.util.filetype import determine_file_type

MAX_PIECE_CHARS = 2048
PIECE_OVERLAP_CHARS = 512
WINDOW_MARGIN_CHARS = 64
# Base64 entropy over 4.5 bits per character needs 23 characters or more (entropy is at most
# log2(length)); vendor tokens are longer than 20 (Stripe, Slack, GitHub, npm, SendGrid …).
MIN_RUN_CHARS = 20
# Longer runs are inlined data (base64 fonts and images, hundreds of KB in some bundles): no
# key or JWT is that long, and a key-shaped stretch inside base64 data is chance.
MAX_RUN_CHARS = 4096
INDIRECT_REFERENCE_FILTER = "detect_secrets.filters.heuristic.is_indirect_reference"
_VALUE = r"""(["'`])[^\s'"]*\1"""
# detect-secrets' keyword rules start at a secret-sounding name (its ``DENYLIST``, then \w*).
# For quoted values (JavaScript, Python, Java … and file types it does not know) the name is
# followed by ``:``, ``=``, ``==``, ``!=``, ``=>`` or ``(`` and the quoted value, or by up to
# 50 characters, a quoted value and ``;``; a value with whitespace is prose, not a finding.
_QUOTED_RULES = (rf"\w*['\"\]]{{0,2}}\s*(?::|={{1,3}}|!==?|=>|\.assign\(|\()\s*@?{_VALUE}"
                 rf"|\w*\S{{0,50}}?\s*{_VALUE};")
# Its rules for config files (YAML, INI, TOML …), Go and C: the value may be unquoted.
_ANY_VALUE_RULES = r"\w*['\"\]]{0,2}\s*(?::=?|={1,3}|!==?|=>|\()\s*@?[\"'`]?[^\s'\"`]"
_NAMES = {False: re.compile("|".join(DENYLIST)), True: re.compile("|".join(DENYLIST), re.IGNORECASE)}
_AFTER_NAME = {
    (quotes_required, any_case): re.compile(
        _QUOTED_RULES if quotes_required else f"{_QUOTED_RULES}|{_ANY_VALUE_RULES}",
        re.IGNORECASE if any_case else 0)
    for quotes_required in (True, False) for any_case in (True, False)
}
# The one rule with the value first: ``"value" == password``.
_COMPARED_BEFORE = re.compile(r"[!=]{2,3}\s*\w*$")
_ANCHOR = re.compile(rf"[A-Za-z0-9+/=_-]{{{MIN_RUN_CHARS},}}|eyJ|://[^\s/:@'\"]+:[^\s/@'\"]+@|-----BEGIN")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LOCK = threading.RLock()
_depth = 0  # nesting of detect_settings() in the thread that holds _LOCK
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@contextmanager
def detect_settings() -> Iterator[None]:
    """All detect-secrets plugins and its default filters, for the duration of the block.
    Re-entrant; other threads wait until the outermost block ends."""
    global _depth
    with _LOCK:
        if _depth:
            _depth += 1
            try:
                yield
            finally:
                _depth -= 1
            return
        with default_settings() as settings:
            settings.disable_filters(INDIRECT_REFERENCE_FILTER)
            _depth = 1
            try:
                yield
            finally:
                _depth = 0


@dataclass(frozen=True)
class Piece:
    """A stretch of one line of the text: its 1-based ``line``, the 0-based ``offset`` of its
    first character in the whole text, and its ``text`` (no line break)."""

    line: int
    offset: int
    text: str


@dataclass(frozen=True)
class Raw:
    """One detect-secrets hit: plugin type, 1-based line, 0-based offset in the text, value."""

    rule: str
    line: int
    offset: int
    value: str


def plan(text: str, quotes_required: bool = True) -> list[Piece]:
    """What detect-secrets reads (see the module's "Bounded work"): each line of at most
    ``MAX_PIECE_CHARS`` whole, and, when it holds more than one secret-sounding name, each
    name with its value again on its own (detect-secrets' keyword rules report one match per
    rule per line, so the second of ``{password:"Sign in",secret:"…"}`` was never read; the
    repeats are reported once); of a longer line, only the windows around its candidates
    (``candidates()``), cut into pieces of at most ``MAX_PIECE_CHARS``."""
    out: list[Piece] = []
    for number, offset, line in _lines(text):
        if len(line) <= MAX_PIECE_CHARS:
            out.append(Piece(number, offset, line))
            if len(_NAMES[True].findall(line)) > 1:
                out += [Piece(number, offset + start, line[start:end])
                        for start, end in _keyword_spans(line, quotes_required)]
            continue
        for start, end in _merged(candidates(line, quotes_required), len(line)):
            out += _cut(number, offset + start, line[start:end], MAX_PIECE_CHARS)
    return out


def candidates(line: str, quotes_required: bool = True) -> list[tuple[int, int]]:
    """``(start, end)`` of each place in ``line`` where a detect-secrets plugin could find a
    secret we report: a secret-sounding name (detect-secrets' keyword ``DENYLIST``) given a
    quoted value without whitespace (a value with whitespace is prose, see ``rules.py``), a run
    of ``MIN_RUN_CHARS`` or more key characters that is not a UUID (of a run longer than
    ``MAX_RUN_CHARS``, its two ends), a JWT's ``eyJ``, a URL with a password, a PEM header.
    Sorted by start."""
    spans = _keyword_spans(line, quotes_required)
    for match in _ANCHOR.finditer(line):
        start, end = match.span()
        if end - start > MAX_RUN_CHARS:
            # A data: URI's base64 (an inlined font or image), not a key: its two ends only.
            spans += [(start, start + MAX_RUN_CHARS), (end - MAX_RUN_CHARS, end)]
        elif not _UUID.fullmatch(match[0]):
            spans.append((start, end))
    return sorted(spans)


def _keyword_spans(line: str, quotes_required: bool) -> list[tuple[int, int]]:
    """``(start, end)`` of each secret-sounding name with the value detect-secrets' keyword
    rules could take from it (see ``_QUOTED_RULES``), in order."""
    # Lower case once, then match case-sensitively: several times faster than IGNORECASE.
    # (Lowering may change the length, "İ" → "i̇": then the slow way, offsets must hold.)
    lower = line.lower()
    any_case = len(lower) != len(line)
    subject = line if any_case else lower
    after_name = _AFTER_NAME[quotes_required, any_case]
    spans = []
    for name in _NAMES[any_case].finditer(subject):
        at = name.start()
        if rule := after_name.match(subject, name.end()):
            spans.append((at, rule.end()))
        elif _COMPARED_BEFORE.search(subject, max(at - 64, 0), at):
            spans.append((max(at - PIECE_OVERLAP_CHARS, 0), name.end()))
    return spans


def detect_in_text(text: str, name: str) -> list[Raw]:
    """Each secret detect-secrets finds in ``text``, as if it were a file called ``name`` (its
    base name feeds the filename heuristics: lock files, swagger files). Duplicates (from the
    overlap of two pieces) are reported once. Holds detect-secrets' lock for this one text."""
    base = _UNSAFE_NAME.sub("_", os.path.basename(name))[:100].lstrip(".") or "text"
    parts = plan(text, quotes_required(base))
    found: dict[tuple[str, int, str], Raw] = {}
    with detect_settings(), tempfile.TemporaryDirectory(prefix="lr-secret-text-") as workdir:
        path = os.path.join(workdir, base)
        with open(path, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
            fh.write("\n".join(p.text for p in parts))
        for secret in scan_file(path):
            if secret.secret_value is None:  # only set when loaded from a baseline
                continue
            piece = parts[min(max(secret.line_number, 1), len(parts)) - 1]
            at = piece.text.find(secret.secret_value)
            offset = piece.offset + max(at, 0)
            found.setdefault((secret.type, offset, secret.secret_value),
                             Raw(secret.type, piece.line, offset, secret.secret_value))
    return list(found.values())


def quotes_required(name: str) -> bool:
    """True when detect-secrets' keyword plugin wants a quoted value in a file called ``name``
    (its ``REGEX_BY_FILETYPE``; unknown types get the quotes-required rules)."""
    rules = REGEX_BY_FILETYPE.get(determine_file_type(name), QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
    return rules is QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP


def _merged(spans: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """The spans widened by ``WINDOW_MARGIN_CHARS`` on each side (within ``0..length``), those
    that touch merged into one."""
    out: list[list[int]] = []
    for start, end in spans:
        start, end = max(start - WINDOW_MARGIN_CHARS, 0), min(end + WINDOW_MARGIN_CHARS, length)
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(start, end) for start, end in out]


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    """``(1-based line number, offset of its first character, line)`` of each line (split on
    ``\\n``). A ``\\r`` becomes a space (same length, so offsets hold): detect-secrets reads
    files with universal newlines and would split there."""
    offset = 0
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, offset, line.replace("\r", " ")
        offset += len(line) + 1


def _cut(number: int, offset: int, line: str, size: int) -> list[Piece]:
    """``line`` in pieces of at most ``size`` characters overlapping by ``PIECE_OVERLAP_CHARS``."""
    out = []
    start, step = 0, size - PIECE_OVERLAP_CHARS
    while True:
        out.append(Piece(number, offset + start, line[start:start + size]))
        if start + size >= len(line):
            return out
        start += step
