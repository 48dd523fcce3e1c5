"""The "Domain & edge" matrix on the project page: hosts × edge checks of the last finished audit,
after a real audit of the demo sandbox; every cell links to its result's card on the run page.

Screenshots of the page at 1280 px and 390 px go to ``test-artifacts/web/edge-matrix-*.png``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from checks import services
from checks.engine.registry import all_checks
from checks.engine.result import Stage
from checks.selectors import edge_matrix
from projects.models import Agency, Membership, Project
from tests.conftest import DEMO_EXPECT, SCENARIOS

# Audits write from stage threads: they must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-123456789"
# Every edge check of the registry, in its order (stage, then id).
EDGE_CHECKS = [c.id for c in all_checks() if c.stage == Stage.EDGE and c.per_host]
DEMO_HOSTS = ["clubhouse.test", "www.clubhouse.test", "app.clubhouse.test", "api.clubhouse.test",
              "admin.clubhouse.test"]
# The demo's verdicts as its scenario's `expect` states them; "none" = the check does not run on
# that host (the canonical redirect is checked on the alternate host only, preload on the apex).
DEMO_MATRIX = [
    (host, [DEMO_EXPECT.get((check, host), "none") for check in EDGE_CHECKS]) for host in DEMO_HOSTS
]
LABELS = {"pass": "✓ pass", "warn": "! warn", "fail": "✗ fail", "error": "? could not test", "none": "—",
          "skipped": "– n/a"}


@dataclass
class Cell:
    status: str
    check: str | None
    href: str | None
    title: str
    text: str = ""


@dataclass
class Matrix:
    """What a reader of ``section#edge`` sees: column check ids, then (host, cells) rows."""

    columns: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)


class _MatrixParser(HTMLParser):
    """Reads the matrix out of a project page; only ``section#edge`` is looked at."""

    def __init__(self) -> None:
        super().__init__()
        self.matrix = Matrix()
        self.depth = 0  # > 0 while inside section#edge
        self.cell: Cell | None = None
        self.header: list[str] | None = None
        self.hidden = 0  # > 0 inside .sr-only text, which a sighted reader does not see

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and a.get("id") == "edge":
            self.depth = 1
            return
        if not self.depth:
            return
        if tag == "section":
            self.depth += 1
        if tag == "th" and "data-check" in a:
            self.matrix.columns.append(a["data-check"])
            self.header = []
        elif tag == "tr" and "data-host" in a:
            self.matrix.rows.append((a["data-host"], []))
        elif tag == "td":
            self.cell = Cell(status=a["data-status"], check=a.get("data-check"), href=None, title=a["title"])
            self.matrix.rows[-1][1].append(self.cell)
        elif tag == "a" and self.cell is not None:
            self.cell.href = a["href"]
        elif tag == "span" and self.hidden:
            self.hidden += 1
        elif tag == "span" and "sr-only" in (a.get("class") or "").split():
            self.hidden = 1

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag == "section":
            self.depth -= 1
        elif tag == "td":
            self.cell = None
        elif tag == "th" and self.header is not None:
            self.matrix.headers.append("".join(self.header).strip())
            self.header = None
        elif tag == "span" and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if self.cell is not None and not self.hidden:
            self.cell.text += data
        elif self.header is not None:
            self.header.append(data)


def read_matrix(html: str) -> Matrix:
    parser = _MatrixParser()
    parser.feed(html)
    return parser.matrix


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture
def audited(django_user_model):
    """``(consultant, founder, project, run)``: the demo project audited once against its sandbox."""
    agency = Agency.objects.create(name="Northwind Digital", slug="northwind")
    consultant = django_user_model.objects.create_user(username="nadia", password=PASSWORD)
    founder = django_user_model.objects.create_user(username="cleo", password=PASSWORD)
    Membership.objects.create(user=consultant, agency=agency, role=Membership.Role.CONSULTANT)
    Membership.objects.create(user=founder, agency=agency, role=Membership.Role.CLIENT)
    project = Project.objects.create(
        agency=agency, name="Clubhouse", apex_domain="clubhouse.test", preferred_host="www.clubhouse.test",
        subdomains=["www", "app", "api", "admin"], sandbox_scenario=str(SCENARIOS / "demo.yaml"),
    )
    project.founders.add(founder)
    run = services.audit_start(project=project, user=consultant, dispatch=False)
    services.audit_execute(run.pk)
    run.refresh_from_db()
    assert run.state == "done", run.error
    return consultant, founder, project, run


def test_the_columns_are_the_registered_edge_checks_titled_by_the_registry(client, audited):
    consultant, _, project, _ = audited
    client.force_login(consultant)

    matrix = read_matrix(client.get(reverse("projects:detail", args=[project.pk])).content.decode())

    assert matrix.columns == EDGE_CHECKS
    titles = {c.id: c.title for c in all_checks()}
    assert matrix.headers == [titles[c] for c in EDGE_CHECKS]
    assert matrix.headers[EDGE_CHECKS.index("dns.resolves")] == "Host resolves to an address"


