"""Our own logs: one JSON object per line through the console handler settings configure, with
tokens, passwords and webhook URLs masked in the message, the arguments, the traceback and
the extra fields."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.conf import settings

from launchready.logformat import JsonLinesFormatter, RedactSecrets, redact_secrets

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtZW1iZXItNyJ9.c2lnbmF0dXJlLXZhbHVl"
OPAQUE = "opaqueAccessToken1234567890"
WEBHOOK = "https://hooks.slack.com/services/T0A1B2C3D/B0E4F5G6H/abcDEF123ghiJKL456"
DISCORD = "https://discord.com/api/webhooks/112233445566778899/Zx9_Yw8-Vu7TsR6qP5oN4mL3kJ2iH1g"


@pytest.fixture
def console():
    """The root logger's configured console handler, writing into a buffer for the test."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_the_console_writes_json_lines_by_default():
    assert settings.LOG_FORMAT == "json"
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    assert isinstance(handler.formatter, JsonLinesFormatter)
    assert any(isinstance(f, RedactSecrets) for f in handler.filters)


def test_a_record_carrying_a_bearer_token_a_password_and_webhook_urls_comes_out_redacted(console):
    log = logging.getLogger("checks.monitoring.test")

    log.warning("alert to %s failed: 401; request had Authorization: Bearer %s", WEBHOOK, OPAQUE,
                extra={"url": "https://app.example.com/login?user=jane&password=hunter22",
                       "webhook": DISCORD, "headers": {"Authorization": f"Bearer {TOKEN}"}, "attempt": 2})
    try:
        raise ConnectionError(f"cannot reach postgres://app:s3cr3tP4ss@db.internal:5432/app via {DISCORD}")
    except ConnectionError:
        log.exception("database down; token=%s", OPAQUE)

    first, second = lines(console)
    assert first["level"] == "WARNING" and first["logger"] == "checks.monitoring.test"
    assert first["msg"] == ("alert to https://hooks.slack.com/services/[redacted] failed: 401; request had "
                            "Authorization: Bearer [redacted]")
    assert first["url"] == "https://app.example.com/login?user=jane&password=[redacted]"
    assert first["webhook"] == "https://discord.com/api/webhooks/112233445566778899/[redacted]"
    assert first["headers"] == {"Authorization": "Bearer [redacted]"}
    assert first["attempt"] == 2
    assert second["msg"] == "database down; token=[redacted]"
    assert "postgres://app:[redacted]@db.internal:5432/app" in second["exc"]
    assert "ConnectionError" in second["exc"]
    text = console.getvalue()
    for secret in (OPAQUE, TOKEN, "hunter22", "s3cr3tP4ss", "abcDEF123ghiJKL456",
                   "Zx9_Yw8-Vu7TsR6qP5oN4mL3kJ2iH1g"):
        assert secret not in text


@pytest.mark.parametrize("text, expected", [
    ('{"password": "hunter22", "user": "jane"}', '{"password": "[redacted]", "user": "jane"}'),
    ("api_key=sk_live_abc123&page=2", "api_key=[redacted]&page=2"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [redacted]"),
    (f"cookie session={TOKEN}", "cookie session=[redacted]"),
    ("/invites/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd/ gone", "/invites/[redacted]/ gone"),
    # Words and ordinary values stay.
    ("the bearer of bad news; a basic check; secret rotated; token count 3", None),
    ("GET /v1/feed 200 14 ms member=m_10482", None),
])
def test_what_is_masked_and_what_is_not(text, expected):
    assert redact_secrets(text) == (text if expected is None else expected)
