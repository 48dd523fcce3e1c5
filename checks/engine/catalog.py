"""``docs/checks.md``, written from the registry so that it cannot drift from the code.

    python -m checks.engine.catalog > docs/checks.md

A test compares the file with this output; change a check's docstring, then regenerate.
"""

from __future__ import annotations

import inspect

from checks.engine.registry import Check, all_checks
from checks.engine.result import Stage

HEADER = """# Checks

Every check the audit runs, from the registry (`checks/engine/checks/`). Each one gives a
verdict per target: `pass`, `warn` or `fail` when it really tested the thing, `error` (with the
reason) when it could not, `skipped` when it does not apply. The risk list orders `fail` and
`warn` by launch impact, then by how many members the target touches.

This page is generated: `python -m checks.engine.catalog > docs/checks.md`.
"""


def render_markdown(checks: list[Check] | None = None) -> str:
    """The whole page as Markdown: a table of every check, then each check's rules."""
    checks = all_checks() if checks is None else checks
    lines = [HEADER, "| id | stage | impact | runs on | quick audit |", "|---|---|---|---|---|"]
    for check in checks:
        lines.append(
            f"| [`{check.id}`](#{_anchor(check.id)}) | {check.stage.number}. {check.stage.title} "
            f"| {check.impact.value} | {_targets(check)} | {'yes' if check.quick else 'no'} |"
        )
    for stage in Stage:
        staged = [c for c in checks if c.stage is stage]
        if not staged:
            continue
        lines += ["", f"## {stage.number}. {stage.title}"]
        for check in staged:
            lines += [
                "",
                f"### `{check.id}`",
                "",
                f"**{check.title}** · impact **{check.impact.value}** · runs on {_targets(check)} · "
                f"time limit {check.timeout_s:g} s",
                "",
                inspect.cleandoc(check.doc),
            ]
    return "\n".join(lines) + "\n"


def _targets(check: Check) -> str:
    doc = inspect.getdoc(check.targets) or check.targets.__name__
    return doc.removeprefix("Targets: ").removeprefix("Target: ").rstrip(".")


def _anchor(check_id: str) -> str:
    return check_id.replace(".", "")


if __name__ == "__main__":
    print(render_markdown(), end="")
