from django.urls import path

from checks import monitoring_views as monitoring
from checks import views

app_name = "checks"
urlpatterns = [
    path("projects/<int:project_id>/audit/", views.audit_start, name="start"),
    path("projects/<int:project_id>/test-mails/", views.send_test_mails, name="test_mails"),
    path("projects/<int:project_id>/risks/", views.risk_list, name="risks"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/progress.json", views.run_progress_json, name="progress"),
    # Monitoring (stage 5): checks/monitoring_views.py.
    path("monitoring/", monitoring.agency_overview, name="monitoring_overview"),
    path("projects/<int:project_id>/monitoring/", monitoring.monitoring_dashboard, name="monitoring"),
    path("projects/<int:project_id>/monitoring/monitors/new/", monitoring.monitor_create,
         name="monitor_create"),
    path("projects/<int:project_id>/monitoring/monitors/from-endpoints/", monitoring.monitors_from_endpoints,
         name="monitors_from_endpoints"),
    path("projects/<int:project_id>/monitoring/monitors/<int:monitor_id>/", monitoring.monitor_edit,
         name="monitor_edit"),
    path("projects/<int:project_id>/monitoring/monitors/<int:monitor_id>/delete/", monitoring.monitor_delete,
         name="monitor_delete"),
    path("projects/<int:project_id>/monitoring/channels/new/", monitoring.channel_create,
         name="channel_create"),
    path("projects/<int:project_id>/monitoring/channels/<int:channel_id>/", monitoring.channel_edit,
         name="channel_edit"),
    path("projects/<int:project_id>/monitoring/channels/<int:channel_id>/delete/", monitoring.channel_delete,
         name="channel_delete"),
    path("projects/<int:project_id>/monitoring/channels/<int:channel_id>/test/", monitoring.channel_test,
         name="channel_test"),
    path("projects/<int:project_id>/monitoring/log-sample/", monitoring.log_sample, name="log_sample"),
]
