"""Every case of the RFC 7208 test suite against our check_host().

The suite is ``shared/data/rfc7208-tests.yml``, copied to ``tests/data/`` (openspf.org,
release 2014.04, by Stuart D Gathman, Julian Mehnle, Scott Kitterman and others; BSD licence in
``rfc7208-tests.LICENSE`` beside it). Each of its scenarios is converted by
``checks.sandbox.spf_suite`` and served by one sandbox's real DNS server; each case asks
check_host() for its MAIL FROM (or HELO) identity and address through a fresh ``DnsClient``.
A case passes when the result is one of those the suite accepts and, when the suite names an
explanation, ours is exactly that (``DEFAULT``: no exp= explanation). CI prints the count
("RFC 7208 suite: N/N cases pass", from ``tests/conftest.py``).
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from checks.engine.email.spf import check_mail_from
from checks.engine.net.dns import DnsClient
from checks.sandbox import Sandbox, parse_scenario
from checks.sandbox.spf_suite import SuiteCase, load_suite
from tests.conftest import REPO

# A copy of shared/data's file kept in the repository, so a clone anywhere runs it.
SUITE_PATH = REPO / "tests" / "data" / "rfc7208-tests.yml"
SCENARIOS = {scenario.description: scenario for scenario in load_suite(SUITE_PATH)}
CASES = [case for scenario in SCENARIOS.values() for case in scenario.cases]
# The sandbox answers in milliseconds; the suite's TIMEOUT names need not cost 3 s each.
DNS_TIMEOUT_S = 1.0


def _case_id(case: SuiteCase) -> str:
    return re.sub(r"[^a-z0-9]+", "-", case.scenario.lower()).strip("-") + "/" + case.name


@pytest.fixture(scope="module")
def suite_dns():
    """``suite_dns(scenario) -> DnsClient`` on that scenario's sandbox; one sandbox runs at a
    time (the cases come scenario by scenario), each started once."""
    current: dict[str, Sandbox] = {}

    def client(description: str) -> DnsClient:
        if description not in current:
            for box in current.values():
                box.stop()
            current.clear()
            box = Sandbox(parse_scenario(SCENARIOS[description].as_scenario_data()))
            box.start()
            current[description] = box
        profile = dataclasses.replace(current[description].profile, dns_timeout_s=DNS_TIMEOUT_S)
        return DnsClient(profile)

    yield client
    for box in current.values():
        box.stop()


def test_the_suite_has_every_scenario_and_case():
    assert len(SCENARIOS) == 16
    assert len(CASES) == 203


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_the_rfc7208_case_gives_an_accepted_result(case: SuiteCase, suite_dns):
    dns_client = suite_dns(case.scenario)

    outcome = check_mail_from(dns_client, case.host, case.mailfrom, case.helo)

    assert str(outcome.result) in case.results, f"{case.spec}: {outcome.summary}"
    if case.explanation is not None:
        assert outcome.explanation == (None if case.explanation == "DEFAULT" else case.explanation)
