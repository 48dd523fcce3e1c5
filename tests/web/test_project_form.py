"""The project form: typed hosts and endpoints are validated with a clear message, and the
sandbox scenario is a choice among the files in SCENARIOS_DIR, never a path."""

from __future__ import annotations

import pytest
from django.urls import reverse

from projects.forms import ProjectForm, scenario_choices
from projects.models import Agency, Project
from tests.conftest import SCENARIOS

pytestmark = pytest.mark.django_db

KINDS = "homepage, login, health, webhook, feed, membership, profile, content, api"


@pytest.fixture
def scenarios_dir(tmp_path, settings):
    """SCENARIOS_DIR with two scenarios, a nested one and a non-YAML file (neither listed)."""
    (tmp_path / "demo.yaml").write_text((SCENARIOS / "demo.yaml").read_text())
    (tmp_path / "mail.yaml").write_text("name: mail\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "deep.yaml").write_text("name: deep\n")
    (tmp_path / "notes.txt").write_text("not a scenario\n")
    settings.SCENARIOS_DIR = tmp_path
    settings.SANDBOX_ENABLED = True
    return tmp_path


def form_data(**overrides) -> dict:
    data = {
        "name": "Clubhouse", "client_name": "Clubhouse Ltd", "apex_domain": "clubhouse.test",
        "preferred_host": "www.clubhouse.test", "subdomains_text": "www, app, api, admin",
        "endpoints_text": "homepage https://www.clubhouse.test/\nlogin POST https://app.clubhouse.test/login",
        "rollback_notes": "paas rollback", "sandbox_scenario": "demo.yaml",
    }
    return {**data, **overrides}


def bound(world, **overrides) -> ProjectForm:
    agencies = Agency.objects.filter(pk=world.a.agency.pk)
    return ProjectForm(form_data(agency=world.a.agency.pk, **overrides), agencies=agencies)


def test_the_scenario_choices_are_the_yaml_files_directly_in_the_scenarios_dir(scenarios_dir):
    assert scenario_choices() == [
        ("", "Real network"), ("demo.yaml", "demo.yaml"), ("mail.yaml", "mail.yaml")
    ]


def test_a_valid_form_saves_the_project_its_subdomains_endpoints_and_scenario(world, scenarios_dir):
    form = bound(world)

    assert form.is_valid(), form.errors
    project = form.save()

    assert project.agency == world.a.agency
    assert (project.apex_domain, project.preferred_host) == ("clubhouse.test", "www.clubhouse.test")
    assert project.subdomains == ["www", "app", "api", "admin"]
    assert project.sandbox_scenario == "demo.yaml"
    assert list(project.endpoints.values_list("kind", "method", "url")) == [
        ("homepage", "GET", "https://www.clubhouse.test/"),
        ("login", "POST", "https://app.clubhouse.test/login"),
    ]


def test_hostnames_are_normalised(world, scenarios_dir):
    form = bound(world, apex_domain="  Bücher.Example. ", preferred_host="WWW.xn--bcher-kva.example")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["apex_domain"] == "xn--bcher-kva.example"
    assert form.cleaned_data["preferred_host"] == "www.xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("apex", "message"),
    [
        ("exa mple..com", "'exa mple..com' contains a space"),
        ("example..com", "'example..com' has an empty label (two dots in a row)"),
        ("http://x", "'http://x' is a URL: give the host name only, like example.com"),
        ("example.com/app", "'example.com/app' has a path or a port: give the host name only"),
        ("localhost", "'localhost' has no domain part"),
        ("10.0.0.1", "'10.0.0.1' is an IP address, not a hostname"),
    ],
)
def test_a_malformed_apex_is_refused_with_the_reason(world, scenarios_dir, apex, message):
    form = bound(world, apex_domain=apex)

    assert not form.is_valid()
    assert form.errors["apex_domain"] == [message]


def test_a_canonical_host_outside_the_apex_is_refused(world, scenarios_dir):
    form = bound(world, preferred_host="www.elsewhere.test")

    assert not form.is_valid()
    assert form.errors["preferred_host"] == ["The canonical host must be clubhouse.test or a name under it"]


