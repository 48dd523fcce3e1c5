"""Uptime monitors: a project's list, create, read, change (pause and resume too) and delete.
Writes go through the page's monitor form and the monitoring service, as the page's do."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from checks.forms import MonitorForm, apply_errors
from checks.models import Monitor
from checks.monitoring import services as monitoring
from launchready.api.schema import FORBIDDEN, NOT_FOUND, READ_ERRORS, UNAUTHORIZED, WRITE_ERRORS
from launchready.api.serializers.forms import form_errors
from launchready.api.serializers.monitors import MonitorSerializer, form_data
from launchready.api.views.base import ApiView
from projects import access, audit_log

VALIDATION = ("The page's rules: an http(s) URL without user name or password, not an address the outbound "
              "policy refuses; GET or HEAD; an interval of 30 s to 1 h among the page's choices; a timeout "
              "of 1 to 30 s, shorter than the interval; expected status 100 to 599; down after 1 to 10 "
              "failures; a keyword only with GET. A refused value answers 400 with the page's message.")


class MonitorList(ApiView):
    """A project's uptime monitors, by name; and a new one."""

    serializer_class = MonitorSerializer

    @extend_schema(operation_id="monitors_list", summary="A project's uptime monitors",
                   responses={200: MonitorSerializer(many=True), **READ_ERRORS})
    def get(self, request, project_id: int):
        project = access.api_project(request.user, project_id, agency_id=self.scope)
        page = self.paginate_queryset(Monitor.objects.filter(project=project).order_by("name", "id"))
        return self.get_paginated_response(MonitorSerializer(page, many=True).data)

    @extend_schema(operation_id="monitors_create", summary="Add an uptime monitor",
                   description=f"Fields left out take the page's defaults; the first probe is due at once. "
                               f"{VALIDATION}",
                   request=MonitorSerializer, responses={201: MonitorSerializer, **WRITE_ERRORS})
    def post(self, request, project_id: int):
        project = access.api_project(request.user, project_id, agency_id=self.scope)
        serializer = MonitorSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        form = MonitorForm(form_data(None, serializer.validated_data))
        if not form.is_valid():
            raise ValidationError(form_errors(form))
        try:
            monitor = monitoring.monitor_create(project, **form.cleaned_data)
        except DjangoValidationError as exc:
            apply_errors(form, exc)
            raise ValidationError(form_errors(form)) from None
        audit_log.note(request, agency=project.agency_id, obj=monitor,
                       summary=f"Added monitor “{monitor.name}”")
        return Response(MonitorSerializer(monitor).data, status=status.HTTP_201_CREATED)


class MonitorDetail(ApiView):
    """One uptime monitor of the project (another project's answers 404)."""

    serializer_class = MonitorSerializer

    def get_object(self) -> Monitor:
        return access.api_monitor(self.request.user, self.kwargs["project_id"], self.kwargs["monitor_id"],
                                  agency_id=self.scope)

    @extend_schema(operation_id="monitors_retrieve", summary="An uptime monitor",
                   responses={200: MonitorSerializer, **READ_ERRORS})
    def get(self, request, project_id: int, monitor_id: int):
        return Response(MonitorSerializer(self.get_object()).data)

    @extend_schema(
        operation_id="monitors_partial_update", summary="Change a monitor; pause or resume it",
        description="Fields left out stay as they are. `enabled: false` pauses the monitor (no probes; an "
                    "open incident is closed without an alert), `true` resumes it (due at once). A changed "
                    "URL, method, expected status or keyword starts its state afresh (`unknown`). "
                    f"{VALIDATION} Nothing of a refused request is applied.",
        request=MonitorSerializer(partial=True), responses={200: MonitorSerializer, **WRITE_ERRORS},
    )
    def patch(self, request, project_id: int, monitor_id: int):
        monitor = self.get_object()
        serializer = MonitorSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        form = MonitorForm.for_monitor(monitor, form_data(monitor, changes))
        if not form.is_valid():
            raise ValidationError(form_errors(form))
        agency_id, was_enabled = monitor.project.agency_id, monitor.enabled
        try:
            monitor = monitoring.monitor_update(monitor, **form.cleaned_data)
        except DjangoValidationError as exc:
            apply_errors(form, exc)
            raise ValidationError(form_errors(form)) from None
        done = sorted(name for name in changes if name != "enabled")
        if monitor.enabled != was_enabled:
            done.append("resumed" if monitor.enabled else "paused")
        audit_log.note(request, agency=agency_id, obj=monitor,
                       summary=f"Changed monitor “{monitor.name}”: {', '.join(done) or 'nothing'}")
        return Response(MonitorSerializer(monitor).data)

    @extend_schema(operation_id="monitors_destroy", summary="Delete a monitor, with its probes and incidents",
                   request=None,
                   responses={204: None, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND})
    def delete(self, request, project_id: int, monitor_id: int):
        monitor = self.get_object()
        # Noted before the delete: the row (its id, its agency) is gone after it.
        audit_log.note(request, agency=monitor.project.agency_id, obj=monitor,
                       summary=f"Deleted monitor “{monitor.name}”, with its probes and incidents")
        monitoring.monitor_delete(monitor)
        return Response(status=status.HTTP_204_NO_CONTENT)
