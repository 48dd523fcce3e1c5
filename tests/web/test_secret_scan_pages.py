"""The secret scan page: staff set the repository URL, upload or remove an archive (checked on
upload with the audit's intake rules) and accept a secret of the latest scan with a reason;
an accepted secret does not come back on the next audit (a real run on the sandbox)."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest
from django.urls import reverse

from checks import services
from checks.engine.secrets import fingerprint, redact
from checks.models import CheckResult
from checks.sandbox import load_scenario
from projects.models import Membership, Project, RepositoryArchive, SecretAcceptance
from projects.services import project_sync_from_scenario
from tests.conftest import SCENARIOS

STRIPE_KEY = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
STRIPE_PRINT = fingerprint("Stripe Access Key", STRIPE_KEY)


def page(project) -> str:
    return reverse("secrets:page", args=[project.pk])


def tar_gz(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_staff_set_a_repository_url(client, world):
    client.force_login(world.a.consultant)
    url = "https://github.com/acme/app.git"

    response = client.post(reverse("secrets:repository", args=[world.a.project.pk]), {"url": url})

    assert response.status_code == 302
    assert Project.objects.get(pk=world.a.project.pk).repository_url == url
    assert url in client.get(page(world.a.project)).content.decode()


@pytest.mark.parametrize(("url", "message"), [
    ("https://user:ghp_token@github.com/acme/app.git",
     "the repository URL must not contain a user name or password: give a URL the panel can read without "
     "one, or upload an archive"),
    ("http://github.com/acme/app.git", "the repository URL must start with https:// (git over HTTPS only)"),
    ("https://192.0.2.1/app.git",
     "the repository URL&#x27;s host is not a DNS name: &#x27;192.0.2.1&#x27; is an IP address, "
     "not a hostname"),
])
def test_a_url_with_credentials_plain_http_or_an_ip_is_refused(client, world, url, message):
    client.force_login(world.a.consultant)

    response = client.post(reverse("secrets:repository", args=[world.a.project.pk]), {"url": url})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Project.objects.get(pk=world.a.project.pk).repository_url == ""
    assert "ghp_token" not in response.content.decode().replace(f'value="{url}"', "")


def test_staff_upload_replace_and_remove_an_archive(client, world):
    client.force_login(world.a.consultant)
    project = world.a.project
    first = tar_gz({"app/README.md": b"hello\n"})
    second = tar_gz({"app/README.md": b"hello again\n"})

    client.post(reverse("secrets:archive", args=[project.pk]), {"file": upload("app.tar.gz", first)})
    response = client.post(reverse("secrets:archive", args=[project.pk]),
                           {"file": upload("app-2.tgz", second)})

    assert response.status_code == 302
    (archive,) = RepositoryArchive.objects.filter(project=project)
    assert (archive.filename, bytes(archive.data), archive.size_bytes, archive.uploaded_by) == (
        "app-2.tgz", second, len(second), world.a.consultant)
    assert "app-2.tgz" in client.get(page(project)).content.decode()

    client.post(reverse("secrets:archive_remove", args=[project.pk]))
    assert not RepositoryArchive.objects.filter(project=project).exists()


def test_a_hostile_archive_is_refused_on_upload_with_the_reason(client, world):
    client.force_login(world.a.consultant)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("../../etc/cron.d/evil", "* * * * * root sh\n")

    response = client.post(reverse("secrets:archive", args=[world.a.project.pk]),
                           {"file": upload("evil.zip", out.getvalue())})

    assert response.status_code == 400
    assert ("This archive was refused: &#x27;../../etc/cron.d/evil&#x27;: &#x27;..&#x27; would leave the "
            "extraction folder.") in response.content.decode()
    assert not RepositoryArchive.objects.exists()


def test_an_archive_over_the_cap_is_refused_before_it_is_read(client, world, monkeypatch):
    from projects import secret_forms
    from projects.secret_scan import ArchiveLimits

    monkeypatch.setattr(secret_forms, "ARCHIVE_LIMITS", ArchiveLimits(max_archive_bytes=1000))
    client.force_login(world.a.consultant)

    response = client.post(reverse("secrets:archive", args=[world.a.project.pk]),
                           {"file": upload("big.zip", b"PK\x03\x04" + b"\0" * 2000)})

    assert response.status_code == 400
    assert "This archive is larger than 0.001 MB" in response.content.decode()


def test_a_founder_reads_the_page_without_forms_and_cannot_upload_or_accept(client, world):
    client.force_login(world.a.founder)
    project = world.a.project

    body = client.get(page(project)).content.decode()
    assert "Secret scan" in body and 'id="url-form"' not in body and 'id="archive-form"' not in body

    assert client.post(reverse("secrets:archive", args=[project.pk]),
                       {"file": upload("a.tar.gz", tar_gz({"a": b"x"}))}).status_code == 403
    assert client.post(reverse("secrets:accept", args=[project.pk]),
                       {"fingerprint": STRIPE_PRINT, "reason": "mine"}).status_code == 403
    assert client.post(reverse("secrets:repository", args=[project.pk]),
                       {"url": "https://github.com/x/y.git"}).status_code == 403
    assert not RepositoryArchive.objects.exists() and not SecretAcceptance.objects.exists()


@pytest.fixture
def leaky(world):
    """The sandbox project of scenarios/faults/secrets-repo.yaml in agency A (its repository:
    a Stripe live key in an old commit), with A's consultant as staff."""
    project = project_sync_from_scenario(load_scenario(SCENARIOS / "faults" / "secrets-repo.yaml"),
                                         agency=world.a.agency)
    assert Membership.objects.filter(user=world.a.consultant, agency=world.a.agency).exists()
    return project