def test_bad_subdomains_are_refused_each_named_under_the_projects_apex(world, scenarios_dir):
    form = bound(world, subdomains_text="www, bad label, -x-, clubhouse.test")

    assert not form.is_valid()
    assert form.errors["subdomains_text"] == [
        "'bad label.clubhouse.test' contains a space",
        "'-x-.clubhouse.test' has an invalid label '-x-'",
        "'clubhouse.test' is the apex itself, not a subdomain",
    ]


def test_a_full_hostname_typed_as_a_subdomain_is_kept_as_its_label(world, scenarios_dir):
    form = bound(world, subdomains_text="www, app.clubhouse.test, eu.api")

    assert form.is_valid(), form.errors
    assert form.save().subdomains == ["www", "app", "eu.api"]


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ("login", "Line 1: write 'kind [METHOD] URL', not 1 word"),
        ("homepage https://www.clubhouse.test/\ndashboard https://app.clubhouse.test/",
         f"Line 2: 'dashboard' is not a kind: use one of {KINDS}"),
        ("login FETCH https://app.clubhouse.test/login",
         "Line 1: 'FETCH' is not a method: use one of DELETE, GET, HEAD, PATCH, POST, PUT"),
        ("homepage not-a-url", "Line 1: 'not-a-url' must start with http:// or https://"),
        ("homepage ftp://files.clubhouse.test/", "Line 1: 'ftp://files.clubhouse.test/' must start with "
                                                 "http:// or https://"),
        ("api GET https://127.0.0.1/admin",
         "Line 1: the URL's host: '127.0.0.1' is an IP address, not a hostname"),
        ("login POST https://me:secret@app.clubhouse.test/login",
         "Line 1: put no user name or password in the URL: it would be stored in clear"),
    ],
)
def test_a_bad_endpoint_line_is_refused_with_its_line_number(world, scenarios_dir, endpoints, message):
    form = bound(world, endpoints_text=endpoints)

    assert not form.is_valid()
    assert form.errors["endpoints_text"] == [message]


def test_every_bad_endpoint_line_is_reported_not_only_the_first(world, scenarios_dir):
    form = bound(world, endpoints_text="hello\nhomepage https://www.clubhouse.test/\nlogin FETCH https://x.test/")

    assert not form.is_valid()
    assert form.errors["endpoints_text"] == [
        "Line 1: write 'kind [METHOD] URL', not 1 word",
        "Line 3: 'FETCH' is not a method: use one of DELETE, GET, HEAD, PATCH, POST, PUT",
    ]


@pytest.mark.parametrize(
    "scenario",
    [
        "../demo.yaml", "nested/deep.yaml", "notes.txt", str(SCENARIOS / "demo.yaml"), "/etc/passwd",
        "missing.yaml",
    ],
)
def test_a_scenario_outside_the_listing_is_refused(world, scenarios_dir, scenario):
    form = bound(world, sandbox_scenario=scenario)

    assert not form.is_valid()
    assert form.errors["sandbox_scenario"] == [
        f"Select a valid choice. {scenario} is not one of the available choices."
    ]


def test_the_real_network_is_the_empty_choice(world, scenarios_dir):
    form = bound(world, sandbox_scenario="")

    assert form.is_valid(), form.errors
    assert form.save().sandbox_scenario == ""


def test_without_the_sandbox_the_scenario_field_is_absent_and_ignored(world, scenarios_dir, settings):
    settings.SANDBOX_ENABLED = False
    form = bound(world, sandbox_scenario="demo.yaml")

    assert "sandbox_scenario" not in form.fields
    assert form.is_valid(), form.errors
    assert form.save().sandbox_scenario == ""


def test_editing_a_project_tied_to_a_listed_scenario_by_its_absolute_path_shows_its_name(
    world, scenarios_dir
):
    project = world.a.project
    project.sandbox_scenario = str(scenarios_dir / "demo.yaml")
    project.save()

    form = ProjectForm(instance=project, agencies=Agency.objects.filter(pk=world.a.agency.pk))

    assert form["sandbox_scenario"].value() == "demo.yaml"
    assert form.fields["sandbox_scenario"].choices == [
        ("", "Real network"), ("demo.yaml", "demo.yaml"), ("mail.yaml", "mail.yaml")
    ]


