"""Scenario input that cannot be played is refused with a ScenarioError naming the place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checks.sandbox import ScenarioError, load_scenario, parse_scenario
from checks.sandbox.scenario import HOST_KEYS, PROJECT_KEYS, ROUTE_KEYS, TOP_KEYS

HOST = "hosts.www.shop.test"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "scenario: the top level must be a mapping"),
        # The known keys are listed from the parser's own tuples, so a new key needs no edit here.
        ({"host": {}}, f"scenario: unknown key 'host' (known: {', '.join(TOP_KEYS)})"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "/", "header": []}]}}},
         f"scenario: {HOST}.https[0]: unknown key 'header' (known: {', '.join(ROUTE_KEYS)})"),
        ({"hosts": {"www.shop.test": {"certficate": "expired"}}},
         f"scenario: {HOST}: unknown key 'certficate' (known: {', '.join(HOST_KEYS)})"),
        ({"project": {"apex": "shop.test", "prefered_host": "www.shop.test"}},
         f"scenario: project: unknown key 'prefered_host' (known: {', '.join(PROJECT_KEYS)})"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "/", "status": 700}]}}},
         f"scenario: {HOST}.https[0].status must be an HTTP status code, not 700"),
        ({"hosts": {"www.shop.test": {"http": [{"path": "/", "status": "301"}]}}},
         f"scenario: {HOST}.http[0].status must be an HTTP status code, not '301'"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "no-slash"}]}}},
         f"scenario: {HOST}.https[0] must be a mapping with a path starting with '/'"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "/", "headers": [["Location"]]}]}}},
         f"scenario: {HOST}.https[0].headers must be [name, value] pairs"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "/", "stream": "forever"}]}}},
         f"scenario: {HOST}.https[0].stream must be 'endless' if given"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "/", "latency_ms": -1}]}}},
         f"scenario: {HOST}.https[0].latency_ms must be a number from 0 to 3.6e+06, not -1"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "/", "latency_ms": float("inf")}]}}},
         f"scenario: {HOST}.https[0].latency_ms must be a number from 0 to 3.6e+06, not inf"),
        ({"hosts": [1]}, "scenario: hosts must map host names to what they serve"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "/", "headers": 5}]}}},
         f"scenario: {HOST}.https[0].headers must be [name, value] pairs"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "/", "headers": [["X-A", "b\r\nSet-Cookie: x"]]}]}}},
         f"scenario: {HOST}.https[0].headers: the value of X-A has a line break or NUL"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "/", "headers": [["Bad Name", "x"]]}]}}},
         f"scenario: {HOST}.https[0].headers: 'Bad Name' is not a header name"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "/", "body_file": 5}]}}},
         f"scenario: {HOST}.https[0].body_file must be a file name relative to the scenario"),
        ({"hosts": {"www.shop.test": {"certificate": {"san": ["a b.shop.test"]}}}},
         f"scenario: {HOST}.certificate.san: 'a b.shop.test' is not a name a CA issues"),
        ({"hosts": {"www.shop.test": {"certificate": {"days_left": float("nan")}}}},
         f"scenario: {HOST}.certificate.days_left must be a number of days from -36500 to 36500, not nan"),
        ({"hosts": {"www.shop.test": {"tls_versions": "TLSv1.2"}}},
         f"scenario: {HOST}.tls_versions must be a list, like [TLSv1.2, TLSv1.3]"),
        ({"dns": {"a" * 64 + ".shop.test": {"A": ["192.0.2.1"]}}},
         f"scenario: dns: {('a' * 64 + '.shop.test')!r} is not a DNS name "
         "(A DNS label is > 63 octets long.)"),
        ({"hosts": {"www.shop.test": {"https": [{"path": "/", "body": 42}]}}},
         f"scenario: {HOST}.https[0].body must be text, not int"),
        ({"hosts": {"www.shop.test": {"https": "yes"}}},
         f"scenario: {HOST}.https must be a list of routes, false, or 'redirect'"),
        ({"hosts": {"www.shop.test": {"certificate": "revoked"}}},
         f"scenario: {HOST}.certificate must be one of valid, expired, not_yet_valid, wrong_name, "
         "self_signed, leaf_only or a mapping, not 'revoked'"),
        ({"hosts": {"www.shop.test": {"certificate": {"days_left": "soon"}}}},
         f"scenario: {HOST}.certificate.days_left must be a number of days from -36500 to 36500, "
         "not 'soon'"),
        ({"hosts": {"www.shop.test": {"certificate": {"san": "www.shop.test"}}}},
         f"scenario: {HOST}.certificate.san must be a list of names, not 'www.shop.test'"),
        ({"hosts": {"www.shop.test": {"tls_versions": ["SSLv3"]}}},
         f"scenario: {HOST}.tls_versions: 'SSLv3' is not one of ('TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3')"),
        ({"hosts": {"https://www.shop.test/": {}}},
         "scenario: hosts: 'https://www.shop.test/' is a URL: give the host name only, like example.com"),
        ({"dns": {"www.shop.test": {"A": ["not-an-address"]}}},
         "scenario: dns.www.shop.test.A: 'not-an-address' is not a valid A value (Text input is malformed.)"),
        ({"dns": {"www.shop.test": {"AAAA": ["10.0.0.1"]}}},
         "scenario: dns.www.shop.test.AAAA: '10.0.0.1' is not a valid AAAA value (Text input is malformed.)"),
        ({"dns": {"www.shop.test": {"A": "192.0.2.1"}}},
         "scenario: dns.www.shop.test.A must be a list of values"),
        ({"dns": {"www.shop.test": {"ALIAS": ["shop.test"]}}},
         "scenario: dns.www.shop.test.ALIAS: 'ALIAS' is not a DNS record type"),
        ({"dns": {"shop.test": {"MX": [[10]]}}},
         "scenario: dns.shop.test.MX: [10] is not a valid MX value (expecting an identifier)"),
        ({"dns": {"shop.test": {"CAA": [[0, "issue"]]}}},
         "scenario: dns.shop.test.CAA: [0, 'issue'] is not a valid CAA value "
         "(not enough values to unpack (expected 3, got 2))"),
        ({"dns": {"shop.test": {"TXT": [["x" * 256]]}}},
         f"scenario: dns.shop.test.TXT: [{'x' * 256!r}] is not a valid TXT value (too long)"),
        ({"dns": {"shop.test": "NXDOMAIN"}},
         "scenario: dns.shop.test must be records, TIMEOUT or SERVFAIL"),
        ({"dns": {"shop.test": {"A": ["192.0.2.1"], "ttl": "long"}}},
         "scenario: dns.shop.test.ttl must be a number from 0 to 2.14748e+09, not 'long'"),
        ({"expect": {"dns.resolves": "pass"}},
         "scenario: expect must map check id -> {target: status}"),
    ],
)
def test_invalid_scenario_data_is_refused_with_the_place_and_the_reason(data, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data)

    assert str(caught.value) == message


def test_a_file_that_cannot_be_read_is_refused(tmp_path: Path):
    path = tmp_path / "missing.yaml"

    with pytest.raises(ScenarioError, match=re.escape(f"{path}: cannot read (No such file or directory)")):
        load_scenario(path)


def test_a_file_that_is_not_yaml_is_refused_with_the_parser_position(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("hosts: [www.shop.test\n  https: false\n", encoding="utf-8")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert str(caught.value).startswith(f"{path}: not valid YAML: while parsing a flow sequence")
    assert 'line 1, column 8' in str(caught.value)


def test_a_json_scenario_that_is_not_json_is_refused(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text('{"hosts": {', encoding="utf-8")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert str(caught.value) == (
        f"{path}: not valid JSON: "
        "Expecting property name enclosed in double quotes: line 1 column 12 (char 11)"
    )


def test_a_body_file_that_cannot_be_read_is_refused(tmp_path: Path):
    path = tmp_path / "site.yaml"
    path.write_text(
        "hosts:\n  www.shop.test:\n    https: [{path: /, body_file: nope.html}]\n", encoding="utf-8"
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert str(caught.value) == (
        f"{path}: hosts.www.shop.test.https[0].body_file: 'nope.html' is not a regular file"
    )


def test_a_body_file_outside_the_scenarios_folder_is_refused(tmp_path: Path):
    path = tmp_path / "site.yaml"
    path.write_text("hosts:\n  www.shop.test:\n    https: [{path: /, body_file: ../../etc/passwd}]\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert str(caught.value) == (
        f"{path}: hosts.www.shop.test.https[0].body_file: '../../etc/passwd' is outside the scenario's folder"
    )


def test_yaml_aliases_are_refused_so_a_billion_laughs_cannot_be_expanded(tmp_path: Path):
    path = tmp_path / "bomb.yaml"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        prev = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("description: *i")
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert str(caught.value) == f"{path}: YAML anchors and aliases (&name, *name) are not allowed"


def test_a_scenario_file_over_2_mb_is_refused_unread(tmp_path: Path):
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * 2_000_001 + "\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert str(caught.value) == f"{path}: larger than 2 MB"


def test_a_file_error_names_the_file(tmp_path: Path):
    path = tmp_path / "site.yaml"
    path.write_text("hosts:\n  www.shop.test:\n    certificate: revoked\n", encoding="utf-8")

    with pytest.raises(ScenarioError, match=re.escape(f"{path}: hosts.www.shop.test.certificate must be")):
        load_scenario(path)


def test_a_valid_scenario_with_every_record_shape_loads(tmp_path: Path):
    (tmp_path / "index.html").write_text("<h1>shop</h1>", encoding="utf-8")
    path = tmp_path / "site.yaml"
    path.write_text(
        "dns:\n"
        "  shop.test:\n"
        "    MX: [[10, mx.provider.test]]\n"
        "    TXT: [['v=spf1 ', '-all'], [site-verification=1]]\n"
        "    CAA: [[0, issue, letsencrypt.org]]\n"
        "    AAAA: ['2001:db8::1']\n"
        "  api.shop.test: SERVFAIL\n"
        "hosts:\n"
        "  www.shop.test:\n"
        "    https: [{path: /, body_file: index.html}]\n",
        encoding="utf-8",
    )

    scenario = load_scenario(path)

    assert scenario.name == "site"
    assert scenario.dns["api.shop.test"] == "SERVFAIL"
    assert scenario.hosts["www.shop.test"].https[0].body == b"<h1>shop</h1>"
    assert scenario.hosts["www.shop.test"].http[0].status == 301  # the default redirect
