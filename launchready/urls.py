from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from projects import views as project_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="projects:list", permanent=False)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("projects/", include("projects.urls")),
    # An invite link: no login needed; the token is a secret (see projects.views.invite_accept).
    path("invites/<str:token>/", project_views.invite_accept, name="invite_accept"),
    path("", include("checks.urls")),
    path("", include("handover.urls")),
]
