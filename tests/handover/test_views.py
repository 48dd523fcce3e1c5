"""Handover views and tenancy: writers generate, anyone who may see the project downloads,
everyone else gets 404 — on create and on download alike."""

from __future__ import annotations

import pytest
from django.urls import reverse

from handover.models import HandoverDocument
from handover.services import handover_create

pytestmark = pytest.mark.django_db

STRANGERS = ["other agency's consultant", "other agency's owner", "other agency's founder", "outsider"]


def stranger(world, who: str):
    return {
        "other agency's consultant": world.b.consultant,
        "other agency's owner": world.b.owner,
        "other agency's founder": world.b.founder,
        "outsider": world.outsider,
    }[who]


@pytest.fixture
def document(world) -> HandoverDocument:
    return handover_create(project=world.a.project, user=world.a.consultant)


def download_url(document: HandoverDocument) -> str:
    return reverse("handover:download", kwargs={"document_id": document.pk})


def create_url(project) -> str:
    return reverse("handover:create", kwargs={"project_id": project.pk})


@pytest.mark.parametrize("who", STRANGERS)
def test_someone_outside_the_project_gets_404_on_download(client, world, document, who):
    client.force_login(stranger(world, who))
    assert client.get(download_url(document)).status_code == 404


@pytest.mark.parametrize("who", STRANGERS)
def test_someone_outside_the_project_gets_404_on_create_and_nothing_is_generated(client, world, who):
    client.force_login(stranger(world, who))
    assert client.post(create_url(world.a.project)).status_code == 404
    assert not HandoverDocument.objects.exists()


def test_a_document_that_does_not_exist_is_404_like_one_of_another_agency(client, world, document):
    client.force_login(world.a.consultant)
    missing = reverse("handover:download", kwargs={"document_id": document.pk + 1})
    assert client.get(missing).status_code == 404


def test_the_projects_founder_downloads_the_pdf(client, world, document):
    client.force_login(world.a.founder)
    response = client.get(download_url(document))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{document.filename}"'
    assert document.filename == f"handover-{world.a.project.pk}-{document.created_at:%Y%m%d-%H%M}.pdf"
    assert response.content == bytes(document.pdf)
    assert response.content.startswith(b"%PDF-")


def test_the_projects_founder_gets_403_on_create(client, world):
    client.force_login(world.a.founder)
    assert client.post(create_url(world.a.project)).status_code == 403
    assert not HandoverDocument.objects.exists()


@pytest.mark.parametrize("role", ["owner", "consultant"])
def test_the_agencys_staff_generate_a_pdf_and_return_to_the_project(client, world, role):
    user = getattr(world.a, role)
    client.force_login(user)
    response = client.post(create_url(world.a.project))
    assert response.status_code == 302
    assert response["Location"] == reverse("projects:detail", kwargs={"project_id": world.a.project.pk})
    document = HandoverDocument.objects.get()
    assert (document.project, document.created_by, document.run) == (world.a.project, user, None)
    assert bytes(document.pdf).startswith(b"%PDF-")


def test_create_answers_only_post(client, world):
    client.force_login(world.a.consultant)
    assert client.get(create_url(world.a.project)).status_code == 405


def test_an_anonymous_visitor_is_sent_to_log_in(client, document, world):
    for response in (client.get(download_url(document)), client.post(create_url(world.a.project))):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    assert HandoverDocument.objects.count() == 1


def test_the_founder_downloads_every_kept_version_from_the_project_page(client, world):
    first = handover_create(project=world.a.project, user=world.a.consultant)
    world.a.project.rollback_notes = "Roll back with `paas rollback v2`."
    world.a.project.save()
    second = handover_create(project=world.a.project, user=world.a.consultant)
    client.force_login(world.a.founder)
    page = client.get(reverse("projects:detail", kwargs={"project_id": world.a.project.pk}))
    html = page.content.decode()
    assert list(page.context["documents"]) == [second, first]
    for document in (first, second):
        assert f'href="{download_url(document)}"' in html
        response = client.get(download_url(document))
        assert (response.status_code, response.content) == (200, bytes(document.pdf))
    assert bytes(first.pdf) != bytes(second.pdf)
