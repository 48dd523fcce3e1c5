"""Findings: a project's list (filtered), one finding, and a person's changes to it — through
``projects.finding_services``, which enforces the lifecycle (only an audit verifies, an
accepted risk needs a reason and an expiry …)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from checks.engine.risk import risk_key
from checks.engine.spec import INVALID_PROJECT
from launchready.api.schema import INVALID, READ_ERRORS, WRITE_ERRORS
from launchready.api.serializers.findings import (
    FindingChangeSerializer,
    FindingFilterSerializer,
    FindingSerializer,
)
from launchready.api.views.base import ApiView
from projects import access, audit_log
from projects.finding_services import (
    FindingChangeError,
    finding_accept,
    finding_set_due,
    finding_set_owner,
    finding_set_status,
    staff_of,
)
from projects.models import Finding

# Query parameter → lookup.
LOOKUPS = {
    "status": "status", "impact": "impact", "stage": "stage", "check": "check_id", "owner": "owner__username",
}


class _NoReach:
    """The reach of a project whose domains no longer parse: unknown, the same for every target."""

    @staticmethod
    def reach(target: str) -> int:
        return 0


@dataclass(frozen=True)
class _Ranked:
    """What ``risk_key`` reads of a finding: its last result's verdict, not its lifecycle status."""

    check_id: str
    stage: str
    impact: str
    target: str
    status: str


def fix_order(findings: list[Finding], project) -> list[Finding]:
    """``findings`` in the risk list's fix order (``checks.engine.risk.risk_key``: impact, then
    reach, fail before warn by the last result, stage, check, target; then id), so the API and
    the page agree on what comes first."""
    try:
        spec = project.spec(facts=False)
    except INVALID_PROJECT:
        spec = _NoReach()
    return sorted(findings, key=lambda f: (*risk_key(_Ranked(f.check_id, f.stage, f.impact, f.target,
                                                              f.last_result_status), spec), f.pk))


class FindingList(ApiView):
    serializer_class = FindingSerializer

    @extend_schema(
        operation_id="findings_list", summary="A project's findings in fix order, as on the risk list",
        parameters=[FindingFilterSerializer],
        responses={200: FindingSerializer(many=True), 400: INVALID, **READ_ERRORS},
    )
    def get(self, request, project_id: int):
        project = access.api_project(request.user, project_id, agency_id=self.scope)
        asked = {name: value for name, value in request.query_params.items() if name in LOOKUPS and value}
        filters = FindingFilterSerializer(data=asked)
        filters.is_valid(raise_exception=True)
        findings = Finding.objects.filter(project=project).select_related("owner").filter(
            **{LOOKUPS[name]: value for name, value in filters.validated_data.items()}
        )
        page = self.paginate_queryset(fix_order(list(findings), project))
        return self.get_paginated_response(FindingSerializer(page, many=True).data)


class FindingDetail(ApiView):
    serializer_class = FindingSerializer

    def get_object(self) -> Finding:
        return access.api_finding(self.request.user, self.kwargs["project_id"], self.kwargs["finding_id"],
                                  agency_id=self.scope)

    @extend_schema(operation_id="findings_retrieve", summary="A finding",
                   responses={200: FindingSerializer, **READ_ERRORS})
    def get(self, request, project_id: int, finding_id: int):
        return Response(FindingSerializer(self.get_object()).data)

    @extend_schema(
        operation_id="findings_partial_update", summary="Change a finding's status, owner or due date",
        description="Allowed moves: open ↔ in_progress; open, in_progress or regressed → fixed; fixed → open "
                    "or in_progress; accepted (with accepted_reason and accepted_until, at most a year) "
                    "from any but verified; accepted → open. Only audits set verified and regressed. "
                    "A refused change answers 400 with the reason, and nothing of the request is applied.",
        request=FindingChangeSerializer, responses={200: FindingSerializer, **WRITE_ERRORS},
    )
    def patch(self, request, project_id: int, finding_id: int):
        finding = self.get_object()
        change = FindingChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                done = _apply(finding, change.validated_data, request.user)
        except FindingChangeError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        what = ", ".join(done) or "no change"
        summary = f"Finding {finding.check_id} on {finding.target}: {what}"
        audit_log.note(request, obj=finding, summary=summary)
        return Response(FindingSerializer(self.get_object()).data)


def _apply(finding: Finding, data: dict, actor) -> list[str]:
    """Make each asked change; what changed, in words. Raises ``FindingChangeError``."""
    done = []
    if "owner" in data:
        owner = None
        if data["owner"]:
            owner = staff_of(finding).filter(username=data["owner"]).first()
            if owner is None:
                raise FindingChangeError("The owner must be an owner or consultant of the agency.")
        if finding_set_owner(finding, actor=actor, owner=owner):
            done.append(f"owner {data['owner'] or 'removed'}")
    if "due_date" in data and finding_set_due(finding, actor=actor, due_date=data["due_date"]):
        done.append(f"due {data['due_date'] or 'removed'}")
    status = data.get("status")
    if status == Finding.Status.ACCEPTED:
        finding_accept(finding, actor=actor, reason=data.get("accepted_reason", ""),
                       until=data.get("accepted_until"))
        done.append(f"accepted until {data.get('accepted_until')}")
    elif status and finding_set_status(finding, actor=actor, status=status, text=data.get("note", "")):
        done.append(f"status {status}")
    return done
