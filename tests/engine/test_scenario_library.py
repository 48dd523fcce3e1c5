"""scenarios/README.md indexes one scenario per fault; every row must be in that scenario's
``expect`` with the same verdict (test_scenarios.py then proves the audit gives it)."""

from __future__ import annotations

import re

import pytest

from checks.sandbox import load_scenario
from tests.conftest import SCENARIOS

CELL = r"\| (?P<{}>[^|]+) "
COLUMNS = ("fault", "file", "check", "target", "status")
ROW = re.compile("^" + "".join(CELL.format(name) for name in COLUMNS) + r"\|$")


def _rows() -> list[dict]:
    text = (SCENARIOS / "README.md").read_text(encoding="utf-8")
    rows = [m.groupdict() for line in text.splitlines() if (m := ROW.match(line))]
    return [{k: v.strip() for k, v in row.items()} for row in rows if row["file"].strip() != "Scenario"]


ROWS = _rows()


def test_the_index_lists_the_faults():
    assert len(ROWS) >= 60
    assert len({r["fault"] for r in ROWS}) == len(ROWS), "a fault is listed twice"


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["fault"])
def test_each_indexed_fault_is_expected_by_its_scenario(row):
    scenario = load_scenario(SCENARIOS / row["file"])

    assert scenario.expect.get(row["check"], {}).get(row["target"]) == row["status"]
