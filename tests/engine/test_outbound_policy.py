"""The outbound policy (SSRF guard): which addresses the engine may connect to, and proof end
to end that a refused address is never connected to."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading

import pytest

from checks.engine.net.policy import OutboundPolicy, OutboundRefused
from checks.engine.net.session import Net
from tests.engine.support import redirect, run_check


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local (cloud metadata range)"),
        ("169.254.0.1", "link-local (cloud metadata range)"),
        ("fe80::1", "link-local (cloud metadata range)"),
        ("fe80::1%eth0", "link-local (cloud metadata range)"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "embeds 127.0.0.1, which is loopback"),
        ("::ffff:10.0.0.1", "embeds 10.0.0.1, which is private"),
        ("::ffff:169.254.169.254", "embeds 169.254.169.254, which is link-local (cloud metadata range)"),
        ("2002:7f00:1::", "embeds 127.0.0.1, which is loopback"),  # 6to4
        ("2002:a9fe:a9fe::1", "embeds 169.254.169.254, which is link-local (cloud metadata range)"),
        ("64:ff9b::a00:1", "embeds 10.0.0.1, which is private"),  # NAT64
        ("100.64.0.1", "shared address space (carrier-grade NAT)"),
        ("192.0.2.80", "documentation range (RFC 5737, RFC 3849, RFC 9637)"),
        ("2001:db8::1", "documentation range (RFC 5737, RFC 3849, RFC 9637)"),
    ],
)
def test_the_policy_refuses_non_public_addresses_and_says_why(address, reason):
    policy = OutboundPolicy()

    assert policy.refusal(address) == f"outbound policy refused {address}: {reason}"
    with pytest.raises(OutboundRefused, match=r"^outbound policy refused "):
        policy.check(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "2a00:1450:4001:80b::200e"])
def test_the_policy_allows_public_unicast_addresses(address):
    policy = OutboundPolicy()

    assert policy.refusal(address) is None
    policy.check(address)  # does not raise


def test_a_value_that_is_not_an_address_is_refused():
    assert OutboundPolicy().refusal("localhost") == "'localhost' is not an IP address"


def test_allowed_networks_open_only_that_block():
    policy = OutboundPolicy(allowed_networks=("127.42.7.0/24",))

    assert policy.refusal("127.42.7.10") is None
    assert policy.refusal("127.42.8.10") == "outbound policy refused 127.42.8.10: loopback"
    assert policy.refusal("127.0.0.1") == "outbound policy refused 127.0.0.1: loopback"
    assert policy.refusal("10.0.0.1") == "outbound policy refused 10.0.0.1: private"
    # The IPv4-mapped form of an allowed address is still judged by what it embeds.
    assert policy.refusal("::ffff:127.42.7.10") == (
        "outbound policy refused ::ffff:127.42.7.10: embeds 127.42.7.10, which is loopback"
    )


def test_the_sandbox_profile_allows_its_own_block_only(sandbox):
    box, net = sandbox({"hosts": {"www.shop.test": {}}})

    assert box.profile.allowed_networks == (f"{box.network}.0/24",)
    assert box.profile.policy.refusal(box.addresses["www.shop.test"]) is None
    assert box.profile.policy.refusal("127.0.0.1") == "outbound policy refused 127.0.0.1: loopback"


# End to end: DNS points a host outside the sandbox's block.

CONNECTING_CHECKS = ("tls.certificate", "http.https_redirect", "http.hsts")

INTERNAL = {
    "internal.shop.test": ("10.0.0.5", "private"),
    "metadata.shop.test": ("169.254.169.254", "link-local (cloud metadata range)"),
    "local.shop.test": ("127.0.0.1", "loopback"),
}


@contextlib.contextmanager
def _listener(address: str, port: int):
    """A real listening socket at a refused address: it must never see a connection."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen()
        sock.setblocking(False)
        yield sock


