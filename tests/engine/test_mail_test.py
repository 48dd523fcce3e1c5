"""email.transactional end to end: four test mails through the sandbox's submission server
(aiosmtpd, STARTTLS or implicit TLS, AUTH, DKIM signing) to the capture server, judged as a
receiver judges them. One scenario per fault in ``scenarios/faults/mail-test/``; the verdict,
the summary and the evidence are asserted exactly."""

from __future__ import annotations

import pytest

from checks.engine.audit import spec_from_dict
from checks.engine.net.session import Net
from checks.engine.registry import Context, all_checks
from checks.engine.result import Result
from checks.engine.spec import ProjectSpec
from checks.sandbox import Sandbox, load_scenario
from tests.conftest import SCENARIOS

MAIL_TEST = SCENARIOS / "faults" / "mail-test"
KINDS = ["welcome", "password_reset", "invite", "notification"]
CHECK = {c.id: c for c in all_checks()}["email.transactional"]


def run(name: str, **project_overrides) -> tuple[Result, Sandbox]:
    """Run the check on scenario ``name``; returns the result and the (stopped) sandbox."""
    scenario = load_scenario(MAIL_TEST / f"{name}.yaml")
    spec = spec_from_dict({**scenario.project, **project_overrides})
    with Sandbox(scenario) as sandbox, Net(sandbox.profile) as net:
        result = CHECK.run(spec.smtp.from_domain if spec.smtp else spec.apex, Context(net, spec))
    return result, sandbox


def test_delivered_signed_and_aligned_passes():
    result, sandbox = run("delivered")
    out = sandbox.smtp_outbound_address
    assert result.status == "pass"
    assert result.summary.startswith("4 test mails arrived within 0.")
    assert result.summary.endswith(
        f" s, DKIM-signed by d=delivered.mail-test.test (aligned), SPF pass for {out} at "
        "delivered.mail-test.test, DMARC pass"
    )
    assert result.metrics["mails_arrived"] == 4 and 0 <= result.metrics["delivery_ms"] < 5000
    smtp = result.evidence["smtp"]
    shown = ("host", "port", "security", "address", "tls_version", "authenticated_as")
    assert {k: smtp[k] for k in shown} == {
        "host": "smtp.mailhost.test", "port": 587, "security": "starttls", "address": sandbox.smtp_address,
        "tls_version": "TLSv1.3", "authenticated_as": "app",
    }
    assert smtp["banner"] == "smtp.mailhost.test ESMTP sandbox"
    assert [a.split("-", 2)[2] for a in smtp["accepted"]] == [
        "welcome@capture.launchready.test", "password-reset@capture.launchready.test",
        "invite@capture.launchready.test", "notification@capture.launchready.test",
    ]
    assert list(result.evidence["mails"]) == KINDS
    mail = result.evidence["mails"]["password_reset"]
    assert (mail["arrived"], mail["peer_ip"], mail["helo"], mail["mail_from"]) == (
        True, out, "smtp-out.mailhost.test", "hello@delivered.mail-test.test")
    assert mail["spf"] == {"domain": "delivered.mail-test.test", "result": "pass",
                           "summary": f"{out} matched include:_spf.mailhost.test"}
    assert mail["dkim"] == {"result": "pass", "signatures": [
        {"d": "delivered.mail-test.test", "s": "mh", "result": "pass", "reason": "", "key_bits": 2048}]}
    assert mail["dmarc"] == {
        "from_domain": "delivered.mail-test.test", "policy_domain": "delivered.mail-test.test", "p": "reject",
        "adkim": "r", "aspf": "r", "dkim_aligned": "delivered.mail-test.test", "spf_aligned": True,
        "result": "pass",
    }
    headers = dict(mail["headers"])
    assert headers["Subject"] == "Reset your delivered and aligned password"
    assert headers["From"] == "delivered and aligned <hello@delivered.mail-test.test>"
    assert headers["Received"].startswith(
        "from audit.launchready.invalid ([127.0.0.1]) by smtp.mailhost.test with ESMTPSA; ")
    assert result.evidence["findings"] == []


def test_implicit_tls_passes_the_same_way():
    result, _ = run("implicit-tls")
    assert result.status == "pass"
    assert (result.evidence["smtp"]["port"], result.evidence["smtp"]["security"]) == (465, "tls")
    assert result.evidence["smtp"]["tls_version"] == "TLSv1.3"


