"""tls.protocols against real handshakes with the sandbox's HTTPS server, one version at a time.

The sandbox's server (asyncio's TLS) hangs up on a version it does not accept without sending
the TLS alert, so a refusal reads "the server hung up …" here; a real server's alert (``tlsv1
alert protocol version``) is reported in its place.
"""

from __future__ import annotations

import pytest

from checks.sandbox import ScenarioError, parse_scenario
from tests.engine.support import run_check

HUNG_UP = "the server hung up during the handshake, without an alert"
TLS12_CIPHER = "ECDHE-ECDSA-AES256-GCM-SHA384"  # the sandbox's EC P-256 leaf, OpenSSL's order
TLS13_CIPHER = "TLS_AES_256_GCM_SHA384"
LEGACY_CIPHER = "ECDHE-ECDSA-AES256-SHA"


def _protocols(sandbox, *versions: str):
    spec = {"tls_versions": list(versions)} if versions else {}
    box, net = sandbox({"hosts": {"www.shop.test": spec}})
    return box, net, run_check(net, "tls.protocols", "www.shop.test")


def _results(result) -> list[tuple[str, str, str | None]]:
    return [(v["version"], v["result"], v["detail"]) for v in result.evidence["versions"]]


def test_a_host_accepting_tls_1_2_and_1_3_only_passes(sandbox):
    box, net, result = _protocols(sandbox)

    assert result.status == "pass"
    assert result.summary == "www.shop.test accepts TLS 1.2 and TLS 1.3 only"
    assert result.evidence == {
        "host": "www.shop.test",
        "address": box.addresses["www.shop.test"],
        "versions": [
            {"version": "TLS 1.0", "result": "refused", "detail": HUNG_UP},
            {"version": "TLS 1.1", "result": "refused", "detail": HUNG_UP},
            {"version": "TLS 1.2", "result": "accepted", "detail": TLS12_CIPHER},
            {"version": "TLS 1.3", "result": "accepted", "detail": TLS13_CIPHER},
        ],
        "accepted": ["TLS 1.2", "TLS 1.3"],
        "problems": [],
    }
    assert result.remediation == ""


def test_a_host_accepting_tls_1_3_only_passes(sandbox):
    box, net, result = _protocols(sandbox, "TLSv1.3")

    assert (result.status, result.summary) == ("pass", "www.shop.test accepts TLS 1.3 only")
    assert result.evidence["accepted"] == ["TLS 1.3"]


def test_a_host_without_tls_1_3_warns(sandbox):
    box, net, result = _protocols(sandbox, "TLSv1.2")

    assert result.status == "warn"
    assert result.summary == "www.shop.test does not accept TLS 1.3"
    assert _results(result) == [
        ("TLS 1.0", "refused", HUNG_UP),
        ("TLS 1.1", "refused", HUNG_UP),
        ("TLS 1.2", "accepted", TLS12_CIPHER),
        ("TLS 1.3", "refused", HUNG_UP),
    ]
    assert result.evidence["problems"] == ["www.shop.test does not accept TLS 1.3"]
    assert result.remediation == (
        "Enable TLS 1.3 next to TLS 1.2 on www.shop.test (nginx: ssl_protocols TLSv1.2 TLSv1.3; "
        "OpenSSL 1.1.1 or later)."
    )


def test_a_host_accepting_tls_1_0_and_1_1_fails_citing_rfc_8996(sandbox):
    box, net, result = _protocols(sandbox, "TLSv1", "TLSv1.1", "TLSv1.2")

    assert result.status == "fail"
    assert result.summary == "www.shop.test accepts TLS 1.0 and TLS 1.1, which RFC 8996 forbids"
    assert _results(result) == [
        ("TLS 1.0", "accepted", LEGACY_CIPHER),
        ("TLS 1.1", "accepted", LEGACY_CIPHER),
        ("TLS 1.2", "accepted", TLS12_CIPHER),
        ("TLS 1.3", "refused", HUNG_UP),
    ]
    assert result.evidence["accepted"] == ["TLS 1.0", "TLS 1.1", "TLS 1.2"]
    assert result.evidence["problems"] == [
        "www.shop.test accepts TLS 1.0 and TLS 1.1, which RFC 8996 forbids",
        "www.shop.test does not accept TLS 1.3",
    ]
    assert result.remediation == (
        "Accept only TLS 1.2 and TLS 1.3 on www.shop.test's server or CDN (nginx: "
        "ssl_protocols TLSv1.2 TLSv1.3; Cloudflare: Minimum TLS Version 1.2)."
    )


def test_accepting_tls_1_1_alone_next_to_modern_versions_still_fails(sandbox):
    box, net, result = _protocols(sandbox, "TLSv1.1", "TLSv1.2", "TLSv1.3")

    assert result.status == "fail"
    assert result.summary == "www.shop.test accepts TLS 1.1, which RFC 8996 forbids"
    assert result.evidence["accepted"] == ["TLS 1.1", "TLS 1.2", "TLS 1.3"]


