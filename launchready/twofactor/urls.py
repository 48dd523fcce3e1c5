from django.urls import path

from launchready.twofactor import views

app_name = "twofactor"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("two-factor/setup/", views.enroll, name="enroll"),
    path("two-factor/verify/", views.verify, name="verify"),
    path("two-factor/disable/", views.disable, name="disable"),
    path("two-factor/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("agencies/<int:agency_id>/two-factor/", views.agency_requirement, name="agency_requirement"),
]