def test_a_refused_login_is_error_with_the_servers_reply():
    result, _ = run("login-refused")
    assert result.status == "error"
    assert result.summary == ("could not test: smtp.mailhost.test:587: the server refused the login: "
                              "535 5.7.8 Authentication credentials invalid")
    assert result.evidence == {
        "smtp": {"host": "smtp.mailhost.test", "port": 587, "security": "starttls", "username": "app",
                 "from": "hello@login-refused.mail-test.test"},
        "failure": {"kind": "auth", "phase": "AUTH", "reply": "535 5.7.8 Authentication credentials invalid"},
    }
    assert "an-old-password" not in repr(result)


def test_no_starttls_is_error_and_nothing_is_sent_in_clear():
    result, sandbox = run("no-starttls")
    assert result.status == "error"
    assert result.summary == (
        "could not test: smtp.mailhost.test:587: the server does not offer STARTTLS: mail and the password "
        "would cross the network in clear (EHLO offered: size, 8bitmime, help)"
    )
    assert result.evidence["failure"] == {"kind": "tls", "phase": "STARTTLS", "reply": ""}
    assert sandbox.smtp.delivered == 0


def test_a_silent_server_is_error_after_the_connect_timeout():
    result, _ = run("timeout")
    assert result.status == "error"
    assert result.summary == (
        "could not test: smtp.mailhost.test:587: connect: no answer from the server within 5 s")
    assert result.evidence["failure"] == {"kind": "timeout", "phase": "connect", "reply": ""}


def test_mails_accepted_and_never_delivered_fail():
    result, _ = run("not-delivered")
    assert result.status == "fail"
    assert result.summary == "none of the 4 test mails arrived within 5 s"
    assert result.remediation == (
        "Look the message up in the provider's activity log: a bounce or a suppression says why.")
    assert result.evidence["mails"] == {kind: {"arrived": False} for kind in KINDS}
    assert result.metrics == {"mails_arrived": 0}


def test_a_provider_signature_and_return_path_fail_dmarc():
    result, _ = run("provider-signature")
    assert result.status == "fail"
    assert result.summary == (
        "every mail: DMARC fails for provider-signature.mail-test.test: nothing passes aligned with it "
        "(DKIM d=mailhost.test pass; SPF pass at bounces.mailhost.test)"
    )
    assert result.remediation == (
        "Have the provider sign with d=provider-signature.mail-test.test (its domain-authentication set-up: "
        "the DKIM CNAME or TXT records it gives) or use a return-path under your domain."
    )
    mail = result.evidence["mails"]["welcome"]
    assert mail["mail_from"] == "bounces+hello=provider-signature.mail-test.test@bounces.mailhost.test"
    assert (mail["dmarc"]["dkim_aligned"], mail["dmarc"]["spf_aligned"]) == (None, False)


def test_unsigned_mail_warns_that_dmarc_rests_on_spf():
    result, _ = run("unsigned")
    assert result.status == "warn"
    assert result.summary == ("every mail: DMARC passes on SPF alone (no signature): forwarding breaks SPF "
                              "and then DMARC")
    assert result.remediation == "Have the provider sign with d=unsigned.mail-test.test as well."
    assert result.evidence["mails"]["invite"]["dkim"] == {"result": "none", "signatures": []}


def test_spf_not_authorising_the_server_warns_when_dkim_carries_dmarc():
    result, sandbox = run("spf-unauthorised")
    out = sandbox.smtp_outbound_address
    assert result.status == "warn"
    assert result.summary == (
        f"every mail: SPF fail for {out} at spf-unauthorised.mail-test.test: {out} matched -all")
    assert result.remediation == (
        "Authorise the provider's servers in the SPF record of spf-unauthorised.mail-test.test.")
    assert result.evidence["mails"]["welcome"]["dmarc"]["result"] == "pass"


def test_a_mismatched_key_fails_dkim_and_with_spf_failing_dmarc():
    result, _ = run("key-mismatch")
    assert result.status == "fail"
    assert result.summary == (
        "every mail: DMARC fails for key-mismatch.mail-test.test: nothing passes aligned with it "
        "(DKIM d=key-mismatch.mail-test.test fail (the signature does not match the message); "
        "SPF fail at key-mismatch.mail-test.test)"
    )
    assert [f["status"] for f in result.evidence["findings"]] == ["fail", "warn"]


