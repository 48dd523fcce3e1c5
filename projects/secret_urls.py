"""The secret scan page of a project (issue 5, stage 3)."""

from django.urls import path

from projects import secret_views as views

app_name = "secrets"
urlpatterns = [
    path("projects/<int:project_id>/secrets/", views.secrets_page, name="page"),
    path("projects/<int:project_id>/secrets/repository/", views.repository_url, name="repository"),
    path("projects/<int:project_id>/secrets/archive/", views.repository_archive, name="archive"),
    path("projects/<int:project_id>/secrets/archive/remove/", views.repository_archive_remove,
         name="archive_remove"),
    path("projects/<int:project_id>/secrets/accept/", views.secret_accept, name="accept"),
    path("projects/<int:project_id>/secrets/accepted/<int:acceptance_id>/remove/", views.acceptance_remove,
         name="acceptance_remove"),
]
