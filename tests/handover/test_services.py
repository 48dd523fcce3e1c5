"""handover.services: a CNAME chain in the DNS table, a project with no audit yet, rollback
notes as typed (and escaped), and which run a document is kept with."""

from __future__ import annotations

import re

import pytest
import yaml

from checks import services
from checks.engine.net.session import Net
from checks.models import AuditRun
from checks.network import network_for
from checks.sandbox import load_scenario
from handover.models import HandoverDocument
from handover.services import handover_create, handover_html, rollback_html
from projects.services import project_sync_from_scenario
from tests.handover.pdf import flat, keep_pages, page_count, pdf_text

CNAME_SCENARIO = {
    "name": "CNAME",
    "project": {
        "name": "Edge co", "client_name": "Edge Co", "apex": "edgeco.test", "subdomains": ["www"],
        "endpoints": [{"kind": "homepage", "url": "https://www.edgeco.test/"}],
    },
    # www is served by a CDN: a CNAME to the CDN's name, which holds the address.
    "dns": {"www.edgeco.test": {"CNAME": ["edgeco.cdn.test"]}},
    "hosts": {
        "edgeco.test": {"https": [{"path": "/*", "status": 301,
                                   "headers": [["Location", "https://www.edgeco.test/"]]}]},
        "edgeco.cdn.test": {"https": [{"path": "/*", "body": "cdn"}]},
        "www.edgeco.test": {"https": [{"path": "/*", "body": "www"}]},
    },
}


@pytest.mark.django_db(transaction=True)  # the audit's stages run in threads
def test_a_host_behind_a_cname_shows_the_chain_and_the_address_at_its_end(tmp_path):
    path = tmp_path / "cname.yaml"
    path.write_text(yaml.safe_dump(CNAME_SCENARIO))
    project = project_sync_from_scenario(load_scenario(path))
    run = services.audit_start(project=project, dispatch=False)
    with network_for(project) as profile, Net(profile) as net:
        services.audit_execute(run.pk)
        cdn_address = net.dns.query("edgeco.cdn.test", "A").records[0]
    document = handover_create(project=project, run=run)
    pdf = bytes(document.pdf)
    keep_pages(pdf, "cname")
    row = re.search(r"^ www\.edgeco\.test +pass +CNAME edgeco\.cdn\.test +valid until .+\n"
                    r" subdomain +→ (\S+)\n", pdf_text(pdf, layout=True), re.M)
    assert row.group(1) == cdn_address


@pytest.mark.django_db
def test_a_project_with_no_audit_yet_gets_a_handover_of_its_recorded_facts(world):
    document = handover_create(project=world.a.project, user=world.a.consultant)
    assert (document.run, document.created_by) == (None, world.a.consultant)
    pdf = bytes(document.pdf)
    keep_pages(pdf, "no-audit")
    text = flat(pdf_text(pdf))
    assert ("Client Client A Prepared by Agency A Domain alpha.example.com Generated "
            in text)
    assert "From audit No finished audit yet: this handover holds the recorded facts only." in text
    layout = pdf_text(pdf, layout=True)
    hosts = re.findall(r"^ (\S+\.com)\s+—\s+not checked in this audit\s+—$", layout, re.M)
    assert hosts == ["alpha.example.com", "www.alpha.example.com", "app.alpha.example.com",
                     "api.alpha.example.com", "admin.alpha.example.com"]
    assert re.findall(r"^ (\w+)\s+(GET|POST)\s+(https://\S+)$", layout, re.M) == [
        ("homepage", "GET", "https://www.alpha.example.com/")
    ]
    assert text.count("No finished audit yet.") == 3  # stage table, findings, could not test
    assert ("6. Transactional mail No transactional mail test in this audit: record the app's SMTP server "
            "in the project to run one." in text)
    # The handover record's sections say what is missing (page footers left out).
    body = re.sub(r" Project A · launch handover Page \d+ of \d+", "", text)
    assert body.endswith(
        "7. Deploy steps No deploy steps recorded. Ask Agency A to write down how a release reaches "
        "production. 8. Rollback Roll back with paas rollback. 9. Monitoring No monitoring links recorded. "
        "10. Secret locations No secret locations recorded. 11. Access map No access map recorded. "
        "12. Owners No owners recorded. 13. What to do if something breaks No runbook recorded. "
        "14. Sign-off CONSULTANT FOUNDER Not signed yet Not signed yet"
    )
    assert text.endswith(f"Project A · launch handover Page {page_count(pdf)} of {page_count(pdf)}")


def test_rollback_notes_keep_their_paragraphs_and_show_commands_as_code():
    notes = "Step one: `paas releases`.\nStep two: `paas rollback v<N>`.\n\nAsk Sam if <b>stuck</b>."
    assert rollback_html(notes) == (
        "<p>Step one: <code>paas releases</code>.<br>Step two: <code>paas rollback v&lt;N&gt;</code>.</p>"
        "\n\n<p>Ask Sam if &lt;b&gt;stuck&lt;/b&gt;.</p>"
    )
    assert rollback_html("  \n ") == ""


@pytest.mark.django_db
def test_stored_text_cannot_inject_markup_into_the_document(world):
    world.a.project.name = '<img src="http://169.254.169.254/latest/meta-data/">'
    world.a.project.rollback_notes = "<script>alert(1)</script>"
    html = handover_html(world.a.project, None)
    assert "<img" not in html and "<script" not in html
    assert "&lt;img src=&quot;http://169.254.169.254/latest/meta-data/&quot;&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.django_db
def test_each_generated_pdf_is_kept_with_the_run_it_was_asked_for(world):
    older = AuditRun.objects.create(project=world.a.project, state="done")
    newer = AuditRun.objects.create(project=world.a.project, state="done")
    AuditRun.objects.create(project=world.a.project, state="running")
    first = handover_create(project=world.a.project)
    second = handover_create(project=world.a.project, run=older)
    assert (first.run, second.run) == (newer, older)
    assert list(HandoverDocument.objects.filter(project=world.a.project)) == [second, first]


@pytest.mark.django_db
def test_a_run_of_another_project_is_refused(world):
    other = AuditRun.objects.create(project=world.b.project, state="done")
    message = f"audit #{other.pk} is not an audit of project {world.a.project.pk}"
    with pytest.raises(ValueError, match=message):
        handover_create(project=world.a.project, run=other)
    assert not HandoverDocument.objects.exists()
