"""/api/v1/… routes, the OpenAPI schema (/api/schema/) and its docs (/api/docs/, Swagger UI
served from drf-spectacular-sidecar's static files: no CDN)."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from launchready.api.views import audits, findings, monitors, projects, records

app_name = "api"
v1 = [
    path("projects/", projects.ProjectList.as_view(), name="project-list"),
    path("projects/<int:project_id>/", projects.ProjectDetail.as_view(), name="project-detail"),
    path("projects/<int:project_id>/audits/", audits.ProjectAudits.as_view(), name="project-audits"),
    path("projects/<int:project_id>/findings/", findings.FindingList.as_view(), name="finding-list"),
    path("projects/<int:project_id>/findings/<int:finding_id>/", findings.FindingDetail.as_view(),
         name="finding-detail"),
    path("projects/<int:project_id>/monitors/", monitors.MonitorList.as_view(), name="monitor-list"),
    path("projects/<int:project_id>/monitors/<int:monitor_id>/", monitors.MonitorDetail.as_view(),
         name="monitor-detail"),
    path("projects/<int:project_id>/deploys/", records.DeployList.as_view(), name="deploy-list"),
    path("projects/<int:project_id>/handover.pdf", records.HandoverPdf.as_view(), name="handover-pdf"),
    path("audits/<int:run_id>/", audits.AuditDetail.as_view(), name="audit-detail"),
]
urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file of its own: no inline script for the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # Anything else under /api/ (a negative id, a typo) answers like the API, not with a page.
    re_path(r"^", csrf_exempt(lambda request: JsonResponse({"detail": "Not found."}, status=404)),
            name="not-found"),
]
