"""Host names typed by people become DNS names here, or a clear reason why not."""

from __future__ import annotations

import pytest

from checks.engine.hostnames import InvalidHostname, normalize_hostname, subdomain_label
from checks.engine.spec import ProjectSpec


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Example.COM.", "example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("a-b.example.co.uk", "a-b.example.co.uk"),
    ],
)
def test_names_are_lower_case_a_labels_without_the_trailing_dot(value, expected):
    assert normalize_hostname(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("127.1", "'127.1' ends in a number, so browsers read it as an IP address"),
        ("0x7f.1", "'0x7f.1' ends in a number, so browsers read it as an IP address"),
        ("example.123", "'example.123' ends in a number, so browsers read it as an IP address"),
        ("10.0.0.1", "'10.0.0.1' is an IP address, not a hostname"),
        ("localhost", "'localhost' has no domain part"),
        ("https://x.com/", "'https://x.com/' is a URL: give the host name only, like example.com"),
        ("example.com:8443", "'example.com:8443' has a path or a port: give the host name only"),
        ("a_b.example.com", "'a_b.example.com' has an invalid label 'a_b'"),
        ("a" * 64 + ".com", f"{'a' * 64 + '.com'!r} has an invalid label {'a' * 64!r}"),
    ],
)
def test_names_that_are_not_host_names_are_refused_with_the_reason(value, message):
    with pytest.raises(InvalidHostname) as caught:
        normalize_hostname(value)
    assert str(caught.value) == message


def test_a_subdomain_may_be_typed_as_a_label_or_as_the_full_name():
    labels = [subdomain_label(v, "shop.test") for v in ("www", "APP.shop.test.", "eu.api")]
    assert labels == ["www", "app", "eu.api"]


def test_a_project_with_a_runaway_list_of_subdomains_is_refused():
    with pytest.raises(InvalidHostname) as caught:
        ProjectSpec(name="x", apex="shop.test", subdomains=tuple(f"h{i}" for i in range(51)))
    assert str(caught.value) == "a project may have at most 50 subdomains and 100 endpoints"
