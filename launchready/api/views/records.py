"""Read-only lists of a project: its deploy events; and its handover PDF. (Monitors: ``monitors``.)"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation

from handover.models import HandoverDocument
from launchready.api.schema import NOT_FOUND, READ_ERRORS, UNAUTHORIZED
from launchready.api.serializers.records import DeployEventSerializer
from launchready.api.views.base import ApiView
from projects import access
from projects.models import DeployEvent


class DeployList(ApiView):
    serializer_class = DeployEventSerializer

    @extend_schema(operation_id="deploys_list", summary="A project's deploys and rollbacks, newest first",
                   responses={200: DeployEventSerializer(many=True), **READ_ERRORS})
    def get(self, request, project_id: int):
        project = access.api_project(request.user, project_id, agency_id=self.scope)
        events = DeployEvent.objects.filter(project=project).order_by("-deployed_at", "-id")
        page = self.paginate_queryset(events)
        return self.get_paginated_response(DeployEventSerializer(page, many=True).data)


class JsonErrors(BaseContentNegotiation):
    """Whatever the client accepts (``application/pdf``, ``?format=pdf``), errors are JSON; the
    PDF itself is a plain response that no renderer touches."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class HandoverPdf(ApiView):
    """The project's latest handover PDF (generated on the project page or by ``manage.py
    audit``). Errors are JSON."""

    content_negotiation_class = JsonErrors

    @extend_schema(
        operation_id="handover_pdf", summary="The project's latest handover PDF",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, "The PDF, as an attachment"),
            (401, "application/json"): UNAUTHORIZED,
            (404, "application/json"): NOT_FOUND,
        },
    )
    def get(self, request, project_id: int):
        project = access.api_project(request.user, project_id, agency_id=self.scope)
        document = HandoverDocument.objects.filter(project=project).order_by("-created_at", "-id").first()
        if document is None:
            raise NotFound("No handover PDF yet: generate one on the project page.")
        response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
        return response
