"""tls.key_strength on the certificates the sandbox serves, and the per-certificate rules on
real certificates built with cryptography (an intermediate is never served by the sandbox)."""

from __future__ import annotations

import datetime as dt

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from checks.engine.checks.tls_protocols import chain_findings
from checks.engine.net.tls import CertInfo
from checks.sandbox import ScenarioError, parse_scenario
from checks.sandbox.certs import new_key, sign
from tests.engine.support import run_check

NOW = dt.datetime.now(dt.UTC)


def _strength(sandbox, **certificate):
    box, net = sandbox({"hosts": {"www.shop.test": {"certificate": certificate}}})
    return box, net, run_check(net, "tls.key_strength", "www.shop.test")


def _leaf(result) -> dict:
    return result.evidence["certificates"][0]


def test_the_default_ec_p256_sha256_leaf_passes(sandbox):
    box, net, result = _strength(sandbox)

    assert result.status == "pass"
    assert result.summary == (
        "www.shop.test: strong keys and signatures "
        "(1 certificate served; leaf: EC secp256r1 256-bit key, ecdsa-with-SHA256)"
    )
    assert result.metrics == {"leaf_key_bits": 256}
    assert result.evidence["address"] == box.addresses["www.shop.test"]
    leaf = _leaf(result)
    assert {k: v for k, v in leaf.items() if k != "subject"} == {
        "position": 0, "role": "leaf", "key_type": "EC secp256r1", "key_bits": 256,
        "signature_algorithm": "ecdsa-with-SHA256", "signature_hash": "sha256",
        "verdict": "pass", "problems": [],
    }


def test_an_rsa_2048_leaf_passes_and_stays_trusted(sandbox):
    box, net, result = _strength(sandbox, key="rsa2048")

    assert result.status == "pass"
    assert result.summary == (
        "www.shop.test: strong keys and signatures "
        "(1 certificate served; leaf: RSA 2048-bit key, ecdsa-with-SHA256)"
    )
    assert result.metrics == {"leaf_key_bits": 2048}
    assert run_check(net, "tls.certificate", "www.shop.test").status == "pass"


def test_an_rsa_1024_leaf_fails(sandbox):
    box, net, result = _strength(sandbox, key="rsa1024")

    assert result.status == "fail"
    assert result.summary == "www.shop.test: leaf certificate has a 1024-bit RSA key (2048 bits at least)"
    assert result.metrics == {"leaf_key_bits": 1024}
    assert (_leaf(result)["verdict"], _leaf(result)["problems"]) == (
        "fail", ["leaf certificate has a 1024-bit RSA key (2048 bits at least)"],
    )
    assert result.remediation == (
        "Reissue the certificate with an ECDSA P-256 key or an RSA key of 2048 bits or more."
    )
    # Issued by the trusted test CA: OpenSSL rejects the key's strength, not the chain.
    assert net.tls.probe("www.shop.test").verify_message == "EE certificate key too weak"


def test_a_sha1_signed_leaf_fails(sandbox):
    box, net, result = _strength(sandbox, signature="sha1")

    assert result.status == "fail"
    assert result.summary == "www.shop.test: leaf certificate is signed with SHA-1 (ecdsa-with-SHA1)"
    leaf = _leaf(result)
    assert (leaf["signature_algorithm"], leaf["signature_hash"]) == ("ecdsa-with-SHA1", "sha1")
    assert result.remediation == "Reissue the certificate: public CAs sign with SHA-256 or stronger today."
    assert net.tls.probe("www.shop.test").verify_message == "CA signature digest algorithm too weak"


def test_a_weak_key_and_a_sha1_signature_are_both_reported(sandbox):
    box, net, result = _strength(sandbox, key="rsa1024", signature="sha1")

    assert result.status == "fail"
    assert result.summary == "www.shop.test: leaf certificate has a 1024-bit RSA key (2048 bits at least)"
    assert _leaf(result)["problems"] == [
        "leaf certificate has a 1024-bit RSA key (2048 bits at least)",
        "leaf certificate is signed with SHA-1 (ecdsa-with-SHA1)",
    ]
    assert result.remediation == (
        "Reissue the certificate with an ECDSA P-256 key or an RSA key of 2048 bits or more. "
        "Reissue the certificate: public CAs sign with SHA-256 or stronger today."
    )


