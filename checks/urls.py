from django.urls import path

from checks import views

app_name = "checks"
urlpatterns = [
    path("projects/<int:project_id>/audit/", views.audit_start, name="start"),
    path("projects/<int:project_id>/test-mails/", views.send_test_mails, name="test_mails"),
    path("projects/<int:project_id>/risks/", views.risk_list, name="risks"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/progress.json", views.run_progress_json, name="progress"),
]
