"""Projects: list, create, read, change. Writes go through the project form (``ProjectForm``)
so the API validates exactly as the page does."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from launchready.api.schema import READ_ERRORS, WRITE_ERRORS
from launchready.api.serializers.forms import form_errors
from launchready.api.serializers.projects import API_FIELD, ProjectSerializer, form_data
from launchready.api.views.base import ApiView
from projects import access, audit_log
from projects.forms import ProjectForm
from projects.models import Agency, Project


class ProjectList(ApiView):
    serializer_class = ProjectSerializer

    def get_queryset(self):
        return (access.api_projects(self.request.user, agency_id=self.scope)
                .select_related("agency").prefetch_related("endpoints").order_by("name", "id"))

    @extend_schema(operation_id="projects_list", summary="The projects you may see",
                   responses={200: ProjectSerializer(many=True), **READ_ERRORS})
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProjectSerializer(page, many=True).data)

    @extend_schema(operation_id="projects_create", summary="Create a project",
                   request=ProjectSerializer, responses={201: ProjectSerializer, **WRITE_ERRORS})
    def post(self, request):
        serializer = ProjectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        agencies = self._agencies()
        agency = _agency(agencies, changes.pop("agency", None))
        form = ProjectForm({**form_data(None, changes), "agency": agency.pk}, agencies=agencies)
        if not form.is_valid():
            raise ValidationError(form_errors(form, API_FIELD))
        form.instance.created_by = request.user
        with transaction.atomic():
            project = form.save()
        audit_log.note(request, agency=agency, obj=project, summary=f"Created project “{project.name}”")
        return Response(ProjectSerializer(_fresh(project)).data, status=status.HTTP_201_CREATED)

    def _agencies(self):
        agencies = access.staff_agencies(self.request.user)
        return agencies.filter(pk=self.scope) if self.scope is not None else agencies


def _agency(agencies, slug: str | None) -> Agency:
    """The agency a new project goes to: the one named, or the only one; else 400."""
    if slug:
        agency = agencies.filter(slug=slug).first()
        if agency is None:
            raise ValidationError({"agency": ["You cannot create projects in that agency."]})
        return agency
    found = list(agencies[:2])
    if len(found) != 1:
        raise ValidationError({"agency": ["You are staff of several agencies: name one (its slug)."]})
    return found[0]


def _fresh(project: Project) -> Project:
    return Project.objects.select_related("agency").prefetch_related("endpoints").get(pk=project.pk)


class ProjectDetail(ApiView):
    serializer_class = ProjectSerializer

    def get_object(self) -> Project:
        return access.api_project(self.request.user, self.kwargs["project_id"], agency_id=self.scope)

    @extend_schema(operation_id="projects_retrieve", summary="A project",
                   responses={200: ProjectSerializer, **READ_ERRORS})
    def get(self, request, project_id: int):
        return Response(ProjectSerializer(_fresh(self.get_object())).data)

    @extend_schema(operation_id="projects_partial_update", summary="Change a project",
                   description="Fields left out stay as they are; SMTP settings are changed on the page.",
                   request=ProjectSerializer(partial=True),
                   responses={200: ProjectSerializer, **WRITE_ERRORS})
    def patch(self, request, project_id: int):
        project = self.get_object()
        serializer = ProjectSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        changes.pop("agency", None)  # a project never moves to another agency
        form = ProjectForm(form_data(project, changes), instance=project,
                           agencies=access.staff_agencies(request.user))
        if not form.is_valid():
            raise ValidationError(form_errors(form, API_FIELD))
        with transaction.atomic():
            if "endpoints" in changes:
                form.save()
            else:  # keep the endpoints' rows (their p95 targets) when they are not changed
                form.save(commit=False).save()
        fields = ", ".join(sorted(changes)) or "nothing"
        audit_log.note(request, obj=project, summary=f"Changed project “{project.name}”: {fields}")
        return Response(ProjectSerializer(_fresh(project)).data)