def test_a_self_signed_sha1_rsa_leaf_is_judged_like_any_leaf(sandbox):
    box, net, result = _strength(sandbox, kind="self_signed", key="rsa1024", signature="sha1")

    assert result.status == "fail"
    assert _leaf(result)["problems"] == [
        "leaf certificate has a 1024-bit RSA key (2048 bits at least)",
        "leaf certificate is signed with SHA-1 (sha1WithRSAEncryption)",
    ]


def test_a_host_with_nothing_on_port_443_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"mail.shop.test": {"https": False}}})

    result = run_check(net, "tls.key_strength", "mail.shop.test")

    address = box.addresses["mail.shop.test"]
    assert (result.status, result.summary) == ("error", f"could not test: {address}:443: Connection refused")
    assert result.evidence == {"host": "mail.shop.test", "address": address, "error_kind": "connect"}


def test_a_host_that_does_not_resolve_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})

    result = run_check(net, "tls.key_strength", "admin.shop.test")

    assert result.status == "error"
    assert result.summary == "could not test: admin.shop.test does not exist (NXDOMAIN)"
    assert result.evidence["error_kind"] == "dns"


# The rules per certificate, on real certificates: an intermediate and a root sent along.

def _info(cert: x509.Certificate) -> CertInfo:
    return CertInfo.from_der(cert.public_bytes(serialization.Encoding.DER))


def _ca_cert(subject: str, issuer_name: x509.Name, key, issuer_key, signature: str) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    return sign(builder, issuer_key, signature)


@pytest.fixture(scope="module")
def root():
    ca = trustme.CA(organization_name="Key strength test CA")
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), None)
    return x509.load_pem_x509_certificate(ca.cert_pem.bytes()), key


def test_an_intermediate_signed_with_sha1_fails(root):
    root_cert, root_key = root
    intermediate = _ca_cert("Weak intermediate", root_cert.subject, new_key("ec256"), root_key, "sha1")

    entry, problems = chain_findings(_info(intermediate), 1)

    assert (entry["role"], entry["verdict"], entry["problems"]) == (
        "intermediate", "fail", ["intermediate certificate is signed with SHA-1 (ecdsa-with-SHA1)"],
    )
    assert [(p.status, p.aspect) for p in problems] == [("fail", "signature")]
    # The signature is real: the root's key verifies it with SHA-1.
    root_key.public_key().verify(intermediate.signature, intermediate.tbs_certificate_bytes,
                                 ec.ECDSA(hashes.SHA1()))


def test_an_intermediate_with_an_rsa_1024_key_fails(root):
    root_cert, root_key = root
    intermediate = _ca_cert("Small intermediate", root_cert.subject, new_key("rsa1024"), root_key, "sha256")

    entry, _ = chain_findings(_info(intermediate), 1)

    assert (entry["role"], entry["key_bits"], entry["problems"]) == (
        "intermediate", 1024, ["intermediate certificate has a 1024-bit RSA key (2048 bits at least)"],
    )


def test_a_root_sent_along_is_exempt_from_the_signature_rule_but_not_the_key_rule():
    key = new_key("rsa1024")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old root")])
    old_root = _ca_cert("Old root", name, key, key, "sha1")

    entry, _ = chain_findings(_info(old_root), 1)

    assert (entry["role"], entry["signature_hash"], entry["problems"]) == (
        "root", "sha1", ["root certificate has a 1024-bit RSA key (2048 bits at least)"],
    )


def test_an_ed25519_leaf_warns_since_public_cas_do_not_issue_it(root):
    root_cert, root_key = root
    key = ed25519.Ed25519PrivateKey.generate()
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.shop.test")]))
        .issuer_name(root_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=90))
        .sign(root_key, hashes.SHA384())
    )

    entry, _ = chain_findings(_info(leaf), 0)

    assert (entry["verdict"], entry["signature_algorithm"], entry["problems"]) == (
        "warn", "ecdsa-with-SHA384",
        ["leaf certificate's Ed25519 key is not a type public CAs may issue (RSA and ECDSA only)"],
    )


@pytest.mark.parametrize(
    ("certificate", "message"),
    [
        ({"key": "rsa512"}, "scenario: hosts.www.shop.test.certificate.key must be one of ec256, rsa2048, "
                            "rsa1024, not 'rsa512'"),
        ({"signature": "md5"}, "scenario: hosts.www.shop.test.certificate.signature must be one of sha256, "
                               "sha1, not 'md5'"),
    ],
)
def test_a_key_or_signature_the_sandbox_cannot_issue_is_refused(certificate, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"hosts": {"www.shop.test": {"certificate": certificate}}})

    assert str(caught.value) == message
