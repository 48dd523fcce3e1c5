"""Log hygiene: a log sample scanned for secrets and personal data, findings redacted (a short
prefix and a keyed hash), the values themselves never kept or shown."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from checks.engine.loghygiene import (
    MAX_LOG_BYTES,
    LogScan,
    LogTooLarge,
    redact,
    scan_from_dict,
    scan_log,
)

KEY = b"test-key"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
       ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
       ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
OPAQUE = "mF_9.B5f-4.1JqM9zQx7Lw2Rk"  # RFC 6750 §2.1's example shape, longer
STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
AWS = "AKIAIOSFODNN7EXAMPLE"
ENTROPIC = "Zx8Kq2Lm9Vb4Nc7Rt1Yu6Hj3Gf5Ds0Aw8Qe"
SAMPLE = "\n".join([
    "2026-11-30T07:40:01Z INFO GET / 200 14 ms member=-",                                  # 1: clean
    f"2026-11-30T07:40:02Z DEBUG headers Authorization: Bearer {OPAQUE}",                 # 2: bearer
    f'2026-11-30T07:40:03Z DEBUG {{"authorization": "Bearer {JWT}"}}',                   # 3: JWT (once)
    "2026-11-30T07:40:04Z INFO GET /callback?code=x&access_token=ya29a0AfH6SMB 302",      # 4: bearer in URL
    "2026-11-30T07:40:05Z INFO connect postgres://app:s3cr3tP4ss@db.internal:5432/app",   # 5: userinfo
    "2026-11-30T07:40:06Z INFO GET /reset?user=7&password=hunter22 200",                  # 6: password param
    f"2026-11-30T07:40:07Z INFO charge with {STRIPE} key {AWS}",                          # 7: two keys
    f'2026-11-30T07:40:08Z DEBUG config {{"api_key": "{ENTROPIC}", "region": "eu-west-1"}}',  # 8: entropy
    "2026-11-30T07:40:09Z INFO signup email=jane.doe@example.com phone=+44 20 7946 0958",  # 9: two PII
    "2026-11-30T07:40:10Z INFO sms to (415) 555-2671 queued request_id=7f3c2a9e4b1d4e8f9a0b",  # 10: phone
])


def h(value: str) -> str:
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()[:8]


def test_every_kind_is_found_on_its_line_and_shown_only_redacted():
    scan = scan_log(SAMPLE, hash_key=KEY)

    assert [(f.line, f.kind, f.redacted, f.detector) for f in scan.findings] == [
        (2, "bearer_token", f"mF_9…#{h(OPAQUE)}", "RFC 6750 bearer credentials"),
        (3, "jwt", f"eyJh…#{h(JWT)}", "JwtTokenDetector"),
        (4, "bearer_token", f"ya2…#{h('ya29a0AfH6SMB')}", "RFC 6750 access_token parameter"),
        (5, "password_in_url", f"s3…#{h('s3cr3tP4ss')}", "BasicAuthDetector"),
        (6, "password_in_url", f"hu…#{h('hunter22')}", "password query parameter"),
        (7, "api_key", f"sk_l…#{h(STRIPE)}", "StripeDetector"),
        (7, "api_key", f"AKIA…#{h(AWS)}", "AWSKeyDetector"),
        (8, "api_key", f"Zx8K…#{h(ENTROPIC)}", "Base64HighEntropyString"),
        (9, "email", f"ja…#{h('jane.doe@example.com')}", "RFC 5322 address"),
        (9, "phone", f"+4…#{h('+44 20 7946 0958')}", "phonenumbers"),
        (10, "phone", f"(4…#{h('(415) 555-2671')}", "phonenumbers"),
    ]
    assert scan.counts == (("jwt", 1), ("bearer_token", 2), ("password_in_url", 2), ("api_key", 3),
                           ("email", 1), ("phone", 2))
    assert (scan.lines, scan.size_bytes, scan.secrets, scan.personal) == (10, len(SAMPLE.encode()), 8, 3)
    # No value, nor any long piece of one, is anywhere in what is kept.
    kept = repr(scan.as_dict())
    for value in (OPAQUE, JWT, "ya29a0AfH6SMB", "s3cr3tP4ss", "hunter22", STRIPE, AWS, ENTROPIC,
                  "jane.doe@example.com", "7946 0958", "555-2671"):
        assert value not in kept
        assert value[:5] not in kept or value[:5] in ("eyJhb",)  # the JWT header is its type marker


def test_a_clean_log_has_no_findings_and_ids_hashes_and_prose_are_not_secrets():
    clean = "\n".join([
        "2026-11-30T07:40:21Z ERROR GET /v1/me 500 212 ms member=m_30017 error=TimeoutError",
        "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7",
        "sha=9f86d081884c7d659a2feaa0c55ad015",
        "uuid=123e4567-e89b-12d3-a456-426614174000 took 1234.5 ms on port 5432 pid 12345",
        'WWW-Authenticate: Bearer realm="example", error="invalid_token"',
        "the Bearer token was missing; mail sent to the member (address withheld)",
    ])

    scan = scan_log(clean, hash_key=KEY)

    assert (scan.findings, scan.counts, scan.lines) == ((), (), 6)


def test_national_phone_numbers_follow_the_region_and_none_reads_only_international_ones():
    line = "call 020 7946 0958 or (415) 555-2671 or +49 30 901820"

    def phones(region):
        return [f.redacted[:2] for f in scan_log(line, phone_region=region, hash_key=KEY).findings]

    assert phones("GB") == ["02", "+4"]
    assert phones("US") == ["(4", "+4"]
    assert phones(None) == ["+4"]


def test_the_same_value_hashes_alike_within_a_key_and_differently_across_keys():
    first = scan_log(f"a {STRIPE}\nb {STRIPE}", hash_key=b"one").findings
    other = scan_log(f"a {STRIPE}", hash_key=b"two").findings

    assert first[0].redacted == first[1].redacted
    assert other[0].redacted != first[0].redacted
    digest = hmac.new(b"k", b"0123456789", hashlib.sha256).hexdigest()[:8]
    assert redact("0123456789", b"k") == f"01…#{digest}"
    assert redact("abc", b"k", personal=True).startswith("…#")  # too short for any prefix


def test_a_sample_over_the_cap_is_refused_before_scanning():
    with pytest.raises(LogTooLarge, match=f"the log sample is {MAX_LOG_BYTES + 1:,} bytes; at most "
                                          f"{MAX_LOG_BYTES:,} are scanned"):
        scan_log("x" * (MAX_LOG_BYTES + 1))


def test_findings_past_the_cap_are_counted_not_listed():
    scan = scan_log("\n".join(f"user{n}@example.com" for n in range(250)), hash_key=KEY)

    assert (len(scan.findings), scan.count("email"), scan.findings[-1].line) == (200, 250, 200)


def test_a_scan_round_trips_through_its_stored_form():
    scan = scan_log(SAMPLE, hash_key=KEY)

    assert scan_from_dict(scan.as_dict()) == scan
    assert scan_from_dict({}) == LogScan(0, 0)
