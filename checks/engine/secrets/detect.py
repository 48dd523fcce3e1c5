"""The detector: Yelp's detect-secrets, used the way its own ``detect-secrets scan`` does.

``detect_settings()`` enables every plugin detect-secrets ships (its ``default_settings``) with
its default filters: the heuristics for test-looking values, UUIDs, sequential strings,
templated values (``${PASSWORD}``), indirect references, lock files and swagger files, plus
the inline ``pragma: allowlist secret`` comment. Secret verification (calling Stripe, AWS …
with the key) is deliberately not enabled: a scan must never send a client's key anywhere.

detect-secrets keeps its settings in a process-wide singleton, so a scan is not thread-safe:
run one scan at a time per process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from detect_secrets.core.scan import scan_file
from detect_secrets.settings import default_settings


@contextmanager
def detect_settings() -> Iterator[None]:
    """All detect-secrets plugins and its default filters, for the duration of the block."""
    with default_settings():
        yield


def detect_in_file(path: str) -> Iterator[tuple[str, int, str]]:
    """``(rule, line, value)`` for each secret detect-secrets finds in the text file ``path``
    (an OS path; its name feeds the filename heuristics). Call inside ``detect_settings()``.
    Unreadable or non-UTF-8 files yield nothing (detect-secrets skips them)."""
    for secret in scan_file(path):
        if secret.secret_value is None:  # only set when loaded from a baseline
            continue
        yield secret.type, secret.line_number, secret.secret_value
