from django.urls import path

from handover import views

app_name = "handover"
urlpatterns = [
    path("projects/<int:project_id>/handover/", views.handover_create, name="create"),
    path("handover/<int:document_id>.pdf", views.handover_download, name="download"),
]