def test_editing_a_project_tied_to_an_unlisted_scenario_keeps_it_as_the_only_extra_choice(
    world, scenarios_dir
):
    project = world.a.project
    project.sandbox_scenario = "/srv/cli/other.yaml"
    project.save()
    agencies = Agency.objects.filter(pk=world.a.agency.pk)

    def edit(scenario: str) -> ProjectForm:
        data = form_data(apex_domain="alpha.example.com", preferred_host="", sandbox_scenario=scenario)
        return ProjectForm(data, instance=project, agencies=agencies)

    unchanged = edit("/srv/cli/other.yaml")
    elsewhere = edit("/srv/cli/elsewhere.yaml")

    assert unchanged.fields["sandbox_scenario"].choices[-1] == (
        "/srv/cli/other.yaml", "Current: other.yaml (set outside this form)"
    )
    assert unchanged.is_valid(), unchanged.errors
    assert unchanged.save().sandbox_scenario == "/srv/cli/other.yaml"
    assert not elsewhere.is_valid()


def test_the_edit_page_shows_the_errors_and_keeps_the_project(client, world, scenarios_dir):
    client.force_login(world.a.consultant)
    url = reverse("projects:edit", args=[world.a.project.pk])

    response = client.post(url, form_data(apex_domain="exa mple..com", endpoints_text="login"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "&#x27;exa mple..com&#x27; contains a space" in html
    assert "Line 1: write &#x27;kind [METHOD] URL&#x27;, not 1 word" in html
    assert Project.objects.get(pk=world.a.project.pk).apex_domain == "alpha.example.com"


def test_creating_a_project_through_the_page_redirects_to_it(client, world, scenarios_dir):
    client.force_login(world.a.consultant)

    response = client.post(reverse("projects:create"), form_data(agency=world.a.agency.pk))

    project = Project.objects.get(name="Clubhouse")
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/"
    assert (project.agency, project.created_by, project.sandbox_scenario) == (
        world.a.agency, world.a.consultant, "demo.yaml"
    )


def test_the_mail_settings_are_saved_normalised(world, scenarios_dir):
    form = bound(world, mail_provider="postmark", mail_sending_ips_text="192.0.2.10, 2001:db8::/48",
                 dkim_selectors_text="s1, 20240101pm._domainkey.clubhouse.test")

    assert form.is_valid(), form.errors
    project = form.save()

    project.refresh_from_db()
    assert project.mail_provider == "postmark"
    assert project.mail_sending_ips == ["192.0.2.10", "2001:db8::/48"]
    assert project.dkim_selectors == ["s1", "20240101pm"]  # a pasted record name keeps its selector
    assert project.spec().dkim_selectors == ("s1", "20240101pm")


def test_bad_mail_settings_are_refused_with_the_reason(world, scenarios_dir):
    form = bound(world, mail_provider="sendmail", mail_sending_ips_text="192.0.2.300",
                 dkim_selectors_text="s1, bad_selector!")

    assert not form.is_valid()
    assert form.errors["mail_provider"] == [
        "Select a valid choice. sendmail is not one of the available choices."
    ]
    assert form.errors["mail_sending_ips_text"] == [
        "'192.0.2.300' is not an IP address or network, like 192.0.2.10 or 192.0.2.0/24"
    ]
    assert form.errors["dkim_selectors_text"] == [
        "'bad_selector!' is not a DKIM selector (labels of letters, digits and hyphens)"
    ]


def test_editing_a_project_shows_its_mail_settings(world, scenarios_dir):
    project = Project.objects.create(
        agency=world.a.agency, name="Mail", apex_domain="mail.test", mail_provider="sendgrid",
        dkim_selectors=["s1", "s2"], mail_sending_ips=["192.0.2.10"],
    )

    form = ProjectForm(instance=project, agencies=Agency.objects.filter(pk=world.a.agency.pk))

    assert form.initial["mail_provider"] == "sendgrid"
    assert form.fields["dkim_selectors_text"].initial == "s1, s2"
    assert form.fields["mail_sending_ips_text"].initial == "192.0.2.10"
