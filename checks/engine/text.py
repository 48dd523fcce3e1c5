"""Text that came from a target is data, not markup: make it safe to store and show."""

from __future__ import annotations

import re
from typing import Any

# C0 controls but tab and newline, DEL, and lone surrogates: PostgreSQL refuses NUL in text
# and JSON, terminals obey escape sequences, and a certificate or header may carry any byte.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def printable(value: Any) -> Any:
    """``value`` with every unsafe character in every string (keys too) written as ``\\xNN``
    / ``\\uNNNN``; lists, tuples and dicts are walked, other values returned as they are."""
    if isinstance(value, str):
        return _UNSAFE.sub(_escape, value)
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return value


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def first_few(items: list[str], shown: int = 3, separator: str = ", ") -> str:
    """``items`` joined for a one-line summary, at most ``shown`` of them and then how many
    more: ``a, b, c and 7 more``. A hostile target can return thousands (addresses, NS
    names); the evidence keeps them all, the summary stays one readable line."""
    text = separator.join(items[:shown])
    return f"{text} and {len(items) - shown} more" if len(items) > shown else text
