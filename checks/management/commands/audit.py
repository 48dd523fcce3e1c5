"""``manage.py audit --scenario FILE [--json]`` or ``--project ID``: a full audit from the shell.

With ``--scenario`` the sandbox is started, the scenario's project is created or updated in
the "Sandbox" agency, audited, and the sandbox stopped. Prints the ranked risk list and the
handover PDF's path, or with ``--json`` one object (documented in the README).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from checks import selectors, services
from checks.engine.spec import INVALID_PROJECT
from checks.models import AuditRun
from checks.network import network_for
from checks.sandbox import ScenarioError, load_scenario
from handover.services import handover_create
from projects.models import Project
from projects.services import project_sync_from_scenario


class Command(BaseCommand):
    help = "Run a full audit of a sandbox scenario or a stored project; print the risk list."

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--scenario", help="a scenario file (YAML or JSON)")
        target.add_argument("--project", type=int, help="the id of a stored project")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--pdf", help="where to write the handover PDF")

    def handle(self, *args, **options):
        self.scenario = None
        project = self._project(options)
        try:
            run = services.audit_start(project=project, dispatch=False)
        except INVALID_PROJECT as exc:
            raise CommandError(f"project {project.pk} cannot be audited: {exc}") from None
        try:
            with network_for(project):  # one sandbox for the run and its stages
                services.audit_execute(run.pk)
        except ScenarioError as exc:
            raise CommandError(str(exc)) from None
        run.refresh_from_db()
        pdf_path = self._pdf(project, run, options.get("pdf"))
        unmet = _unmet_expectations(self.scenario, run) if self.scenario and self.scenario.expect else None
        if options["json"]:
            data = _as_json(run, pdf_path)
            if unmet is not None:
                data["expect"] = {"unmet": unmet}
            self.stdout.write(json.dumps(data, indent=2))
        else:
            self._print(run, pdf_path)
            if unmet is not None:
                self._print_expectations(unmet)
        if run.state != AuditRun.State.DONE:
            raise CommandError(f"audit #{run.number} ended in state {run.state}: {run.error}")
        if unmet:
            # Named in the error too: stdout may be a JSON file or a test's buffer nobody prints.
            named = "; ".join(f"{i['check']} {i['target']}: {i['actual'] or 'no result'}" for i in unmet[:5])
            raise CommandError(f"{len(unmet)} of the scenario's expectations not met ({named})")

    def _project(self, options) -> Project:
        if options["scenario"]:
            try:
                self.scenario = load_scenario(options["scenario"])
                return project_sync_from_scenario(self.scenario)
            except (ScenarioError, ValueError, KeyError) as exc:
                raise CommandError(f"cannot use scenario: {exc}") from None
        try:
            return Project.objects.get(pk=options["project"])
        except Project.DoesNotExist:
            raise CommandError(f"no project with id {options['project']}") from None

    def _pdf(self, project, run, path: str | None) -> Path | None:
        if run.state != AuditRun.State.DONE:
            return None
        document = handover_create(project=project, run=run)
        # Named by the run's id, not its number: two projects can share an apex (a scenario
        # audited here and the demo project), and one's "audit #1" must not overwrite the other's.
        target = Path(path) if path else Path(settings.HANDOVER_DIR) / (
            f"{project.apex_domain}-audit-{run.pk}.pdf"
        )
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(bytes(document.pdf))
        except OSError as exc:
            self.stderr.write(f"Could not write the PDF to {target}: {exc.strerror or exc}; "
                              f"it is kept in the database as handover #{document.pk}.")
            return None
        return target.resolve()

    def _print(self, run: AuditRun, pdf_path: Path | None) -> None:
        write = self.stdout.write
        project = run.project
        summary = selectors.risk_summary(run)
        counts = summary["counts"]
        took = f"{run.duration_s:.1f} s" if run.duration_s is not None else "-"
        write(f"Launch Ready audit #{run.number} of {project.name} ({project.apex_domain}): "
              f"{run.state} in {took}")
        write(", ".join(f"{counts[s]} {s}" for s in ("pass", "warn", "fail", "error", "skipped")))
        write(f"Blockers left: {summary['blockers']}\n")
        risks = selectors.risk_list(run)
        write("Risk list, in fix order:" if risks else "No risks found.")
        for number, result in enumerate(risks, 1):
            write(f"{number:>3}. {result.impact.upper():<8} {result.status:<5} {result.check_id:<24} "
                  f"{result.target}")
            write(f"       {result.summary}")
            if result.remediation:
                write(f"       Fix: {result.remediation}")
        errors = selectors.untested(run)
        if errors:
            write(f"\nCould not test ({len(errors)}):")
            for result in errors:
                write(f"  - {result.check_id} {result.target}: {result.summary}")
        if pdf_path:
            write(f"\nHandover PDF: {pdf_path}")

    def _print_expectations(self, unmet: list[dict]) -> None:
        total = sum(len(t) for t in self.scenario.expect.values())
        self.stdout.write(f"Scenario expectations: {total - len(unmet)} of {total} met")
        for item in unmet:
            self.stdout.write(f"  - {item['check']} {item['target']}: expected {item['expected']}, "
                              f"got {item['actual'] or 'no result'}")


def _unmet_expectations(scenario, run: AuditRun) -> list[dict]:
    """The scenario's ``expect`` entries the run did not meet: ``[{check, target, expected,
    actual}]`` (``actual`` is ``None`` when the run has no such result)."""
    actual = {(r.check_id, r.target): r.status for r in run.results.all()}
    return [
        {"check": check, "target": target, "expected": expected, "actual": actual.get((check, target))}
        for check, targets in scenario.expect.items()
        for target, expected in targets.items()
        if actual.get((check, target)) != expected
    ]


def _as_json(run: AuditRun, pdf_path: Path | None) -> dict:
    ranked = selectors.risk_list(run)
    rest = [r for r in run.results.order_by("stage", "check_id", "target") if r not in ranked]
    return {
        "run": {
            "id": run.pk,
            "number": run.number,  # the project's 1st, 2nd … run: what pages call "Audit #n"
            "project": {"id": run.project_id, "name": run.project.name, "apex": run.project.apex_domain},
            "state": run.state,
            "error": run.error or None,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "duration_s": round(run.duration_s, 3) if run.duration_s is not None else None,
            "counts": selectors.risk_summary(run)["counts"],
            "pdf": str(pdf_path) if pdf_path else None,
        },
        "results": [r.as_dict() for r in ranked + rest],
    }
