"""The handover PDF of the demo project, audited against the real demo sandbox on loopback.

The PDF's text (poppler's ``pdftotext``) must hold every host with what DNS answered, the
findings in fix order with their remediation, the stage table, the could-not-test list
and the rollback notes, and none of the evidence behind them. Its pages are kept as PNG in
``test-artifacts/handover/`` for a person to look at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from checks import services
from checks.engine.net.session import Net
from checks.engine.registry import all_checks
from checks.network import network_for
from checks.sandbox import load_scenario
from handover.runbook_defaults import STARTERS
from handover.services import handover_create
from projects.services import project_sync_from_scenario
from tests.conftest import DEMO_COUNTS, DEMO_EXPECT, SCENARIOS
from tests.handover.pdf import flat, keep_pages, page_count, pdf_text

# The stage table's numbers: pass, warn, fail, could not test; for all stages and per stage.
STAGE_ROW = " ".join(str(DEMO_COUNTS[s]) for s in ("pass", "warn", "fail", "error"))


STAGE_OF = {c.id: c.stage.number for c in all_checks()}  # the PDF lists by stage, then check


def _stage_row(prefix: str) -> str:
    units = [status for (check, _), status in DEMO_EXPECT.items() if check.startswith(prefix)]
    return " ".join(str(units.count(s)) for s in ("pass", "warn", "fail", "error"))

SECTIONS = [
    "1. Domains and DNS", "2. Critical endpoints", "3. Status by stage", "4. Findings, in fix order",
    "5. Could not test", "6. Transactional mail", "7. Deploy steps", "8. Rollback", "9. Monitoring",
    "10. Secret locations", "11. Access map", "12. Owners", "13. What to do if something breaks",
    "14. Sign-off",
]


def _section(handover: Handover, title: str, next_title: str | None) -> str:
    """The text of one section (after its heading, before the next one's), page footers out."""
    body = handover.text.split(f" {title} ")[2]  # [1] is the contents list's entry
    if next_title is not None:
        body = body.split(f" {next_title} ")[0]
    return re.sub(r" ?Clubhouse · launch handover Page \d+ of \d+( |$)", " ", body).strip()


# Each test only reads the values the module fixture captured; the mark makes pytest-django set up
# the test database that fixture writes to.
pytestmark = pytest.mark.django_db

HOSTS = ["clubhouse.test", "www.clubhouse.test", "app.clubhouse.test", "api.clubhouse.test",
         "admin.clubhouse.test"]

# The demo's four faults (the third seen by two checks), in fix order: (number, impact, status,
# check id, check title, target, finding, remediation).
FINDINGS = [
    (1, "BLOCKER", "fail", "tls.certificate", "Valid certificate", "api.clubhouse.test", "Open",
     "Renew the certificate and automate renewal (ACME, e.g. Let's Encrypt)."),
    (2, "BLOCKER", "fail", "dns.resolves", "Host resolves to an address", "admin.clubhouse.test", "Open",
     "Add an A (and AAAA) or CNAME record for admin.clubhouse.test at the DNS provider."),
    (3, "HIGH", "fail", "http.hsts", "HSTS policy", "app.clubhouse.test", "Open",
     "Send one header on every HTTPS response of app.clubhouse.test: "
     "Strict-Transport-Security: max-age=31536000; includeSubDomains"),
    (4, "MEDIUM", "warn", "http.canonical_redirect", "One canonical host", "clubhouse.test", "Open",
     "Redirect clubhouse.test straight to https://www.clubhouse.test (same path) with one 301."),
    (5, "LOW", "warn", "http.redirect_hops", "At most two redirects", "clubhouse.test", "Open",
     "Redirect http://clubhouse.test/ straight to the final https:// URL in one hop."),
]

ROLLBACK = (
    "Deploys are tagged releases on the PaaS. To roll back: paas releases lists them, "
    "paas rollback v<N> restores the previous one in about a minute. Database migrations "
    "are backwards compatible for one release."
)


@dataclass(frozen=True)
class Handover:
    """One audit of the demo and its handover, captured as plain values (no rows)."""

    run_id: int
    project_id: int
    finished_at: datetime
    document_run_id: int
    document_project_id: int
    document_size: int
    created_at: datetime
    pdf: bytes
    results: dict[tuple[str, str], tuple[str, dict]]  # (check id, target) → (summary, evidence)
    addresses: dict[str, str]  # host → the A records the sandbox serves, asked independently
    dns_server: str
    text: str  # reading order, whitespace made single spaces
    layout: str  # physical layout: one table row per line


@pytest.fixture(scope="module")
def demo_handover(django_db_setup, django_db_blocker) -> Handover:
    """Audit the demo once for this module (the audit's stages run in threads, so its rows
    are committed), keep what the tests read, and delete the project again."""
    with django_db_blocker.unblock():
        project = project_sync_from_scenario(load_scenario(SCENARIOS / "demo.yaml"))
        try:
            return _audit_and_hand_over(project)
        finally:
            project.agency.delete()  # the "Sandbox" agency too: nothing outlives the module


def _audit_and_hand_over(project) -> Handover:
    run = services.audit_start(project=project, dispatch=False)
    # Hold the sandbox open around the audit (as the CLI does) so the test can ask the same
    # DNS server what it serves, and compare the PDF with that.
    with network_for(project) as profile, Net(profile) as net:
        services.audit_execute(run.pk)
        addresses = {h: ",".join(net.dns.query(h, "A").records) for h in HOSTS}
        dns_server = profile.nameservers[0]
    run.refresh_from_db()
    assert run.state == "done"
    document = handover_create(project=project, run=run)
    pdf = bytes(document.pdf)
    keep_pages(pdf, "demo")
    return Handover(
        run_id=run.pk, project_id=project.pk, finished_at=run.finished_at,
        document_run_id=document.run_id, document_project_id=document.project_id,
        document_size=document.size_bytes, created_at=document.created_at, pdf=pdf,
        results={(r.check_id, r.target): (r.summary, r.evidence) for r in run.results.all()},
        addresses=addresses, dns_server=dns_server,
        text=flat(pdf_text(pdf)), layout=pdf_text(pdf, layout=True),
    )


def test_the_document_is_kept_with_the_run_it_was_built_from(demo_handover):
    assert demo_handover.document_run_id == demo_handover.run_id
    assert demo_handover.document_project_id == demo_handover.project_id
    assert demo_handover.pdf.startswith(b"%PDF-")
    assert demo_handover.document_size == len(demo_handover.pdf)
    assert page_count(demo_handover.pdf) == int(re.findall(r"Page \d+ of (\d+)", demo_handover.text)[-1])


def test_the_cover_names_the_project_client_agency_and_the_audit_it_came_from(demo_handover):
    text = demo_handover.text
    finished = f"{demo_handover.finished_at:%-d %B %Y, %H:%M} UTC"
    assert text.startswith(
        "LAUNCH HANDOVER Clubhouse What the launch surface looks like, what is left to fix, and how "
        "to roll back. Client Clubhouse Ltd Prepared by Sandbox Domain clubhouse.test Generated "
    )
    assert f" From audit Audit #1 of {finished} " in text  # the project's first audit, not the run's id
    glance = re.search(r"^ *(\d+) +(\d+) +(\d+) +(\d+)\n+ *(blockers left.*)$", demo_handover.layout, re.M)
    findings = str(len(FINDINGS))
    assert glance.groups()[:4] == ("2", findings, str(DEMO_COUNTS["pass"]), str(DEMO_COUNTS["error"]))
    assert re.split(r"\s{2,}", glance.group(5)) == [
        "blockers left", "findings to fix", "checks passed", "could not be tested"
    ]
    generated = re.search(r"Generated (\d+ \w+ \d{4}, \d\d:\d\d) UTC", text).group(1)
    assert generated == f"{demo_handover.created_at:%-d %B %Y, %H:%M}"


def test_the_contents_list_every_section_with_its_page(demo_handover):
    rows = re.findall(r"^(\d+\. [^\n]+?)\s{2,}(\d+)$", demo_handover.layout, re.M)
    assert [title for title, _ in rows] == SECTIONS
    # Each page number is the page the section's heading is really on (the cover is page 1): a
    # heading is a line of its own, a contents entry has its page number beside it.
    pages = demo_handover.layout.split("\f")
    headings = {title: str(number) for number, page in enumerate(pages, 1) for title in SECTIONS
                if re.search(rf"^\s*{re.escape(title)}\s*$", page, re.M)}
    assert [(title, headings[title]) for title in SECTIONS] == rows


def test_every_host_is_listed_with_what_dns_answered(demo_handover):
    apex = demo_handover.addresses["clubhouse.test"]
    assert re.fullmatch(r"127\.\d+\.\d+\.10", apex)  # the sandbox's first host address
    rows = re.findall(r"^ (\S+\.test)\s+(pass|fail)\s+(.+?)\s{2,}(.+)$", demo_handover.layout, re.M)
    answers = {host: (dns, answer) for host, dns, answer, _ in rows}
    assert answers == {
        "clubhouse.test": ("pass", apex),
        "www.clubhouse.test": ("pass", demo_handover.addresses["www.clubhouse.test"]),
        "app.clubhouse.test": ("pass", demo_handover.addresses["app.clubhouse.test"]),
        "api.clubhouse.test": ("pass", demo_handover.addresses["api.clubhouse.test"]),
        "admin.clubhouse.test": ("fail", "admin.clubhouse.test does not exist"),
    }
    assert demo_handover.addresses["admin.clubhouse.test"] == ""  # NXDOMAIN: no address
    admin_row = (r"^ admin\.clubhouse\.test +fail +admin\.clubhouse\.test does not exist +could not test\n"
                 r" subdomain +\(NXDOMAIN\)\n")
    assert re.search(admin_row, demo_handover.layout, re.M)


def test_the_certificate_column_says_which_certificate_has_expired(demo_handover):
    rows = dict(re.findall(r"^ (\S+\.test)\s+pass\s+\S+\s{2,}(.+)$", demo_handover.layout, re.M))
    assert rows["api.clubhouse.test"].startswith("expired ")
    for host in ("clubhouse.test", "www.clubhouse.test", "app.clubhouse.test"):
        assert rows[host].startswith("valid until ")


def test_the_critical_endpoints_are_listed_with_their_method(demo_handover):
    rows = re.findall(r"^ (\w+)\s+(GET|POST)\s+(https://\S+)$", demo_handover.layout, re.M)
    assert rows == [
        ("homepage", "GET", "https://www.clubhouse.test/"),
        ("login", "POST", "https://app.clubhouse.test/login"),
        ("health", "GET", "https://api.clubhouse.test/health"),
        ("feed", "GET", "https://app.clubhouse.test/api/v1/feed"),
        ("membership", "GET", "https://app.clubhouse.test/api/v1/membership"),
        ("profile", "GET", "https://app.clubhouse.test/api/v1/me"),
        ("webhook", "POST", "https://api.clubhouse.test/webhooks/stripe"),
    ]


def test_the_stage_table_counts_pass_warn_fail_and_could_not_test(demo_handover):
    rows = re.findall(r"^ (\d\. [A-Z][\w &]+?|All stages)\s{2,}(.+)$", demo_handover.layout, re.M)
    assert [(stage, " ".join(cells.split())) for stage, cells in rows] == [
        ("1. Quick audit", "ranked in the risk list: 4. Findings, in fix order"),
        ("2. Domain & edge", _stage_row(("dns.", "tls.", "http.", "edge."))),
        ("3. Production hardening", _stage_row(("hardening.",))),
        ("4. Performance", _stage_row(("performance.",))),
        ("5. Monitoring", _stage_row(("monitoring.",))),
        ("6. Email", _stage_row(("email.",))),
        ("7. Handover", _stage_row(("handover.",))),
        ("All stages", STAGE_ROW),
    ]


def test_the_findings_come_in_fix_order_with_their_remediation(demo_handover):
    text = demo_handover.text
    positions = []
    for number, impact, status, check_id, title, target, finding, remediation in FINDINGS:
        summary, _ = demo_handover.results[(check_id, target)]
        rest = (f"Impact {impact} Status {status} Check {check_id} · {title} · "
                f"Domain & edge Target {target} Finding {finding} REMEDIATION {remediation}")
        # pdftotext reads a card's number after its title when a wrapped title opens a page.
        card = next((c for c in (f"{number} {summary} {rest}", f"{summary} {number} {rest}") if c in text),
                    f"{number} {summary} {rest}")
        assert card in text
        positions.append(text.index(card))
    assert positions == sorted(positions)
    assert text.count(" REMEDIATION ") == len(FINDINGS)


def test_the_could_not_test_list_gives_each_reason(demo_handover):
    section = _section(demo_handover, "5. Could not test", "6. Transactional mail")
    # The table may break across pages: drop the repeated header.
    section = section.replace("CHECK TARGET REASON ", "")
    # The demo's two causes: admin. is not in DNS, api.'s certificate has expired.
    reasons = {
        "admin.clubhouse.test": "admin.clubhouse.test does not exist (NXDOMAIN)",
        "api.clubhouse.test": "TLS failed: certificate verify failed: certificate has expired",
    }
    rows = [
        f"{check} {target} {reasons[urlsplit(target).hostname or target]}"
        for check, target in sorted((k for k, status in DEMO_EXPECT.items() if status == "error"),
                                    key=lambda k: (STAGE_OF[k[0]], k))
    ]
    assert section == (
        "These checks could not reach a verdict: they are neither passed nor failed. Each one needs a "
        "look once its cause is fixed. " + " ".join(rows)
    )


def test_the_rollback_notes_follow_the_deploy_steps(demo_handover):
    assert _section(demo_handover, "8. Rollback", "9. Monitoring") == ROLLBACK


def test_every_page_but_the_cover_is_numbered(demo_handover):
    footers = re.findall(r"Clubhouse · launch handover Page (\d+) of (\d+)", demo_handover.text)
    pages = page_count(demo_handover.pdf)
    assert footers == [(str(page), str(pages)) for page in range(2, pages + 1)]


def test_no_evidence_beyond_short_facts_reaches_the_pdf(demo_handover):
    text = demo_handover.text
    _, tls = demo_handover.results[("tls.certificate", "api.clubhouse.test")]
    leaf = tls["chain"][0]
    for proof in (leaf["serial_hex"], leaf["sha256"], leaf["subject"], leaf["issuer"],
                  demo_handover.dns_server, "elapsed", "Location", "max-age=63072000", "{"):
        assert proof not in text


def test_the_mail_section_shows_each_test_mail_and_the_headers_received(demo_handover):
    summary, evidence = demo_handover.results[("email.transactional", "clubhouse.test")]
    outbound = evidence["mails"]["welcome"]["peer_ip"]
    section = _section(demo_handover, "6. Transactional mail", "7. Deploy steps")
    # The table may break across pages: keep its header once.
    head, header, rest = section.partition("MAIL ARRIVED DKIM SPF DMARC ")
    section = head + header + rest.replace("MAIL ARRIVED DKIM SPF DMARC ", "")
    delays = {kind: f"{mail['delivery_ms']} ms" for kind, mail in evidence["mails"].items()}
    rows = " ".join(
        f"{label} {delays[kind]} pass (d=clubhouse.test, s=mailhost) pass for {outbound} at clubhouse.test "
        "pass (p=reject)"
        for kind, label in [("welcome", "welcome"), ("password_reset", "password reset"),
                            ("invite", "invite"), ("notification", "notification")]
    )
    assert section.startswith(
        "Four test mails sent through the app's SMTP server (smtp.mailhost.test:587, starttls (TLSv1.3)) "
        "and read back by Launch Ready's capture server, judged as a receiving mail server judges them "
        "(audit #1, "
    )
    assert re.fullmatch(
        rf"4 test mails arrived within \d\.\d s, DKIM-signed by d=clubhouse.test \(aligned\), SPF pass for "
        rf"{re.escape(outbound)} at clubhouse.test, DMARC pass", summary,
    )
    assert f" pass · {summary} " in section
    assert f"MAIL ARRIVED DKIM SPF DMARC {rows} Headers of the welcome mail, as received " in section
    assert "RETURN-PATH <hello@clubhouse.test> RECEIVED from audit.launchready.invalid" in section
    assert "FROM Clubhouse <hello@clubhouse.test> MESSAGE-ID <" in section
    # The signature's tags, not its value: b= is proof for a verifier, noise for a reader.
    assert "DKIM-SIGNATURE v=1; a=rsa-sha256; c=relaxed/relaxed; d=clubhouse.test;" in section
    assert " b=" not in section and "bh=" in section


def test_the_smtp_password_appears_nowhere_in_the_document(demo_handover):
    assert "sandbox-password" not in demo_handover.text
    assert b"sandbox-password" not in demo_handover.pdf


def _steps(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def test_the_handover_record_is_printed_section_by_section(demo_handover):
    assert _section(demo_handover, "7. Deploy steps", "8. Rollback") == (
        "1. Merge the pull request into main; CI runs the tests. 2. CI tags the release and runs paas deploy "
        "--app clubhouse (about 3 minutes). 3. Watch the error tracker for 15 minutes; roll back if errors "
        "climb. Deploys: Priya Shah or Sam Lee, weekdays before 16:00."
    )
    assert _section(demo_handover, "9. Monitoring", "10. Secret locations") == (
        "Where the app is watched: look here first when something seems wrong. WHAT LINK "
        "Uptime https://status.clubhouse.test/ Errors https://errors.clubhouse.test/clubhouse "
        "Logs https://logs.clubhouse.test/app/clubhouse"
    )
    secrets_header = "SECRET STORE PATH WHO CAN REACH IT "
    secrets_section = _section(demo_handover, "10. Secret locations", "11. Access map")
    # The table may break across pages: keep its header once.
    head, _, table = secrets_section.partition(secrets_header)
    assert head + secrets_header + table.replace(secrets_header, "") == (
        "Where each secret lives and who can reach it. The values themselves are never written in this "
        "document. SECRET STORE PATH WHO CAN REACH IT "
        "Database URL PaaS config vars clubhouse → Settings → DATABASE_URL PaaS admins "
        "SMTP password 1Password Clubhouse / Production / Mailhost Priya Shah "
        "Stripe live secret key 1Password Clubhouse / Production / Stripe Priya Shah, Sam Lee"
    )
    # The access map's rows (by system), then the URL printed under each system's name.
    rows = re.findall(r"^ (\S.*?) {2,}(\S.*?) {2,}(\S.*?) {2,}(On|Off|Unknown)$", demo_handover.layout, re.M)
    assert rows == [
        ("DNS registrar", "Sam Lee", "Sam Lee", "On"),
        ("Mailhost", "Priya Shah", "Priya Shah", "On"),
        ("PaaS hosting", "Priya Shah", "Priya Shah, Sam Lee", "On"),
        ("Stripe", "Sam Lee", "Sam Lee, Dana Reyes", "On"),
    ]
    access = _section(demo_handover, "11. Access map", "12. Owners").replace(" ", "")
    for url in ("https://registrar.example/domains/clubhouse.test", "https://mailhost.example/",
                "https://paas.example/apps/clubhouse", "https://dashboard.stripe.com/"):
        assert url in access
    assert _section(demo_handover, "12. Owners", "13. What to do if something breaks") == (
        "AREA OWNER CONTACT Email Priya Shah priya@clubhouse.test Infrastructure Priya Shah "
        "priya@clubhouse.test Payments Sam Lee sam@clubhouse.test"
    )
    starters = [f"{s.title} {_steps(s.steps)}" for s in STARTERS if s.key != "bad_deploy"]
    assert _section(demo_handover, "13. What to do if something breaks", "14. Sign-off") == " ".join(
        [*starters, "Bad deploy 1. paas rollback v<N> to the previous release. 2. Check login and the feed. "
                    "3. Fix on a branch, redeploy."]
    )
    assert _section(demo_handover, "14. Sign-off", None) == (
        "CONSULTANT FOUNDER Signed on 27 November 2026 Signed on 28 November 2026"
    )
