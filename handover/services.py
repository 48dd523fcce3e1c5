"""Compose the handover checklist from stored facts and results; render it to PDF."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone

from checks.selectors import latest_finished_run, risk_list, risk_summary, untested
from handover.models import HandoverDocument


def handover_context(project, run) -> dict:
    """Everything the handover template shows; built from stored rows only (no network)."""
    dns = {}
    if run is not None:
        for result in run.results.filter(check_id="dns.resolves"):
            dns[result.target] = result
    hosts = [{"name": h, "dns": dns.get(h)} for h in project.spec().hosts]
    return {
        "project": project,
        "run": run,
        "generated_at": timezone.now(),
        "hosts": hosts,
        "endpoints": list(project.endpoints.all()),
        "risks": risk_list(run) if run else [],
        "untested": untested(run) if run else [],
        "summary": risk_summary(run) if run else None,
        "findings": {(f.check_id, f.target): f for f in project.findings.all()},
    }


def handover_render(project, run) -> bytes:
    """The handover PDF of ``project`` as of ``run`` (WeasyPrint)."""
    from weasyprint import HTML

    html = render_to_string("handover/handover.html", handover_context(project, run))
    return HTML(string=html).write_pdf()


def handover_create(*, project, user=None, run=None) -> HandoverDocument:
    """Render and keep a new handover PDF from ``run`` (default: the latest finished run)."""
    run = run or latest_finished_run(project)
    pdf = handover_render(project, run)
    return HandoverDocument.objects.create(
        project=project, run=run, pdf=pdf, size_bytes=len(pdf), created_by=user
    )
