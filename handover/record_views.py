"""The handover record page: staff edit each part, founders read it and sign it.

- ``record_page`` — GET: the record, with the stage 7 checklist judged live from it. POST (staff
  only; a founder gets 403): save one part, named by ``part`` (``texts``, ``secrets``,
  ``access``, ``owners``, ``runbook``). A save that changes anything clears the sign-off.
- ``runbook_adopt`` — POST (staff): add one starter runbook entry by ``key``.
- ``sign`` — POST: staff sign as the consultant; a founder of the project signs as the
  founder, after the consultant — the only write a founder may make.

Tenant data comes only through ``projects.access``: anyone else gets 404.
"""

from __future__ import annotations

from types import SimpleNamespace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from checks.engine.registry import Context, all_checks
from checks.engine.result import Stage
from handover.facts import handover_facts
from handover.forms import (
    AccessEntryFormSet,
    AreaOwnerFormSet,
    RecordForm,
    RunbookEntryFormSet,
    SecretLocationFormSet,
)
from handover.record_context import monitoring_links
from handover.records import (
    SignOffRefused,
    record_of,
    record_or_new,
    runbook_adopt,
    runbook_missing,
    sign,
    sign_off_clear,
)
from handover.runbook_defaults import BY_KEY
from projects import access

# part → (formset class or None for the record form, anchor on the page, words for messages)
PARTS = {
    "texts": (None, "texts", "deploy, rollback and monitoring"),
    "secrets": (SecretLocationFormSet, "secrets", "secret locations"),
    "access": (AccessEntryFormSet, "access", "access map"),
    "owners": (AreaOwnerFormSet, "owners", "owners"),
    "runbook": (RunbookEntryFormSet, "runbook", "runbook"),
}
CLEARED = "The sign-off was cleared: the record changed since it was signed. Sign it again."


# Each stage 7 check and the part of the page it judges, in the page's order.
CHECK_ANCHORS = {
    "handover.deploy_steps": "texts", "handover.rollback": "texts", "handover.monitoring": "texts",
    "handover.secret_locations": "secrets", "handover.access_map": "access", "handover.owners": "owners",
    "handover.runbook": "runbook", "handover.sign_off": "sign-off",
}


def checklist(project) -> list[dict]:
    """The stage 7 checks judged on the record as it is now: ``[{id, title, status, summary,
    anchor}]`` in the page's order. They read only the handover facts (``ctx.project.handover``),
    so no network is used and no other project field is needed."""
    ctx = Context(net=None, project=SimpleNamespace(handover=handover_facts(project)))
    order = list(CHECK_ANCHORS)
    checks = [c for c in all_checks() if c.stage is Stage.HANDOVER]
    rows = []
    for check in sorted(checks, key=lambda c: order.index(c.id) if c.id in order else len(order)):
        result = check.run(project.apex_domain, ctx)
        rows.append({"id": check.id, "title": check.title, "status": str(result.status),
                     "summary": result.summary, "anchor": CHECK_ANCHORS.get(check.id, "checklist")})
    return rows


def _forms(project, record, data=None, part: str | None = None) -> dict:
    """Every part's form; only ``part``'s is bound to ``data``."""
    def bound(name):
        return data if name == part else None

    forms = {"texts": RecordForm(bound("texts"), instance=record, project=project, prefix="texts")}
    for name, (formset, _, _) in PARTS.items():
        if formset is not None:
            forms[name] = formset(bound(name), project=project, prefix=name)
    return forms


@sensitive_post_parameters()  # a refused secret value stays out of error reports
@login_required
def record_page(request, project_id: int):
    """GET: the record; POST ``part``: save that part (staff only). See the module docstring."""
    project = access.project_for(request.user, project_id, write=request.method == "POST")
    record = record_or_new(project)
    part = request.POST.get("part") if request.method == "POST" else None
    if request.method == "POST" and part not in PARTS:
        return HttpResponseBadRequest("Unknown part of the handover record.")
    forms = _forms(project, record, request.POST, part)
    if part is not None:
        form = forms[part]
        if form.is_valid():
            with transaction.atomic():
                changed = form.has_changed()
                form.save()
                cleared = changed and sign_off_clear(record)
            words = PARTS[part][2]
            messages.success(request,
                             f"Saved the {words}." if changed else f"Nothing changed in the {words}.")
            if cleared:
                messages.warning(request, CLEARED)
            return redirect(reverse("handover:record", args=[project.pk]) + "#" + PARTS[part][1])
        messages.error(request, "Nothing was saved: correct the marked fields below.")
        record = record_or_new(project)  # the bound form may have changed the instance
    checks = checklist(project)
    return render(request, "handover/record.html", {
        "project": project,
        "record": record,
        "forms": forms,
        "can_write": access.can_write(request.user, project),
        "is_founder": not access.can_write(request.user, project),
        "checks": checks,
        "missing": [c for c in checks if c["status"] == "fail" and c["id"] != "handover.sign_off"],
        "starters": runbook_missing(project),
        "secrets": project.secret_locations.all(),
        "access_entries": project.access_entries.all(),
        "owners": project.area_owners.all(),
        "runbook": project.runbook_entries.all(),
        "links": monitoring_links(record.monitoring_links),
    })


@login_required
@require_POST
def runbook_adopt_view(request, project_id: int):
    """POST ``key``: add that starter entry to the runbook (staff only), then back to it."""
    project = access.project_for(request.user, project_id, write=True)
    key = request.POST.get("key", "")
    if key not in BY_KEY:
        return HttpResponseBadRequest("Unknown runbook situation.")
    with transaction.atomic():
        entry = runbook_adopt(project, key)
        cleared = entry is not None and sign_off_clear(record_or_new(project))
    if entry is None:
        messages.info(request, f"The runbook already has \u201c{BY_KEY[key].title}\u201d.")
    else:
        messages.success(request, f"Added \u201c{entry.title}\u201d to the runbook: "
                                  "make its steps this project's own.")
    if cleared:
        messages.warning(request, CLEARED)
    anchor = f"#runbook-{entry.pk}" if entry else "#runbook"
    return redirect(reverse("handover:record", args=[project.pk]) + anchor)


@login_required
@require_POST
def sign_view(request, project_id: int):
    """POST: sign the record — as the consultant (staff) or as the founder (a founder of the
    project, after the consultant). Back to the record with what happened."""
    project, role = access.project_for_sign_off(request.user, project_id)
    record = record_of(project)
    try:
        sign(record, request.user, role)
    except SignOffRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "Signed as the consultant. Ask the founder to read it and sign."
                         if role == "consultant" else "Signed as the founder. Thank you.")
    return redirect(reverse("handover:record", args=[project.pk]) + "#sign-off")