def test_a_hint_above_the_matrix_says_it_scrolls_sideways(client, audited):
    consultant, _, project, _ = audited
    client.force_login(consultant)

    html = client.get(reverse("projects:detail", args=[project.pk])).content.decode()

    section = html[html.index('id="edge"'):]
    assert ('<p class="matrix-hint small muted" aria-hidden="true">Scroll sideways for all 17 checks →</p>\n'
            '  <div class="matrix-frame">\n  <div class="matrix-scroll"') in section
    assert len(EDGE_CHECKS) == 17


def test_the_matrix_shows_each_hosts_verdict_for_each_edge_check(client, audited):
    consultant, _, project, run = audited
    client.force_login(consultant)

    html = client.get(reverse("projects:detail", args=[project.pk])).content.decode()

    matrix = read_matrix(html)
    assert [(host, [c.status for c in cells]) for host, cells in matrix.rows] == DEMO_MATRIX
    # Readable without colour: a symbol and a word in every cell.
    assert [[squash(c.text) for c in cells] for _, cells in matrix.rows] == [
        [LABELS[s] for s in statuses] for _, statuses in DEMO_MATRIX
    ]
    # A cell is that check's result: its column's check id, and its summary on hover.
    cells = {(host, cell.check): cell for host, row in matrix.rows for cell in row if cell.check}
    assert all(c.check in (None, EDGE_CHECKS[i]) for _, row in matrix.rows for i, c in enumerate(row))
    results = {(r.target, r.check_id): r for r in run.results.filter(stage="edge").exclude(target__contains="://")}
    assert {key: cell.title for key, cell in cells.items()} == {key: r.summary for key, r in results.items()}
    assert cells[("api.clubhouse.test", "tls.certificate")].status == "fail"
    assert cells[("admin.clubhouse.test", "dns.resolves")].status == "fail"
    assert cells[("app.clubhouse.test", "http.hsts")].status == "fail"
    assert cells[("clubhouse.test", "http.canonical_redirect")].status == "warn"
    www = dict(matrix.rows)["www.clubhouse.test"][EDGE_CHECKS.index("http.canonical_redirect")]
    assert (www.status, www.check, www.href, www.title) == ("none", None, None, "Not checked on this host")
    assert f'id="edge" data-run="{run.pk}"' in html
    assert html.index('id="summary"') < html.index('id="edge"') < html.index('id="handover"')


def test_every_cell_links_to_its_results_card_on_the_run_page(client, audited):
    consultant, _, project, run = audited
    client.force_login(consultant)

    matrix = read_matrix(client.get(reverse("projects:detail", args=[project.pk])).content.decode())
    run_page = client.get(reverse("checks:run", args=[run.pk])).content.decode()

    found = re.findall(r'data-check="([\w.]+)" data-target="([\w.]+)" id="(r-\d+)"', run_page)
    cards = {(check, target): card for check, target, card in found if check in EDGE_CHECKS}
    # Every result has a card but the not-applicable ones, which have no evidence to show.
    in_matrix = {(c, t) for (c, t), s in DEMO_EXPECT.items() if c in EDGE_CHECKS and s != "skipped"}
    assert len(cards) == run.results.filter(stage="edge").exclude(status="skipped").exclude(target__contains="://").count()
    links = {(cell.check, host): cell.href for host, row in matrix.rows for cell in row if cell.href}
    assert set(links) == in_matrix
    assert links == {key: f"/runs/{run.pk}/#{card}" for key, card in cards.items()}
    assert links[("tls.certificate", "api.clubhouse.test")] == (
        f"/runs/{run.pk}/#r-{run.results.get(check_id='tls.certificate', target='api.clubhouse.test').pk}"
    )


def test_the_selector_reads_the_results_in_one_query(audited):
    _, _, project, run = audited
    hosts = project.spec().hosts

    with CaptureQueriesContext(connection) as queries:
        matrix = edge_matrix(run, hosts)

    assert len(queries) == 1
    assert [c.id for c in matrix["checks"]] == EDGE_CHECKS
    assert [(row["host"], [c.status if c else "none" for c in row["cells"]]) for row in matrix["rows"]] == (
        DEMO_MATRIX
    )


def test_a_founder_sees_the_same_matrix_read_only(client, audited):
    consultant, founder, project, _ = audited

    url = reverse("projects:detail", args=[project.pk])
    client.force_login(consultant)
    seen_by_consultant = read_matrix(client.get(url).content.decode())
    client.force_login(founder)
    response = client.get(url)

    assert response.status_code == 200
    assert read_matrix(response.content.decode()) == seen_by_consultant
    assert 'id="run-audit"' not in response.content.decode()


def test_hosts_the_project_no_longer_lists_come_last_by_name(client, world, stored):
    # The stored audit of project A has results for api. and admin.; since, the project dropped them.
    world.a.project.subdomains = ["www"]
    world.a.project.save()
    client.force_login(world.a.founder)

    matrix = read_matrix(client.get(reverse("projects:detail", args=[world.a.project.pk])).content.decode())

    none = ["none"] * len(EDGE_CHECKS)
    admin = list(none)
    admin[EDGE_CHECKS.index("dns.resolves")] = "error"
    api = list(none)
    api[EDGE_CHECKS.index("tls.certificate")] = "fail"
    assert [(host, [c.status for c in cells]) for host, cells in matrix.rows] == [
        ("admin.alpha.example.com", admin),
        ("api.alpha.example.com", api),
    ]


