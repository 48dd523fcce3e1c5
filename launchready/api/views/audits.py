"""Audits: start one (202 with the run's id), list a project's runs, read a run's progress
and results."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from checks import services
from checks.engine.spec import INVALID_PROJECT
from checks.models import AuditRun
from launchready.api.schema import READ_ERRORS, WRITE_ERRORS
from launchready.api.serializers.records import (
    AuditRunDetailSerializer,
    AuditRunSerializer,
    AuditStartedSerializer,
    AuditStartSerializer,
)
from launchready.api.views.base import ApiView
from projects import access, audit_log


class ProjectAudits(ApiView):
    serializer_class = AuditRunSerializer

    def _project(self):
        return access.api_project(self.request.user, self.kwargs["project_id"], agency_id=self.scope)

    @extend_schema(operation_id="audits_list", summary="A project's audit runs, newest first",
                   responses={200: AuditRunSerializer(many=True), **READ_ERRORS})
    def get(self, request, project_id: int):
        runs = AuditRun.objects.filter(project=self._project()).order_by("-created_at", "-id")
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(AuditRunSerializer(page, many=True).data)

    @extend_schema(
        operation_id="audits_start", summary="Start an audit",
        description="Queues a full audit (or the quick subset); poll GET /api/v1/audits/{id}/ for its "
                    "progress. 400 when the project cannot be audited as stored (the reason is given).",
        request=AuditStartSerializer,
        responses={202: OpenApiResponse(AuditStartedSerializer, "Queued"), **WRITE_ERRORS},
    )
    def post(self, request, project_id: int):
        project = self._project()
        options = AuditStartSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        try:
            quick = options.validated_data["quick"]
            run = services.audit_start(project=project, user=request.user, quick=quick)
        except INVALID_PROJECT as exc:
            raise ValidationError({"non_field_errors": [f"This project cannot be audited: {exc}"]}) from None
        audit_log.note(request, obj=run, summary=f"Started {run.label} of “{project.name}”")
        body = {"id": run.pk, "number": run.number, "state": run.state, "planned_count": run.planned_count}
        location = reverse("api:audit-detail", args=[run.pk])
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class AuditDetail(ApiView):
    serializer_class = AuditRunDetailSerializer

    @extend_schema(operation_id="audits_retrieve", summary="An audit run: progress and results so far",
                   responses={200: AuditRunDetailSerializer, **READ_ERRORS})
    def get(self, request, run_id: int):
        run = access.api_run(request.user, run_id, agency_id=self.scope)
        run.progress_data = services.run_progress(run)
        run.results_list = list(run.results.order_by("stage", "check_id", "target"))
        return Response(AuditRunDetailSerializer(run).data)