def test_a_wrong_password_for_a_tls_server_never_reaches_the_evidence():
    smtp = {"host": "smtp.mailhost.test", "username": "app", "password": "Tr0ub4dor&3-unique",
            "from": "a@login-refused.mail-test.test"}
    result, _ = run("login-refused", smtp=smtp)
    assert result.status == "error"
    assert "Tr0ub4dor" not in repr(result.evidence) + result.summary


def test_no_smtp_settings_is_skipped():
    with Sandbox(load_scenario(MAIL_TEST / "delivered.yaml")) as sandbox, Net(sandbox.profile) as net:
        result = CHECK.run("shop.test", Context(net, ProjectSpec(name="shop", apex="shop.test")))
    assert (result.status, result.summary) == (
        "skipped", "no SMTP sending configured: set the project's SMTP server to test its mails")


def test_no_capture_mailbox_is_error():
    from dataclasses import replace

    scenario = load_scenario(MAIL_TEST / "delivered.yaml")
    spec = spec_from_dict(scenario.project)
    with Sandbox(scenario) as sandbox, Net(replace(sandbox.profile, mailbox=None)) as net:
        result = CHECK.run(spec.smtp.from_domain, Context(net, spec))
    assert result.status == "error"
    assert result.summary == ("could not test: no capture mailbox is configured (MAIL_CAPTURE_DOMAIN and the "
                              "mail_capture server)")


@pytest.mark.parametrize("value, message", [
    ("smtp.example.com",
     "the project's smtp must be a mapping of host, port, security, username, password, from"),
    ({"host": "smtp.example.com"}, "the project's smtp needs a host and a from address"),
    ({"host": "smtp.example.com", "from": "a@b.test", "pasword": "x"},
     "the project's smtp has unknown keys ['pasword']: use host, port, security, username, password, from"),
    ({"host": "smtp.example.com", "from": "a@b.test", "security": "ssl"},
     "SMTP security 'ssl': use one of starttls, tls, none"),
    ({"host": "smtp.example.com", "from": "a@b.test", "port": 70000},
     "SMTP port 70000 is not between 1 and 65535"),
    ({"host": "smtp.example.com", "from": "not-an-address"},
     "From address 'not-an-address' is not like name@example.com"),
    ({"host": "192.0.2.1", "from": "a@b.test"}, "SMTP host: '192.0.2.1' is an IP address, not a hostname"),
])
def test_bad_smtp_settings_are_refused_with_a_clear_message(value, message):
    with pytest.raises(ValueError) as caught:
        spec_from_dict({"apex": "shop.test", "smtp": value})
    assert str(caught.value) == message


def test_a_from_address_at_another_organisation_fails_with_the_right_fix():
    smtp = {"host": "smtp.mailhost.test", "username": "app", "password": "sandbox-password",
            "from": "hello@gmail.test"}
    result, _ = run("delivered", smtp=smtp)
    assert result.status == "fail"
    assert result.summary == (
        "every mail: DMARC fails for gmail.test: nothing passes aligned with it (DKIM "
        "d=delivered.mail-test.test pass; SPF none at gmail.test)"
    )
    assert result.remediation == (
        "Send from an address at delivered.mail-test.test, and have the provider sign with "
        "d=delivered.mail-test.test."
    )
    assert result.evidence["findings"][-1] == {
        "status": "warn", "text": "the From address is at gmail.test, not under the project's domain "
        "delivered.mail-test.test",
    }
    assert result.evidence["from"] == "hello@gmail.test"


def test_the_finding_target_is_the_apex_whatever_the_from_address():
    spec = spec_from_dict({"apex": "shop.test", "smtp": {"host": "smtp.example.com", "from": "a@gmail.test"}})
    assert CHECK.targets(spec) == ["shop.test"]


def test_settings_that_cannot_be_used_as_stored_are_error_and_nothing_is_sent():
    from dataclasses import replace

    scenario = load_scenario(MAIL_TEST / "delivered.yaml")
    spec = spec_from_dict(scenario.project)
    problem = ("the stored SMTP password cannot be decrypted with FIELD_ENCRYPTION_KEYS: enter it again "
               "on the project form")
    spec = replace(spec, smtp=replace(spec.smtp, password="", problem=problem))
    with Sandbox(scenario) as sandbox, Net(sandbox.profile) as net:
        result = CHECK.run(spec.apex, Context(net, spec))
        assert net.counters()["smtp_connections"] == 0
    assert (result.status, result.summary) == (
        "error", "could not test: the stored SMTP password cannot be decrypted with FIELD_ENCRYPTION_KEYS: "
        "enter it again on the project form")
