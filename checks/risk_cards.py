"""The risk list's cards, rendered once per state of the findings and kept in the cache.

A risk list of 60 findings is about 100 kB of HTML: rendering it is most of the page's time
(0.3–0.5 ms a card in Django's templates), and a consultant working through the fix order
reloads it again and again. The results of a finished run never change; what the cards show
of their findings (status, owner, due date, acceptance, first run) does. So the cards of a
finished run are cached under a key made of

- the run (``run.pk``: one project's run, reached only after ``projects.access`` allowed it),
  its ``finished_at`` and the id, status and an MD5 of the shown text of each of its results
  (a database restored from a backup reuses ids; a result a late stage wrote or rewrote after
  the run ended is a new key); the project's apex and canonical host (the fix order ranks by
  reach, which they decide);
- a SHA-256 over every shown field of the project's findings, the owner's name included, so
  any change to what a card shows is a new key (an old entry is never read again and expires);
- a SHA-256 of the card templates, so a deploy that changes them never serves old markup.

Nothing in the cards depends on the person asking (founders and consultants see the same
cards; internal comments are not on them), so one entry serves everyone allowed to see the
run. A run still running is rendered fresh each time: its results are still arriving.
"""

from __future__ import annotations

import hashlib
import json
from collections import namedtuple

from django.db.models import TextField
from django.db.models.functions import MD5, Cast, JSONObject
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from checks import selectors
from checks.engine.risk import rank
from checks.models import AuditRun
from launchready import fragments

CARD_TEMPLATES = ("checks/_risk_cards.html", "checks/_result_item.html")
# Only what the summary and the score read, no model instances; and
# ``shown``, an MD5 over what a card shows of the result (computed by PostgreSQL, so the evidence
# is not fetched): a result rewritten in place (``result_record`` is ``update_or_create``) is a
# new key even with the same id and status.
ScoredRow = namedtuple("ScoredRow", "pk stage impact status shown")
SHOWN = MD5(Cast(JSONObject(impact="impact", target="target", summary="summary", remediation="remediation",
                            evidence="evidence"), TextField()))
# Every finding field a card shows (templates/checks/_risk_cards.html).
FINDING_FIELDS = (
    "pk",
    "check_id",
    "target",
    "status",
    "owner_id",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
    "due_date",
    "accepted_until",
    "first_run_id",
)


def scored_rows(run: AuditRun) -> list[ScoredRow]:
    """``(pk, stage, impact, status, shown)`` of each result of ``run`` by id: one query, for
    ``selectors.risk_summary``, ``scoring.readiness`` and ``cards_html``."""
    return [
        ScoredRow(*row) for row in run.results.order_by("pk").annotate(shown=SHOWN)
        .values_list("pk", "stage", "impact", "status", "shown")
    ]


def cards_html(project, run: AuditRun, rows: list[ScoredRow]) -> SafeString:
    """The rendered cards of ``run`` (``project`` is its project, already access-checked;
    ``rows`` its ``scored_rows``); from the cache when the run has finished and nothing shown
    has changed since."""
    if not run.finished:
        return _render(project, run)
    key = _key(project, run, rows)
    html = fragments.cache_get_many([key]).get(key)
    if html is None:
        html = _render(project, run)
        fragments.cache_set_many({key: str(html)})
    return mark_safe(html)  # noqa: S308 - our own template's autoescaped output


def _key(project, run: AuditRun, rows: list[ScoredRow]) -> str:
    shown = {
        "finished_at": run.finished_at,
        # The fix order ranks by reach, read from the project's apex and canonical host.
        "project": (project.pk, project.apex_domain, project.preferred_host),
        "results": [(row.pk, row.status, row.shown) for row in rows],
        "findings": list(project.findings.order_by("pk").values_list(*FINDING_FIELDS)),
    }
    digest = hashlib.sha256(json.dumps(shown, default=str).encode()).hexdigest()
    return f"risk-cards:{fragments.template_digest(*CARD_TEMPLATES)}:{run.pk}:{digest}"


def _render(project, run: AuditRun) -> SafeString:
    """One results query (evidence included) and one findings query, then the templates."""
    results = selectors.ordered_results(run)
    findings = selectors.findings_by_key(project)
    risks = rank(results, project.spec(facts=False))
    untested, passed = selectors.split_untested_passed(results)
    for result in [*risks, *untested, *passed]:
        result.evidence_json = json.dumps(result.evidence, indent=2, ensure_ascii=False, default=str)
    return render_to_string(
        "checks/_risk_cards.html",
        {
            "project": project,
            "run": run,
            "risks": [(r, findings.get((r.check_id, r.target))) for r in risks],
            "untested": untested,
            "passed": passed,
        },
    )