def scan(project, user) -> CheckResult:
    run = services.audit_start(project=project, user=user, dispatch=False,
                               check_ids=["hardening.secrets_repo"])
    services.audit_execute(run.pk)
    return CheckResult.objects.get(run=run, check_id="hardening.secrets_repo")


def test_an_accepted_secret_does_not_come_back_on_the_next_audit(client, world, leaky):
    consultant = world.a.consultant
    first = scan(leaky, consultant)
    assert (first.status, first.evidence["leaks"]) == ("fail", 1)
    (entry,) = first.evidence["findings"]
    assert entry["fingerprint"] == STRIPE_PRINT

    client.force_login(consultant)
    body = client.get(page(leaky)).content.decode()
    assert redact(STRIPE_KEY) in body and STRIPE_KEY not in body
    assert f'data-fingerprint="{STRIPE_PRINT}"' in body

    response = client.post(reverse("secrets:accept", args=[leaky.pk]),
                           {"fingerprint": STRIPE_PRINT,
                            "reason": "revoked in the Stripe dashboard on 30 Nov"})

    assert response.status_code == 302
    (accepted,) = SecretAcceptance.objects.filter(project=leaky)
    assert (accepted.fingerprint, accepted.rule, accepted.place, accepted.reason, accepted.accepted_by) == (
        STRIPE_PRINT, "Stripe Access Key", f"src/payments.js line 2 of commit {entry['commit'][:12]}",
        "revoked in the Stripe dashboard on 30 Nov", consultant)

    second = scan(leaky, consultant)

    assert second.status == "pass"
    assert second.summary == ("no secrets found; working tree and 2 commits with changes scanned; "
                              "1 accepted secret left out")
    assert (second.evidence["accepted"], second.evidence["findings"]) == (1, [])
    body = client.get(page(leaky)).content.decode()
    assert f"<code>{STRIPE_PRINT}</code>" in body and "revoked in the Stripe dashboard on 30 Nov" in body

    # Withdrawn, it is reported again.
    client.post(reverse("secrets:acceptance_remove", args=[leaky.pk, accepted.pk]))
    assert scan(leaky, consultant).status == "fail"


def test_only_a_secret_of_the_latest_scan_can_be_accepted_and_only_with_a_reason(client, world, leaky):
    scan(leaky, world.a.consultant)
    client.force_login(world.a.consultant)
    url = reverse("secrets:accept", args=[leaky.pk])

    unknown = client.post(url, {"fingerprint": "stripe-access-key:" + "0" * 24, "reason": "test key"})
    blank = client.post(url, {"fingerprint": STRIPE_PRINT, "reason": "  "})

    assert unknown.status_code == 400
    assert "This secret is not among the latest scan&#x27;s findings." in unknown.content.decode()
    assert blank.status_code == 400
    assert not SecretAcceptance.objects.exists()


def test_an_acceptance_of_another_project_answers_404(client, world):
    other = SecretAcceptance.objects.create(project=world.b.project, fingerprint=STRIPE_PRINT, rule="Stripe",
                                            reason="test key")
    client.force_login(world.a.consultant)

    response = client.post(reverse("secrets:acceptance_remove", args=[world.a.project.pk, other.pk]))

    assert response.status_code == 404
    assert SecretAcceptance.objects.filter(pk=other.pk).exists()


def test_the_project_page_and_a_secret_finding_link_to_the_secret_scan(client, world):
    client.force_login(world.a.consultant)
    body = client.get(reverse("projects:detail", args=[world.a.project.pk])).content.decode()
    assert f'href="{page(world.a.project)}" id="open-secrets"' in body
