"""edge.cloudflare and edge.origin_exposure against the sandbox's real DNS, HTTPS and TLS
servers; the shipped Cloudflare ranges; the refresh of those ranges and its command.

A sandbox host with ``edge: cloudflare`` gets an address in ``<network>.224/27``, which the
sandbox's profile declares as Cloudflare's ranges (with ``2001:db8:cf::/48``), and answers with
``Server: cloudflare`` and a ``CF-RAY``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from checks.engine.cloudflare import (
    DATA_FILE,
    CloudflareRanges,
    RangesRefreshError,
    parse_range_list,
    refresh_ranges,
    shipped_ranges,
)
from checks.engine.net.session import Net
from checks.engine.registry import Context, all_checks
from checks.engine.spec import ProjectSpec
from checks.management.commands import refresh_cloudflare_ranges as command
from checks.sandbox import Sandbox, ScenarioError, parse_scenario
from tests.engine.support import route

CF = {"edge": "cloudflare"}
RAY = re.compile(r"^[0-9a-f]{16}-SBX$")
NOT_CLOUDFLARE = "not a Cloudflare project: no host of the project resolves into Cloudflare's ranges"


def _run(net: Net, check_id: str, target: str, *, apex: str, subdomains: tuple[str, ...]):
    """Run one check directly (no exception boundary: a crash fails the test)."""
    project = ProjectSpec(name="test", apex=apex, subdomains=subdomains)
    check = {c.id: c for c in all_checks()}[check_id]
    return check.run(target, Context(net, project))


def _cloudflare(net, target, subdomains=("www",), apex="cf.test"):
    return _run(net, "edge.cloudflare", target, apex=apex, subdomains=subdomains)


def _exposure(net, target, subdomains=("www",), apex="cf.test"):
    return _run(net, "edge.origin_exposure", target, apex=apex, subdomains=subdomains)


# ---------------------------------------------------------------------------------------------
# The shipped data


def test_the_shipped_ranges_hold_cloudflare_addresses_and_not_others():
    ranges = shipped_ranges()

    assert str(ranges.network_of("104.16.0.1")) == "104.16.0.0/13"
    assert str(ranges.network_of("2606:4700::1")) == "2606:4700::/32"
    assert str(ranges.network_of("::ffff:104.16.0.1")) == "104.16.0.0/13"  # IPv4-mapped
    assert ranges.contains("8.8.8.8") is False
    assert ranges.contains("2001:4860:4860::8888") is False
    assert ranges.contains("not an address") is False


def test_the_shipped_file_says_where_it_comes_from_and_that_it_was_transcribed():
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))

    assert data["source"] == ["https://www.cloudflare.com/ips-v4", "https://www.cloudflare.com/ips-v6"]
    assert date.fromisoformat(data["fetched"]) == date(2026, 11, 30)
    assert data["note"].startswith("Transcribed on 2026-11-30, not fetched")
    assert len(data["ipv4"]) == 15 and len(data["ipv6"]) == 7
    # The shipped lists pass the rules a fetched list must pass.
    assert parse_range_list("\n".join(data["ipv4"]).encode(), 4, "v4") == data["ipv4"]
    assert parse_range_list("\n".join(data["ipv6"]).encode(), 6, "v6") == data["ipv6"]
    assert shipped_ranges().as_evidence()["fetched"] == "2026-11-30"


def test_the_age_of_the_data_is_counted_in_whole_days_from_its_date():
    ranges = CloudflareRanges((), source="test", fetched="2026-11-30")

    assert ranges.age_days(date(2027, 1, 4)) == 35
    assert CloudflareRanges((), source="test").age_days() is None


def test_a_project_seen_with_the_shipped_ranges_is_not_a_cloudflare_project(sandbox):
    box, _ = sandbox({"hosts": {"www.cf.test": CF}})
    with Net(dataclasses.replace(box.profile, cloudflare_ranges=None)) as net:
        result = _cloudflare(net, "www.cf.test")

    assert result.status == "skipped"
    assert result.summary == NOT_CLOUDFLARE
    ranges = result.evidence["ranges"]
    assert ranges["source"] == "https://www.cloudflare.com/ips-v4, https://www.cloudflare.com/ips-v6"
    assert ranges["fetched"] == "2026-11-30"
    assert ranges["age_days"] == (date.today() - date(2026, 11, 30)).days
    assert ranges["note"].startswith("Transcribed")


# ---------------------------------------------------------------------------------------------
# The sandbox's `edge: cloudflare`


def test_an_edge_host_answers_plain_http_with_cloudflare_headers_too(sandbox):
    box, net = sandbox({"hosts": {"www.cf.test": CF, "cf.test": {}}})

    proxied = net.http.fetch("http://www.cf.test/")
    dns_only = net.http.fetch("http://cf.test/")

    assert (proxied.status, proxied.header("server")) == (301, "cloudflare")
    assert RAY.match(proxied.header("cf-ray"))
    assert (dns_only.header("server"), dns_only.header("cf-ray")) == (None, None)
    assert box.profile.cloudflare_ranges == (f"{box.network}.224/27", "2001:db8:cf::/48")


def test_edge_must_name_a_known_proxy():
    with pytest.raises(ScenarioError) as raised:
        parse_scenario({"hosts": {"www.cf.test": {"edge": "akamai"}}})

    assert str(raised.value) == "scenario: hosts.www.cf.test.edge must be one of cloudflare, not 'akamai'"


def test_a_scenario_may_declare_at_most_31_edge_hosts():
    hosts = {f"h{i}.cf.test": CF for i in range(32)}

    with pytest.raises(ScenarioError) as raised:
        Sandbox(parse_scenario({"hosts": hosts}))

    assert str(raised.value) == "a scenario may declare at most 31 hosts with edge: cloudflare"


# ---------------------------------------------------------------------------------------------
# edge.cloudflare


def test_a_proxied_host_passes_with_its_address_and_cloudflare_headers(sandbox):
    box, net = sandbox({"hosts": {"www.cf.test": CF}})

    result = _cloudflare(net, "www.cf.test")

    address = box.addresses["www.cf.test"]
    ray = result.evidence["headers"]["cf-ray"]
    assert result.status == "pass"
    assert result.summary == f"www.cf.test is proxied by Cloudflare: {address} in its ranges, CF-RAY {ray}"
    assert RAY.match(ray)
    assert result.evidence["headers"]["server"] == "cloudflare"
    assert address == f"{box.network}.224"
    assert result.evidence["addresses"] == [
        {"address": address, "cloudflare": True, "range": f"{box.network}.224/27"}
    ]
    assert result.evidence["proxied_hosts"] == ["www.cf.test"]
    assert result.evidence["ranges"] == {
        "source": "the network profile (sandbox or test)", "fetched": None, "age_days": None,
    }
    assert result.metrics == {"addresses": 1, "addresses_in_ranges": 1}


def test_a_dns_only_host_in_a_cloudflare_project_warns_that_it_is_exposed(sandbox):
    box, net = sandbox({"hosts": {"cf.test": {}, "www.cf.test": CF}})

    result = _cloudflare(net, "cf.test")

    address = box.addresses["cf.test"]
    assert result.status == "warn"
    assert result.summary == (
        f"cf.test is DNS-only: it resolves to {address}, outside Cloudflare's ranges, while "
        "www.cf.test is proxied; its traffic reaches the origin without Cloudflare's WAF and DDoS protection"
    )
    assert address == f"{box.network}.10"
    assert result.evidence["addresses"] == [{"address": address, "cloudflare": False, "range": None}]
    assert result.evidence["headers"] == {"server": None, "cf-ray": None}
    assert result.metrics == {"addresses": 1, "addresses_in_ranges": 0}
    assert result.remediation.startswith("Turn the proxy on (orange cloud) for the A/AAAA/CNAME records")


def test_a_host_with_addresses_in_and_out_of_the_ranges_warns(sandbox):
    box, net = sandbox({
        "dns": {"mixed.cf.test": {"A": ["192.0.2.10"], "AAAA": ["2001:db8:cf::10"]}},
        "hosts": {"www.cf.test": CF},
    })

    result = _cloudflare(net, "mixed.cf.test", subdomains=("www", "mixed"))

    assert result.status == "warn"
    assert result.summary == (
        "mixed.cf.test resolves both into Cloudflare's ranges (2001:db8:cf::10) and outside them "
        "(192.0.2.10): part of its traffic bypasses Cloudflare"
    )
    assert result.evidence["addresses"] == [
        {"address": "192.0.2.10", "cloudflare": False, "range": None},
        {"address": "2001:db8:cf::10", "cloudflare": True, "range": "2001:db8:cf::/48"},
    ]
    # The sandbox's outbound policy refuses both: the addresses alone make the finding.
    assert result.evidence["response"]["error_kind"] == "policy"
    assert result.metrics == {"addresses": 2, "addresses_in_ranges": 1}


def test_a_cloudflare_address_answering_without_cloudflare_headers_warns(sandbox):
    box, net = sandbox({"hosts": {"www.cf.test": {**CF, "https": [route("/*", 200, ("Server", "nginx"))]}}})

    result = _cloudflare(net, "www.cf.test")

    assert result.status == "warn"
    assert result.summary == (
        f"www.cf.test resolves into Cloudflare's ranges ({box.addresses['www.cf.test']}), but its "
        "response lacks Cloudflare's headers (Server: nginx, no CF-RAY)"
    )
    assert result.evidence["headers"] == {"server": "nginx", "cf-ray": None}


def test_cloudflare_headers_from_outside_the_ranges_warn(sandbox):
    spoof = [route("/*", 200, ("Server", "cloudflare"), ("CF-RAY", "8c1f2a3b4d5e6f70-AMS"))]
    box, net = sandbox({"hosts": {"www.cf.test": CF, "app.cf.test": {"https": spoof}}})

    result = _cloudflare(net, "app.cf.test", subdomains=("www", "app"))

    assert result.status == "warn"
    assert result.summary == (
        "app.cf.test answers with Cloudflare's headers but resolves outside Cloudflare's published "
        f"ranges ({box.addresses['app.cf.test']})"
    )
    assert result.evidence["headers"] == {"server": "cloudflare", "cf-ray": "8c1f2a3b4d5e6f70-AMS"}
    assert "refresh_cloudflare_ranges" in result.remediation


def test_a_host_of_a_project_without_cloudflare_is_skipped(sandbox):
    box, net = sandbox({"hosts": {"cf.test": {}, "www.cf.test": {}}})

    result = _cloudflare(net, "www.cf.test")

    assert result.status == "skipped"
    assert result.summary == NOT_CLOUDFLARE
    assert result.evidence["proxied_hosts"] == []


def test_a_host_without_an_address_in_a_cloudflare_project_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"www.cf.test": CF}})

    result = _cloudflare(net, "admin.cf.test", subdomains=("www", "admin"))

    assert result.status == "error"
    assert result.summary == "could not test: admin.cf.test does not exist (NXDOMAIN)"


def test_a_cloudflare_address_whose_https_cannot_be_read_is_an_error(sandbox):
    box, net = sandbox({"hosts": {"www.cf.test": {**CF, "https": False}}})

    result = _cloudflare(net, "www.cf.test")

    assert result.status == "error"
    assert result.summary.startswith(
        "could not test: www.cf.test resolves into Cloudflare's ranges, but its HTTPS response "
        "could not be read ("
    )
    assert result.evidence["response"]["error_kind"] == "connect"


# ---------------------------------------------------------------------------------------------
# edge.origin_exposure


def test_a_dns_only_host_answering_for_a_proxied_host_exposes_the_origin(sandbox):
    box, net = sandbox({"hosts": {"cf.test": {}, "www.cf.test": CF}})

    result = _exposure(net, "www.cf.test")

    origin = box.addresses["cf.test"]
    assert result.status == "warn"
    assert result.summary == (
        f"origin exposed: cf.test ({origin}) answers for www.cf.test with a valid certificate"
    )
    assert result.evidence["candidates"] == [{
        "name": "cf.test", "source": "project host", "address": origin,
        "outcome": "answers for www.cf.test with a valid certificate", "exposed": True,
    }]
    assert result.evidence["names"]["www.cf.test"] == {
        "source": "the host itself", "addresses": [box.addresses["www.cf.test"]],
    }
    assert result.evidence["names"]["origin.cf.test"] == {
        "source": "common origin name", "error": "origin.cf.test does not exist (NXDOMAIN)",
    }
    assert result.metrics == {"candidates": 1, "exposed": 1}
    assert result.remediation.startswith("Let the origin accept HTTP(S) from Cloudflare's ranges only")


def test_an_origin_that_refuses_and_a_mail_server_out_of_reach_pass(sandbox):
    box, net = sandbox({
        "dns": {
            "cf.test": {"MX": [[20, "mx2.cf.test"], [10, "mx1.cf.test"], [30, "."]]},
            "mx1.cf.test": {"A": ["192.0.2.25"]},
            "mx2.cf.test": {"CNAME": ["www.cf.test"]},  # a proxied address: not a candidate
        },
        "hosts": {"cf.test": CF, "www.cf.test": CF, "origin.cf.test": {"https": False, "http": False}},
    })

    result = _exposure(net, "www.cf.test")

    origin = box.addresses["origin.cf.test"]
    assert result.status == "pass"
    assert result.summary == (
        "no origin found: none of 2 candidate addresses answers for www.cf.test with a certificate naming it"
    )
    [refused, mail] = result.evidence["candidates"]
    assert (refused["name"], refused["source"], refused["address"], refused["exposed"]) == (
        "origin.cf.test", "common origin name", origin, False,
    )
    assert refused["outcome"].startswith(f"no answer for www.cf.test: {origin}:443: ")
    assert "refused" in refused["outcome"].lower()
    assert mail == {
        "name": "mx1.cf.test", "source": "MX of cf.test", "address": "192.0.2.25", "exposed": False,
        "outcome": "not tried: outbound policy refused 192.0.2.25: "
                   "documentation range (RFC 5737, RFC 3849, RFC 9637)",
    }
    assert result.evidence["names"]["mx2.cf.test"] == {
        "source": "MX of cf.test", "addresses": [box.addresses["www.cf.test"]],
    }
    assert result.metrics == {"candidates": 2, "exposed": 0}


def test_an_origin_with_an_untrusted_certificate_naming_the_host_is_still_exposed(sandbox):
    """A Cloudflare Origin CA or self-signed certificate: `curl -k` reaches the site anyway."""
    box, net = sandbox({"hosts": {"cf.test": {}, "www.cf.test": {**CF, "certificate": "self_signed"}}})

    result = _exposure(net, "www.cf.test")

    origin = box.addresses["cf.test"]
    assert result.status == "warn"
    assert result.summary == (
        f"origin exposed: cf.test ({origin}) answers for www.cf.test with a certificate that names it "
        "but does not verify (self-signed certificate)"
    )
    assert result.evidence["candidates"][0]["exposed"] is True


def test_an_answer_with_another_hosts_certificate_is_not_an_exposure(sandbox):
    box, net = sandbox({"hosts": {"cf.test": {}, "www.cf.test": {**CF, "certificate": "wrong_name"}}})

    result = _exposure(net, "www.cf.test")

    assert result.status == "pass"
    assert result.evidence["candidates"][0]["outcome"] == (
        "answers with a certificate for wrong-host.www.cf.test.invalid, not www.cf.test"
    )


def test_candidates_are_capped_at_20_addresses(sandbox):
    many = [f"198.51.100.{i}" for i in range(1, 31)]
    box, net = sandbox({"dns": {"origin.cf.test": {"A": many}}, "hosts": {"www.cf.test": CF}})

    result = _exposure(net, "www.cf.test")

    assert result.status == "pass"
    tried = [c["address"] for c in result.evidence["candidates"]]
    assert len(tried) == 20 and set(tried) < set(many)  # in the order of the DNS answer
    assert result.evidence["left_out"] == 10
    assert result.metrics == {"candidates": 20, "exposed": 0}


def test_a_proxied_host_without_any_candidate_passes_saying_so(sandbox):
    box, net = sandbox({"hosts": {"cf.test": CF}})

    result = _exposure(net, "cf.test", subdomains=())

    assert result.status == "pass"
    assert result.summary == (
        "no candidate origin address for cf.test: its own records, the project's other hosts, "
        "the common origin names and the apex's MX targets have none outside Cloudflare's ranges"
    )
    assert result.evidence["candidates"] == []


def test_origin_exposure_skips_dns_only_hosts_and_projects_without_cloudflare(sandbox):
    box, net = sandbox({"hosts": {"cf.test": {}, "www.cf.test": CF}})
    _, plain = sandbox({"hosts": {"cf.test": {}, "www.cf.test": {}}})

    dns_only = _exposure(net, "cf.test")
    not_cloudflare = _exposure(plain, "www.cf.test")
    absent = _exposure(net, "admin.cf.test", subdomains=("www", "admin"))

    assert (dns_only.status, dns_only.summary) == (
        "skipped", "cf.test is DNS-only (not behind Cloudflare): no origin to hide",
    )
    assert not_cloudflare.status == "skipped"
    assert not_cloudflare.summary.startswith("not a Cloudflare project")
    assert (absent.status, absent.summary) == (
        "error", "could not test: admin.cf.test does not exist (NXDOMAIN)",
    )


def test_a_pinned_handshake_goes_to_the_given_address_through_the_policy(sandbox):
    box, net = sandbox({"hosts": {"cf.test": {}, "www.cf.test": CF}})

    pinned = net.tls.probe("www.cf.test", address=box.addresses["cf.test"])
    refused = net.tls.probe("www.cf.test", address="10.0.0.1")

    assert (pinned.address, pinned.verified, pinned.leaf.san_dns) == (
        box.addresses["cf.test"], True, ["www.cf.test"],
    )
    assert (refused.error_kind, refused.error) == ("policy", "outbound policy refused 10.0.0.1: private")
    assert net.tls.probe("www.cf.test").address == box.addresses["www.cf.test"]  # not the pinned one


# ---------------------------------------------------------------------------------------------
# Refreshing the ranges


V4 = "173.245.48.0/20\n103.21.244.0/22\n104.16.0.0/13\n"
V6 = "2400:cb00::/32\n2606:4700::/32\n"


def _lists(v4: str | list = V4, v6: str | list = V6) -> dict:
    """www.cloudflare.com serving the two lists: each a body (200, text/plain) or routes."""
    routes = []
    for path, served in (("/ips-v4", v4), ("/ips-v6", v6)):
        if isinstance(served, list):
            routes += served
        else:
            routes.append(route(path, 200, ("Content-Type", "text/plain"), body=served))
    return {"hosts": {"www.cloudflare.com": {"https": routes}}}


def test_refresh_writes_both_lists_with_the_date(sandbox, tmp_path):
    _, net = sandbox(_lists())
    output = tmp_path / "cloudflare_ips.json"

    data = refresh_ranges(net.http, output, today=date(2026, 12, 1))

    expected = {
        "source": ["https://www.cloudflare.com/ips-v4", "https://www.cloudflare.com/ips-v6"],
        "fetched": "2026-12-01",
        "ipv4": ["173.245.48.0/20", "103.21.244.0/22", "104.16.0.0/13"],
        "ipv6": ["2400:cb00::/32", "2606:4700::/32"],
    }
    assert data == expected
    assert json.loads(output.read_text(encoding="utf-8")) == expected
    assert [p.name for p in tmp_path.iterdir()] == ["cloudflare_ips.json"]  # no temporary left


HOSTILE = {
    "an HTML page": (
        {"v4": "<!doctype html><title>Just a moment...</title>"},
        "https://www.cloudflare.com/ips-v4: refused: line 1 "
        "('<!doctype html><title>Just a moment...</title>') is not a CIDR range",
    ),
    "an empty answer": ({"v6": "\n\n"}, "https://www.cloudflare.com/ips-v6: refused: the list is empty"),
    "a garbage line": (
        {"v4": V4 + "hello\n"},
        "https://www.cloudflare.com/ips-v4: refused: line 4 ('hello') is not a CIDR range",
    ),
    "host bits set": (
        {"v4": "104.16.0.1/13\n"},
        "https://www.cloudflare.com/ips-v4: refused: line 1 ('104.16.0.1/13') is not a CIDR range",
    ),
    "IPv6 in the IPv4 list": (
        {"v4": V6},
        "https://www.cloudflare.com/ips-v4: refused: line 1 ('2400:cb00::/32') is not an IPv4 range",
    ),
    "the whole internet": (
        {"v4": "0.0.0.0/0\n"},
        "https://www.cloudflare.com/ips-v4: refused: line 1 ('0.0.0.0/0') is wider than /8",
    ),
    "a private range": (
        {"v4": "10.0.0.0/8\n"},
        "https://www.cloudflare.com/ips-v4: refused: line 1 ('10.0.0.0/8') is not a public range (private)",
    ),
    "not ASCII": (
        {"v6": "2400:cb00::/32 ☁\n"},
        "https://www.cloudflare.com/ips-v6: refused: the answer is not ASCII text",
    ),
    "oversized": (
        {"v4": "104.16.0.0/13\n" * 5000},
        "https://www.cloudflare.com/ips-v4: refused: the answer is larger than 65536 bytes",
    ),
    "a 404": (
        {"v6": [route("/other")]},
        "https://www.cloudflare.com/ips-v6: refused: answered HTTP 404, not 200",
    ),
    "a redirect to plain HTTP": (
        {"v4": [route("/ips-v4", 301, ("Location", "http://www.cloudflare.com/ips-v4"))]},
        "https://www.cloudflare.com/ips-v4: refused: a redirect leads to plain HTTP "
        "(http://www.cloudflare.com/ips-v4)",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_refresh_refuses_a_hostile_answer_and_leaves_the_file_alone(sandbox, tmp_path, case):
    lists, message = HOSTILE[case]
    _, net = sandbox(_lists(**lists))
    output = tmp_path / "cloudflare_ips.json"
    output.write_text("the old file\n", encoding="utf-8")

    with pytest.raises(RangesRefreshError) as raised:
        refresh_ranges(net.http, output, today=date(2026, 12, 1))

    assert str(raised.value) == message
    assert output.read_text(encoding="utf-8") == "the old file\n"
    assert [p.name for p in tmp_path.iterdir()] == ["cloudflare_ips.json"]


def test_refresh_of_an_endless_answer_is_refused_at_the_body_cap(sandbox, tmp_path):
    _, net = sandbox(_lists(v4=[route("/ips-v4", 200, stream="endless", body=V4)]))

    with pytest.raises(RangesRefreshError, match="larger than 65536 bytes"):
        refresh_ranges(net.http, tmp_path / "out.json")

    assert list(tmp_path.iterdir()) == []


def test_the_command_writes_the_file_through_the_profile_it_is_given(sandbox, tmp_path, monkeypatch):
    box, _ = sandbox(_lists())
    monkeypatch.setattr(command, "production_profile", lambda: box.profile)  # the one seam
    output = tmp_path / "ranges.json"

    out = StringIO()
    call_command("refresh_cloudflare_ranges", "--output", str(output), stdout=out)

    fetched = date.today().isoformat()
    assert out.getvalue() == f"wrote 3 IPv4 and 2 IPv6 ranges (fetched {fetched}) to {output}\n"
    assert json.loads(output.read_text(encoding="utf-8"))["fetched"] == fetched


def test_the_command_exits_non_zero_on_a_refused_answer_and_keeps_the_file(
    sandbox, tmp_path, monkeypatch, capsys,
):
    box, _ = sandbox(_lists(v6="<html>captive portal</html>"))
    monkeypatch.setattr(command, "production_profile", lambda: box.profile)
    output = tmp_path / "ranges.json"
    output.write_text("the old file\n", encoding="utf-8")

    with pytest.raises(CommandError) as raised:
        call_command("refresh_cloudflare_ranges", "--output", str(output))
    with pytest.raises(SystemExit) as exited:
        command.Command().run_from_argv(["manage.py", "refresh_cloudflare_ranges", "--output", str(output)])

    assert str(raised.value) == (
        "https://www.cloudflare.com/ips-v6: refused: line 1 ('<html>captive portal</html>') is not a "
        f"CIDR range; {output} was not changed"
    )
    assert exited.value.code == 1
    assert "captive portal" in capsys.readouterr().err
    assert output.read_text(encoding="utf-8") == "the old file\n"