def test_a_host_with_only_tls_1_0_and_1_1_fails_twice(sandbox):
    box, net, result = _protocols(sandbox, "TLSv1", "TLSv1.1")

    assert result.status == "fail"
    assert result.evidence["problems"] == [
        "www.shop.test accepts TLS 1.0 and TLS 1.1, which RFC 8996 forbids",
        "www.shop.test accepts neither TLS 1.2 nor TLS 1.3",
    ]
    assert result.evidence["accepted"] == ["TLS 1.0", "TLS 1.1"]


def test_versions_this_client_cannot_offer_are_not_tested_and_never_counted_as_refused(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})
    net.tls.offerable = frozenset({"TLSv1.2", "TLSv1.3"})  # as an OpenSSL built without 1.0/1.1

    result = run_check(net, "tls.protocols", "www.shop.test")

    assert result.status == "error"
    assert result.summary == (
        "could not test TLS 1.0: this client cannot offer it; TLS 1.1: this client cannot offer it "
        "(accepted: TLS 1.2 and TLS 1.3)"
    )
    assert _results(result)[:2] == [
        ("TLS 1.0", "not tested", "this client cannot offer it"),
        ("TLS 1.1", "not tested", "this client cannot offer it"),
    ]


def test_an_old_version_observed_fails_even_when_another_could_not_be_tested(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"tls_versions": ["TLSv1.1", "TLSv1.2", "TLSv1.3"]}}})
    net.tls.offerable = frozenset({"TLSv1.1", "TLSv1.2", "TLSv1.3"})

    result = run_check(net, "tls.protocols", "www.shop.test")

    assert (result.status, result.summary) == (
        "fail", "www.shop.test accepts TLS 1.1, which RFC 8996 forbids",
    )
    assert _results(result)[0] == ("TLS 1.0", "not tested", "this client cannot offer it")


def test_a_host_that_does_not_resolve_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})

    result = run_check(net, "tls.protocols", "admin.shop.test")

    assert result.status == "error"
    assert result.summary == "could not test: admin.shop.test does not exist (NXDOMAIN)"
    assert result.evidence["error_kind"] == "dns"
    assert _results(result) == [
        ("TLS 1.0", "not tested", "admin.shop.test does not exist (NXDOMAIN)"),
        ("TLS 1.1", "not tested", "the host did not answer"),
        ("TLS 1.2", "not tested", "the host did not answer"),
        ("TLS 1.3", "not tested", "the host did not answer"),
    ]


def test_a_host_with_nothing_on_port_443_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"mail.shop.test": {"https": False}}})

    result = run_check(net, "tls.protocols", "mail.shop.test")

    address = box.addresses["mail.shop.test"]
    assert result.status == "error"
    assert result.summary == f"could not test: {address}:443: Connection refused"
    assert (result.evidence["error_kind"], result.evidence["address"]) == ("connect", address)


def test_a_host_outside_the_outbound_policy_is_an_error_without_any_connection(sandbox):
    box, net = sandbox({"dns": {"internal.shop.test": {"A": ["10.0.0.5"]}}})

    result = run_check(net, "tls.protocols", "internal.shop.test")

    assert result.status == "error"
    assert result.summary == "could not test: outbound policy refused 10.0.0.5: private"
    assert (result.evidence["error_kind"], result.evidence["address"]) == ("policy", None)


def test_each_version_is_tried_once_per_audit(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})

    first = net.tls.accepts("www.shop.test", "TLSv1.2")

    assert net.tls.accepts("www.shop.test", "TLSv1.2") is first
    assert (first.accepted, first.version, first.error_kind) == (True, "TLSv1.2", None)
    with pytest.raises(ValueError, match="unknown TLS version 'SSLv3'"):
        net.tls.accepts("www.shop.test", "SSLv3")


def test_the_sandbox_serves_a_real_tls_1_0_handshake(sandbox):
    box, net = sandbox({"hosts": {"old.shop.test": {"tls_versions": ["TLSv1"]}}})

    answer = net.tls.accepts("old.shop.test", "TLSv1")

    assert (answer.accepted, answer.detail) == (True, LEGACY_CIPHER)
    assert box.scenario.hosts["old.shop.test"].tls_versions == ("TLSv1",)


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        (["TLSv1", "TLSv1.3"], "scenario: hosts.www.shop.test.tls_versions must be consecutive versions "
                               "(a server accepts a range), not ['TLSv1', 'TLSv1.3']"),
        (["TLSv1.0"], "scenario: hosts.www.shop.test.tls_versions: 'TLSv1.0' is not one of "
                      "('TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3')"),
    ],
)
def test_tls_versions_a_server_cannot_serve_are_refused(versions, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"hosts": {"www.shop.test": {"tls_versions": versions}}})

    assert str(caught.value) == message


def test_tls_versions_are_kept_oldest_first_and_default_to_1_2_and_1_3():
    scenario = parse_scenario({"hosts": {"a.shop.test": {"tls_versions": ["TLSv1.2", "TLSv1.1"]},
                                         "b.shop.test": {}}})

    assert scenario.hosts["a.shop.test"].tls_versions == ("TLSv1.1", "TLSv1.2")
    assert scenario.hosts["b.shop.test"].tls_versions == ("TLSv1.2", "TLSv1.3")