@pytest.mark.parametrize("who", ["owner", "consultant", "founder"])
def test_the_other_agencys_users_get_404_for_the_page_and_the_linked_run(client, world, stored, who):
    client.force_login(getattr(world.b, who))

    page = client.get(reverse("projects:detail", args=[world.a.project.pk]))
    run = client.get(reverse("checks:run", args=[stored["a"].done.pk]))

    assert (page.status_code, run.status_code) == (404, 404)
    assert b"alpha.example.com" not in page.content + run.content


def test_an_outsider_gets_404_for_the_audited_demo_project(client, world, audited):
    _, _, project, run = audited
    for user in (world.outsider, world.b.owner, world.a.founder):
        client.force_login(user)
        assert client.get(reverse("projects:detail", args=[project.pk])).status_code == 404
        assert client.get(reverse("checks:run", args=[run.pk])).status_code == 404


@pytest.mark.browser
def test_the_matrix_reads_on_a_desktop_and_scrolls_inside_its_card_on_a_phone(live_server, audited, browser):
    from tests.web.test_e2e_browser import ARTIFACTS, DESKTOP, PHONE

    _, _, project, run = audited
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=DESKTOP, base_url=live_server.url)
    page.goto("/accounts/login/")
    page.fill("#id_username", "cleo")  # the founder: the page is read-only for them
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/projects/")
    page.goto(f"/projects/{project.pk}/")

    page.locator("#edge").screenshot(path=str(ARTIFACTS / "edge-matrix-desktop-card.png"))
    page.screenshot(path=str(ARTIFACTS / "edge-matrix-desktop.png"), full_page=True)
    scroll = page.locator("#edge .matrix-scroll")
    # At 1280 px the page does not scroll sideways; the matrix may, inside its card.
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1280
    host = page.locator('#edge tr[data-host="admin.clubhouse.test"] th.host')
    assert host.inner_text() == "admin.clubhouse.test"  # on one line
    # More checks lie to the right: a hint says so and a shadow lies over the cut edge, both shown
    # only while the matrix overflows (scroll-driven CSS, no script).
    hint, frame = page.locator("#edge .matrix-hint"), page.locator("#edge .matrix-frame")
    opacity = "e => getComputedStyle(e).opacity"
    edge_shadow = "e => getComputedStyle(e, '::after').opacity"
    assert scroll.evaluate("e => e.scrollWidth > e.clientWidth")
    assert (hint.inner_text(), hint.evaluate(opacity), frame.evaluate(edge_shadow)) == (
        f"Scroll sideways for all {len(EDGE_CHECKS)} checks →", "1", "1")

    page.set_viewport_size(PHONE)
    page.locator("#edge").screenshot(path=str(ARTIFACTS / "edge-matrix-phone-card.png"))
    page.screenshot(path=str(ARTIFACTS / "edge-matrix-phone.png"), full_page=True)
    # The page itself does not scroll sideways; the matrix does, with the hosts kept in view.
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    assert scroll.evaluate("e => e.scrollWidth > e.clientWidth")
    assert (hint.evaluate(opacity), frame.evaluate(edge_shadow)) == ("1", "1")
    # At the first column, no shadow beside the hosts (the second is transparent).
    assert host.evaluate("e => getComputedStyle(e).boxShadow") == (
        "rgb(226, 229, 235) 1px 0px 0px 0px, rgba(0, 0, 0, 0) 0px 0px 0px 0px")
    before = host.bounding_box()
    scroll.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    # At the last column the right shadow has gone; one beside the hosts says columns lie under them.
    page.wait_for_function("e => getComputedStyle(e, '::after').opacity === '0'", arg=frame.element_handle())
    assert host.evaluate("e => getComputedStyle(e).boxShadow") == (
        "rgb(226, 229, 235) 1px 0px 0px 0px, rgba(29, 36, 51, 0.35) 10px 0px 10px -8px")
    assert hint.evaluate(opacity) == "1"
    page.locator("#edge").screenshot(path=str(ARTIFACTS / "edge-matrix-phone-card-scrolled.png"))
    assert host.bounding_box()["x"] == before["x"]
    assert host.evaluate("e => e.scrollWidth <= e.clientWidth")  # the name is not cut off
    assert host.inner_text() == "admin.\nclubhouse.test"  # the label first, the apex below

    # A passed cell opens its card on the run page, though "Passed" is folded away there.
    page.set_viewport_size(DESKTOP)
    page.locator('#edge tr[data-host="www.clubhouse.test"] td[data-check="tls.certificate"] a').click()
    page.wait_for_url(f"**/runs/{run.pk}/#r-*")
    card = page.locator(":target")
    assert (card.get_attribute("data-check"), card.get_attribute("data-target")) == (
        "tls.certificate", "www.clubhouse.test"
    )
    assert card.is_visible()
    page.screenshot(path=str(ARTIFACTS / "edge-matrix-linked-card.png"))
