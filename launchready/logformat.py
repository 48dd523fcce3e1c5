"""Our own logs: one JSON object per line, secrets masked in every field.

``JsonLinesFormatter`` writes ``{"ts", "level", "logger", "msg", …}`` — plus ``exc`` (the
traceback) and any ``extra=`` fields — as one line of JSON, so a log service can index it
without parsing prose. Every string in it goes through :func:`redact_secrets` *after* the
message is formatted, so a secret that reaches a log line through a ``%s`` argument, an
exception's message or an ``extra`` field is masked as well.

:func:`redact_secrets` masks, with ``[redacted]``:

- invite and password-reset tokens, and the secret part of Slack and Discord webhook URLs
  (``launchready.redaction.redact``);
- the credentials of an ``Authorization`` header of any scheme (RFC 9110 §11.6.2; ``Basic``,
  RFC 7617 §2; ``Bearer``, RFC 6750 §2.1) and any bare ``Bearer <token>``;
- the password of a URL's userinfo (``scheme://user:password@host``, RFC 3986 §3.2.1);
- the value of ``password``, ``passwd``, ``pwd``, ``secret``, ``token``, ``access_token``,
  ``refresh_token``, ``api_key``, ``apikey``, ``client_secret`` and ``authorization`` in query
  strings, ``key=value`` pairs and JSON (``"password": "…"``);
- JSON Web Tokens (``eyJ….eyJ….…``, RFC 7519 §3).

Standard library only (``json``, ``logging``): ``LOGGING`` is configured before Django's apps
load, and a formatter that needs a dependency must not be what stops a process from logging.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from launchready.redaction import REDACTED, RedactUrlSecrets, redact

_SECRET_NAMES = (r"password|passwd|pwd|secret|token|access_token|refresh_token|id_token|api[_-]?key|apikey"
                 r"|client_secret|authorization|x-api-key")
_SECRETS = (
    # An Authorization header of any scheme (RFC 9110 §11.6.2: "Basic …", RFC 7617 §2; "Bearer
    # …", RFC 6750 §2.1): the scheme stays, the credentials go. Then a bare "Bearer <token>"
    # (the scheme as written, so the word in prose survives).
    (re.compile(r"(\bauthorization[\"']?\s*[:=]\s*[\"']?[A-Za-z][\w-]*\s+)[^\s\"',;]+", re.I),
     r"\1" + REDACTED),
    (re.compile(r"\b(Bearer|BEARER|bearer)\s+(?!\[redacted\])[A-Za-z0-9\-._~+/]{8,}=*"), r"\1 " + REDACTED),
    # scheme://user:password@host (RFC 3986 §3.2.1): the password goes, the user stays.
    (re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(@)", re.I), r"\1" + REDACTED + r"\2"),
    # JSON: "password": "…" (or a number)
    (re.compile(r"(\"(?:" + _SECRET_NAMES + r")\"\s*:\s*)(\"(?:[^\"\\]|\\.)*\"|[^,}\s]+)", re.I),
     r'\1"' + REDACTED + '"'),
    # query strings and key=value pairs: password=…, &token=…, api_key: …
    (re.compile(r"((?<![\w-])(?:" + _SECRET_NAMES + r")\s*[=:]\s*)"
                r"(?!\[redacted\]|[A-Za-z][\w-]*\s+\[redacted\])[^\s&;,\"']+", re.I),
     r"\1" + REDACTED),
    # JWTs anywhere else (a token in a path, a cookie)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), REDACTED),
)
# LogRecord attributes that are not "extra" fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def redact_secrets(text: str) -> str:
    """``text`` with every credential this module knows (see the module docstring) masked."""
    text = redact(text)
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _clean(value):
    """``value`` made JSON-ready with every string redacted (containers walked, others ``str``)."""
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_clean(v) for v in value]
    return redact_secrets(str(value))


class JsonLinesFormatter(logging.Formatter):
    """A record as one line of JSON: ``ts`` (UTC, ISO 8601, milliseconds), ``level``,
    ``logger``, ``msg``, ``exc`` / ``stack`` when present, then the record's ``extra`` fields;
    every string redacted by :func:`redact_secrets`."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exc"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in payload and not key.startswith("_"):
                payload[key] = value
        return json.dumps(_clean(payload), ensure_ascii=False)


class RedactSecrets(RedactUrlSecrets):
    """Rewrite a record's message with :func:`redact_secrets` (for handlers whose formatter is
    not ``JsonLinesFormatter``, such as a test's capture); never drops a record."""

    redactor = staticmethod(redact_secrets)
