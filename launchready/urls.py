from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from launchready.password_reset import PasswordResetView
from projects import signup_views
from projects import views as project_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="projects:list", permanent=False)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    # Throttled, and its mail's link on SITE_URL (launchready/password_reset.py); before the
    # auth URLs so it answers that path.
    path("accounts/password_reset/", PasswordResetView.as_view(), name="password_reset"),
    # Agency sign-up and its confirmation link (projects/signup_views.py); the token is a secret.
    path("accounts/signup/", signup_views.signup_page, name="signup"),
    path("accounts/signup/confirm/<str:token>/", signup_views.signup_confirm, name="signup_confirm"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("accounts/security/", include("launchready.twofactor.urls")),  # two-factor sign-in (issue 8)
    path("projects/", include("projects.urls")),
    # An invite link: no login needed; the token is a secret (see projects.views.invite_accept).
    path("invites/<str:token>/", project_views.invite_accept, name="invite_accept"),
    path("", include("checks.urls")),
    path("", include("projects.deploy_urls")),  # deploy pages and /hooks/ (issue 5)
    path("", include("projects.secret_urls")),  # the secret scan page (issue 5)
    path("", include("handover.urls")),
    path("api/", include("launchready.api.urls")),  # REST API, its schema and docs (issue 8)
    path("agencies/", include("projects.agency_urls")),  # API keys and audit log (issue 8)
]