def _accepted(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def _internal_scenario() -> dict:
    return {"dns": {host: {"A": [address]} for host, (address, _) in INTERNAL.items()}}


@pytest.mark.parametrize("host", sorted(INTERNAL))
def test_a_host_pointing_outside_the_sandbox_is_refused_before_any_connection(sandbox, host):
    box, net = sandbox(_internal_scenario())
    address, reason = INTERNAL[host]
    refusal = f"outbound policy refused {address}: {reason}"

    exchange = net.http.fetch(f"https://{host}/")

    assert (exchange.status, exchange.error_kind, exchange.error) == (None, "policy", refusal)
    assert net.counters()["connections_opened"] == 0


@pytest.mark.parametrize("host", sorted(INTERNAL))
def test_every_check_of_a_refused_host_is_an_error_with_the_refusal(sandbox, host):
    box, net = sandbox(_internal_scenario())
    address, reason = INTERNAL[host]
    refusal = f"outbound policy refused {address}: {reason}"

    results = {check: run_check(net, check, host) for check in CONNECTING_CHECKS}

    assert {check: (r.status, r.summary) for check, r in results.items()} == {
        "tls.certificate": ("error", f"could not test: {refusal}"),
        "http.https_redirect": ("error", f"could not test: {refusal}"),
        "http.hsts": ("error", f"could not test: {refusal}"),
    }
    tls_evidence = results["tls.certificate"].evidence
    assert (tls_evidence["error_kind"], tls_evidence["address"]) == ("policy", None)
    assert results["http.https_redirect"].evidence["chain"][0]["error_kind"] == "policy"
    assert results["http.hsts"].evidence["error_kind"] == "policy"
    assert net.counters()["connections_opened"] == 0


def test_a_listener_at_a_refused_loopback_address_never_sees_a_connection(sandbox):
    box, net = sandbox(_internal_scenario())

    # Real listeners on 127.0.0.1 at the very ports the profile maps 80 and 443 to.
    with _listener("127.0.0.1", box.profile.port(443)) as tls_side, \
            _listener("127.0.0.1", box.profile.port(80)) as http_side:
        statuses = [run_check(net, check, "local.shop.test").status for check in CONNECTING_CHECKS]
        reached = (_accepted(tls_side), _accepted(http_side))

    assert statuses == ["error", "error", "error"]
    assert reached == (False, False)
    assert net.counters()["connections_opened"] == 0


def test_a_redirect_into_private_space_is_refused_at_that_hop(sandbox):
    box, net = sandbox({
        "dns": {"internal.shop.test": {"A": ["10.0.0.5"]}},
        "hosts": {"www.shop.test": {"http": redirect("https://internal.shop.test/admin")}},
    })

    chain = net.http.follow("http://www.shop.test/")

    assert chain.end == "error"
    assert [(h.url, h.status, h.error_kind) for h in chain.hops] == [
        ("http://www.shop.test/", 301, None),
        ("https://internal.shop.test/admin", None, "policy"),
    ]
    assert chain.hops[1].error == "outbound policy refused 10.0.0.5: private"
    assert net.counters()["connections_opened"] == 1  # the sandbox host only


def test_a_profile_without_the_sandbox_block_refuses_the_sandbox_itself(sandbox):
    box, _ = sandbox({"hosts": {"www.shop.test": {}}})

    with Net(dataclasses.replace(box.profile, allowed_networks=())) as net:
        exchange = net.http.fetch("https://www.shop.test/")
        counters = net.counters()

    address = box.addresses["www.shop.test"]
    assert (exchange.error_kind, exchange.error) == ("policy", f"outbound policy refused {address}: loopback")
    assert counters["connections_opened"] == 0
    assert box.https.requests == 0


def test_the_sandbox_block_is_open_only_on_the_sandbox_ports():
    policy = OutboundPolicy(("127.9.9.0/24",), (18080, 18443))

    assert policy.refusal("127.9.9.10", 18443) is None
    assert policy.refusal("127.9.9.10", 8000) == (
        "outbound policy refused 127.9.9.10 port 8000: only ports 18080, 18443 are allowed there"
    )


def test_a_redirect_to_another_port_on_a_sandbox_address_never_connects(sandbox):
    """Every 127/8 address reaches a service bound to 0.0.0.0: a listener on another port of
    the machine must not be reachable through the sandbox's block."""
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: _accept(listener, accepted), daemon=True).start()
    box, net = sandbox({"hosts": {"www.shop.test": {"http": [
        {"path": "/*", "status": 301, "headers": [["Location", f"http://www.shop.test:{port}/admin"]]}
    ]}}})

    chain = net.http.follow("http://www.shop.test/")

    listener.close()
    assert chain.end == "error"
    assert chain.final.error_kind == "policy"
    assert chain.final.error == (
        f"outbound policy refused {box.addresses['www.shop.test']} port {port}: only ports "
        f"{box.http.port}, {box.https.port}, {box.dns.port} are allowed there"
    )
    assert accepted == []


def _accept(listener, accepted):
    with contextlib.suppress(OSError):
        accepted.append(listener.accept())


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("fec0::1", "site-local (deprecated private range)"),
        ("3fff::1", "documentation range (RFC 5737, RFC 3849, RFC 9637)"),
        ("192.0.0.8", "not globally routable"),
    ],
)
def test_older_special_ranges_are_refused_too(address, reason):
    assert OutboundPolicy().refusal(address) == f"outbound policy refused {address}: {reason}"
