"""Deploy pages (per project) and the deploy webhook (the token names the project)."""

from django.urls import path

from projects import deploy_views as views

app_name = "deploys"
urlpatterns = [
    path("hooks/deploy", views.hook_deploy, name="hook_deploy"),
    path("hooks/environment", views.hook_environment, name="hook_environment"),
    path("projects/<int:project_id>/deploys/", views.deploys_page, name="list"),
    path("projects/<int:project_id>/deploys/hook/", views.hook_rotate, name="hook_rotate"),
    path("projects/<int:project_id>/deploys/rollback-drill/", views.rollback_drill, name="rollback_drill"),
    path("projects/<int:project_id>/test-accounts/", views.test_accounts, name="accounts"),
    path("projects/<int:project_id>/test-accounts/<int:account_id>/delete/", views.test_account_delete,
         name="account_delete"),
]
