from django.urls import path

from projects import api_key_views, current_agency, team_views

app_name = "agency"
urlpatterns = [
    path("<int:agency_id>/api-keys/", api_key_views.api_keys, name="api_keys"),
    path("<int:agency_id>/api-keys/<int:key_id>/revoke/", api_key_views.api_key_revoke,
         name="api_key_revoke"),
    path("<int:agency_id>/audit-log/", api_key_views.audit_log_page, name="audit_log"),
    # The team (owners) and the agency switch in the header (issue 8: projects/team_views.py,
    # projects/current_agency.py).
    path("<int:agency_id>/team/", team_views.team_page, name="team"),
    path("<int:agency_id>/team/<int:membership_id>/role/", team_views.member_role, name="member_role"),
    path("<int:agency_id>/team/<int:membership_id>/remove/", team_views.member_remove, name="member_remove"),
    path("<int:agency_id>/switch/", current_agency.switch, name="switch"),
]
