"""docs/checks.md is the registry written out; it must not drift from the code."""

from checks.engine.catalog import render_markdown
from checks.engine.registry import all_checks
from tests.conftest import REPO


def test_docs_checks_md_is_what_the_registry_generates():
    assert (REPO / "docs" / "checks.md").read_text() == render_markdown(), (
        "docs/checks.md is stale: run `python -m checks.engine.catalog > docs/checks.md`"
    )


def test_every_check_is_documented_with_its_rules_and_their_source():
    page = render_markdown()
    for check in all_checks():
        assert f"### `{check.id}`" in page
        assert "RFC" in check.doc, f"{check.id}: the docstring names no RFC for its rules"
        for verdict in ("pass", "fail", "error"):
            assert f"{verdict}:" in check.doc, f"{check.id}: the docstring says nothing of {verdict}"
