"""tls.certificate against the sandbox's HTTPS server: each certificate fault on and off.

``days_left`` is whole days, truncated: a certificate issued for 80 days has 79 whole days
left a moment later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.engine.support import run_check

DAY = timedelta(days=1)


def _not_after(result) -> datetime:
    return datetime.strptime(result.evidence["not_after"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _close_to(moment: datetime, expected: datetime) -> bool:
    return abs(moment - expected) < timedelta(minutes=1)


def test_a_valid_certificate_passes_with_79_whole_days_left(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})

    result = run_check(net, "tls.certificate", "www.shop.test")

    until = result.evidence["not_after"][:10]
    assert result.status == "pass"
    assert result.summary == f"trusted certificate for www.shop.test, 79 days left (until {until})"
    assert result.metrics == {"days_left": 79}
    assert result.evidence["days_left"] == 79
    assert result.evidence["verified"] is True
    assert result.evidence["verify_error"] is None
    assert result.evidence["matched_name"] == "www.shop.test"
    assert result.evidence["address"] == box.addresses["www.shop.test"]
    assert result.evidence["problems"] == []
    assert _close_to(_not_after(result), datetime.now(UTC) + 80 * DAY)
    [leaf] = result.evidence["chain"]  # issued by the root itself: no intermediate to send
    assert leaf["san_dns"] == ["www.shop.test"]
    assert "O=Launch Ready sandbox CA" in leaf["issuer"]


def test_an_expired_certificate_fails_saying_it_expired_3_days_ago(sandbox):
    box, net = sandbox({"hosts": {"api.shop.test": {"certificate": "expired"}}})

    result = run_check(net, "tls.certificate", "api.shop.test")

    until = result.evidence["not_after"][:10]
    assert result.status == "fail"
    assert result.summary == f"api.shop.test: certificate expired 3 days ago ({until})"
    assert result.metrics == {"days_left": -3}
    assert result.evidence["verified"] is False
    assert result.evidence["verify_error"] == "certificate has expired"
    assert _close_to(_not_after(result), datetime.now(UTC) - 3 * DAY)
    assert result.remediation == "Renew the certificate and automate renewal (ACME, e.g. Let's Encrypt)."


def test_a_certificate_not_yet_valid_fails(sandbox):
    box, net = sandbox({"hosts": {"api.shop.test": {"certificate": "not_yet_valid"}}})

    result = run_check(net, "tls.certificate", "api.shop.test")

    not_before = datetime.fromisoformat(result.evidence["chain"][0]["not_before"].replace("Z", "+00:00"))
    assert result.status == "fail"
    assert result.summary == f"api.shop.test: certificate not valid until {not_before:%Y-%m-%d}"
    assert _close_to(not_before, datetime.now(UTC) + 5 * DAY)
    assert result.evidence["verify_error"] == "certificate is not yet valid"
    assert result.evidence["problems"] == [result.summary]


def test_a_certificate_for_another_name_fails_even_though_the_chain_is_trusted(sandbox):
    box, net = sandbox({"hosts": {"app.shop.test": {"certificate": "wrong_name"}}})

    result = run_check(net, "tls.certificate", "app.shop.test")

    assert result.status == "fail"
    assert result.summary == (
        "app.shop.test is not covered by the certificate's names: wrong-host.app.shop.test.invalid"
    )
    assert result.evidence["verified"] is True
    assert result.evidence["matched_name"] is None
    assert result.metrics == {"days_left": 79}
    assert result.remediation == "Issue a certificate whose subjectAltName lists this host."


def test_a_self_signed_certificate_fails(sandbox):
    box, net = sandbox({"hosts": {"admin.shop.test": {"certificate": "self_signed"}}})

    result = run_check(net, "tls.certificate", "admin.shop.test")

    assert result.status == "fail"
    assert result.summary == "admin.shop.test serves a self-signed certificate"
    assert result.evidence["verified"] is False
    assert result.evidence["verify_error"] == "self-signed certificate"
    [leaf] = result.evidence["chain"]
    assert leaf["subject"] == leaf["issuer"] == "CN=admin.shop.test"
    assert result.remediation == (
        "Serve a certificate from a public CA with its full chain (leaf + intermediates)."
    )


def test_a_leaf_served_without_its_intermediate_fails_as_an_incomplete_chain(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"certificate": "leaf_only"}}})

    result = run_check(net, "tls.certificate", "www.shop.test")

    assert result.status == "fail"
    assert result.summary == (
        "www.shop.test: certificate not trusted: the chain does not lead to a trusted CA "
        "(missing intermediate or unknown issuer)"
    )
    assert result.evidence["verify_error"] == "unable to get local issuer certificate"
    [leaf] = result.evidence["chain"]  # the intermediate is not sent
    assert leaf["issuer"] != leaf["subject"]
    assert result.metrics == {"days_left": 79}


def test_a_certificate_with_20_days_left_warns(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"certificate": {"days_left": 20}}}})

    result = run_check(net, "tls.certificate", "www.shop.test")

    until = result.evidence["not_after"][:10]
    assert result.status == "warn"
    assert result.summary == f"www.shop.test: certificate expires in 19 days ({until})"
    assert result.metrics == {"days_left": 19}
    assert result.evidence["verified"] is True


def test_a_certificate_with_5_days_left_fails(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {"certificate": {"days_left": 5}}}})

    result = run_check(net, "tls.certificate", "www.shop.test")

    until = result.evidence["not_after"][:10]
    assert result.status == "fail"
    assert result.summary == f"www.shop.test: certificate expires in 4 days ({until})"
    assert result.metrics == {"days_left": 4}


def test_a_wildcard_covers_one_label_only_never_the_apex_nor_two_labels(sandbox):
    wildcard = {"certificate": {"san": ["*.shop.test"]}}
    box, net = sandbox({
        "hosts": {"shop.test": wildcard, "www.shop.test": wildcard, "a.b.shop.test": wildcard},
    })

    apex = run_check(net, "tls.certificate", "shop.test")
    www = run_check(net, "tls.certificate", "www.shop.test")
    deep = run_check(net, "tls.certificate", "a.b.shop.test")

    assert (www.status, www.evidence["matched_name"]) == ("pass", "*.shop.test")
    assert www.summary.startswith("trusted certificate for *.shop.test, 79 days left")
    assert (apex.status, apex.summary) == (
        "fail", "shop.test is not covered by the certificate's names: *.shop.test",
    )
    assert (deep.status, deep.summary) == (
        "fail", "a.b.shop.test is not covered by the certificate's names: *.shop.test",
    )


def test_a_host_that_does_not_resolve_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})

    result = run_check(net, "tls.certificate", "admin.shop.test")

    assert result.status == "error"
    assert result.summary == "could not test: admin.shop.test does not exist (NXDOMAIN)"
    assert result.evidence["error_kind"] == "dns"


def test_a_host_with_nothing_on_port_443_fails_because_a_closed_port_is_an_answer(sandbox):
    box, net = sandbox({"hosts": {"mail.shop.test": {"https": False}}})

    result = run_check(net, "tls.certificate", "mail.shop.test")

    address = box.addresses["mail.shop.test"]
    assert result.status == "fail"
    assert result.summary == "nothing answers HTTPS on port 443 of mail.shop.test (connection refused)"
    assert result.evidence["error"] == f"{address}:443: Connection refused"
    assert result.evidence["error_kind"] == "connect"


def test_each_host_accepts_only_its_own_tls_versions(sandbox):
    box, net = sandbox({"hosts": {"old.shop.test": {"tls_versions": ["TLSv1.2"]}, "new.shop.test": {}}})

    assert net.tls.probe("old.shop.test").protocol == "TLSv1.2"
    assert net.tls.probe("new.shop.test").protocol == "TLSv1.3"
    assert run_check(net, "tls.certificate", "old.shop.test").evidence["protocol"] == "TLSv1.2"
