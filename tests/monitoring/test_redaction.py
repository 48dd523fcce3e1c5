"""Slack and Discord webhook URLs never reach a log line whole."""

from __future__ import annotations

import logging

from launchready.redaction import RedactUrlSecrets, redact


def test_the_secret_part_of_a_slack_webhook_url_is_masked():
    assert redact("POST https://hooks.slack.com/services/T0A1B2C3D/B0E4F5G6H/abcDEF123ghiJKL456 failed") == (
        "POST https://hooks.slack.com/services/[redacted] failed"
    )
    assert redact("https://hooks.slack-gov.com/workflows/T1/A2/333/xyz") == "https://hooks.slack-gov.com/workflows/[redacted]"


def test_the_token_of_a_discord_webhook_url_is_masked_and_its_id_kept():
    token = "gH5-_x.Yz" * 7
    assert redact(f"https://discord.com/api/webhooks/112233445566778899/{token}?wait=true") == (
        "https://discord.com/api/webhooks/112233445566778899/[redacted]?wait=true"
    )
    assert redact(f"https://canary.discordapp.com/api/v10/webhooks/1/{token}") == (
        "https://canary.discordapp.com/api/v10/webhooks/1/[redacted]"
    )


def test_other_urls_are_left_alone():
    text = "GET https://discord.com/channels/1/2 and https://slack.com/services/T/B"
    assert redact(text) == text


def test_the_log_filter_masks_a_webhook_url_in_a_record_with_arguments():
    record = logging.LogRecord("checks", logging.WARNING, __file__, 1, "alert to %s failed: %s",
                               ("https://hooks.slack.com/services/T1/B2/s3cr3t", "status 500"), None)
    assert RedactUrlSecrets().filter(record) is True
    assert record.getMessage() == "alert to https://hooks.slack.com/services/[redacted] failed: status 500"
