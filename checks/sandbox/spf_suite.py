"""The RFC 7208 test suite (openspf.org, release 2014.04) as sandbox scenarios.

The suite's YAML holds one document per scenario: ``tests`` (name → host, mailfrom, helo,
expected ``result`` or list of acceptable results, optional ``explanation``) and ``zonedata``
(name → a list of entries). Its zonedata conventions, as the suite's own driver (pyspf's
``testspf.py``) reads them, become a scenario's ``dns`` mapping here:

- ``{TXT: "text"}`` / ``{SPF: "text"}`` is one RR of one string; ``{SPF: ["a", "b"]}`` one RR
  of two strings. ``SPF`` is type 99. A name with SPF records and no TXT entry also gets them
  as TXT ("auto-magic duplication", the suite's header says): RFC 7208 uses TXT only.
- ``{TXT: NONE}`` stops that duplication: the name has no TXT records.
- ``TIMEOUT`` as an entry: every query for a type the name does not list never answers; as the
  only entry, the whole name never answers.
- ``MX: [0, ""]`` is the null MX (RFC 7505), ``0 .``.
- An RR with no strings at all (``SPF: []``, "null text") cannot be built — dnspython refuses
  an empty TXT — and is left out; the suite's comment calls it illegal anyway.

Names become lower case in dnspython's text form (``macro%percent  space`` is written
``macro%percent\\032\\032space``, as the DNS server reads the question).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.name
import yaml

# Types a query may ask for; a name with a TIMEOUT entry times out for each one it lacks.
QUERY_TYPES = ("A", "AAAA", "MX", "PTR", "TXT", "SPF", "CNAME")


@dataclass(frozen=True)
class SuiteCase:
    """One test: check_host() for ``host`` with this MAIL FROM and HELO must give one of
    ``results``; ``explanation`` is the exp= text expected (``DEFAULT``: none)."""

    scenario: str
    name: str
    spec: str
    host: str
    mailfrom: str
    helo: str
    results: tuple[str, ...]
    explanation: str | None = None

    @property
    def id(self) -> str:
        return f"{self.scenario}/{self.name}"


@dataclass(frozen=True)
class SuiteScenario:
    """One YAML document: its description, its cases and its zone as scenario ``dns`` data."""

    description: str
    cases: tuple[SuiteCase, ...]
    dns: dict[str, Any]

    def as_scenario_data(self) -> dict:
        """Scenario data for ``parse_scenario``: the zone, nothing else."""
        return {"name": self.description, "dns": self.dns}


def load_suite(path: str | Path) -> list[SuiteScenario]:
    """Every scenario of the suite file at ``path``, in file order."""
    documents = yaml.safe_load_all(Path(path).read_text(encoding="utf-8"))
    return [_scenario(doc) for doc in documents if doc]


def _scenario(doc: dict) -> SuiteScenario:
    description = str(doc["description"])
    cases = tuple(
        SuiteCase(
            scenario=description,
            name=str(name),
            spec=str(test.get("spec", "")),
            host=str(test["host"]),
            mailfrom=str(test.get("mailfrom") or ""),
            helo=str(test.get("helo") or ""),
            results=tuple(test["result"]) if isinstance(test["result"], list) else (str(test["result"]),),
            explanation=str(test["explanation"]) if "explanation" in test else None,
        )
        for name, test in doc["tests"].items()
    )
    return SuiteScenario(description, cases, zone_from_suite(doc.get("zonedata") or {}))


def zone_from_suite(zonedata: dict) -> dict[str, Any]:
    """The suite's ``zonedata`` as a scenario ``dns`` mapping (see the module docstring)."""
    zone: dict[str, Any] = {}
    for raw_name, entries in zonedata.items():
        name = dns.name.from_text(str(raw_name)).to_text(omit_final_dot=True).lower()
        zone[name] = _node(entries or [])
    return zone


def _node(entries: list) -> dict | str:
    records: dict[str, list] = {}
    timeout, no_txt = False, False
    for entry in entries:
        if entry == "TIMEOUT":
            timeout = True
            continue
        for rdtype, value in entry.items():
            rdtype = str(rdtype).upper()
            if rdtype == "TXT" and value == "NONE":
                no_txt = True
                continue
            records.setdefault(rdtype, [])
            rdata = _value(rdtype, value)
            if rdata is not None:
                records[rdtype].append(rdata)
    if "TXT" not in records and not no_txt and "SPF" in records:
        records["TXT"] = list(records["SPF"])
    records = {rdtype: values for rdtype, values in records.items() if values}
    if timeout:
        if not records:
            return "TIMEOUT"
        records.update({rdtype: "TIMEOUT" for rdtype in QUERY_TYPES if rdtype not in records})
    return records


def _value(rdtype: str, value: Any) -> Any:
    if rdtype in ("TXT", "SPF"):
        strings = [str(s) for s in value] if isinstance(value, list) else [str(value)]
        return strings or None  # an RR with no strings cannot be built
    if rdtype == "MX":
        preference, host = value
        return [int(preference), str(host) or "."]
    return str(value)
