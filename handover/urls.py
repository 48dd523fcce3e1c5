from django.urls import path

from handover import record_views, views

app_name = "handover"
urlpatterns = [
    path("projects/<int:project_id>/handover/", views.handover_create, name="create"),
    path("handover/<int:document_id>.pdf", views.handover_download, name="download"),
    path("projects/<int:project_id>/handover-record/", record_views.record_page, name="record"),
    path("projects/<int:project_id>/handover-record/runbook/adopt/", record_views.runbook_adopt_view,
         name="runbook_adopt"),
    path("projects/<int:project_id>/handover-record/sign/", record_views.sign_view, name="sign"),
]
