"""``manage.py seed_demo``: the demo agency, its consultant and founder, and the Clubhouse project.

Idempotent: running it again resets the demo passwords and re-syncs the project from
``scenarios/demo.yaml`` without creating duplicates. Prints the panel's address and the logins;
``--port`` names the port ``runserver`` will serve on (``make serve PORT=8123`` passes it), 8000
by default.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from checks.network import scenario_path
from checks.sandbox import ScenarioError, load_scenario
from projects.models import Agency, Membership, Project
from projects.services import agency_get_or_create, project_sync_from_scenario

AGENCY = ("northwind", "Northwind Digital")
SCENARIO = "demo.yaml"
HOST = "127.0.0.1"  # what `make serve` binds runserver to
DEFAULT_PORT = 8000  # runserver's own default, and the Makefile's PORT default
# (username, password, email, role) — demo only; fixed so the README can quote them.
OWNER = ("owner", "northwind-demo-0", "owner@northwind.test", Membership.Role.OWNER)
CONSULTANT = ("consultant", "northwind-demo-1", "consultant@northwind.test", Membership.Role.CONSULTANT)
FOUNDER = ("founder", "clubhouse-demo-1", "founder@clubhouse.test", Membership.Role.CLIENT)


class Command(BaseCommand):
    help = ("Create the demo agency, its owner, consultant and founder logins, and the Clubhouse "
            "sandbox project.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                            help="the port the panel is served on, for the printed address "
                                 f"(default {DEFAULT_PORT})")

    def handle(self, *args, **options):
        port = options["port"]
        # Checked before seeding: a wrong port is a typo in the command, not a half-made demo.
        if not 1 <= port <= 65535:
            raise CommandError(f"--port {port} is not a TCP port (1 … 65535)")
        try:
            project = seed_demo()
        except ScenarioError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Demo ready: {demo_url(port)}"))
        self.stdout.write(f"  project:    {project.name} ({project.apex_domain}), scenario {SCENARIO}")
        self.stdout.write(f"  owner:      {OWNER[0]} / {OWNER[1]}   ({AGENCY[1]}: team, API keys, audit log)")
        self.stdout.write(f"  consultant: {CONSULTANT[0]} / {CONSULTANT[1]}   ({AGENCY[1]}, can run audits)")
        self.stdout.write(f"  founder:    {FOUNDER[0]} / {FOUNDER[1]}   ({project.client_name}, read-only)")


def demo_url(port: int = DEFAULT_PORT) -> str:
    """The address the demo panel answers on, e.g. ``"http://127.0.0.1:8123/"`` for port 8123."""
    return f"http://{HOST}:{port}/"


@transaction.atomic
def seed_demo() -> Project:
    """Create or refresh the demo data; returns the Clubhouse project.

    Raises ``ScenarioError`` when ``SCENARIOS_DIR/demo.yaml`` cannot be loaded.
    """
    if not settings.SANDBOX_ENABLED:
        raise ScenarioError("SANDBOX_ENABLED is off: the demo project audits a sandbox scenario")
    agency = agency_get_or_create(slug=AGENCY[0], name=AGENCY[1])
    _member(agency, *OWNER)
    consultant = _member(agency, *CONSULTANT)
    founder = _member(agency, *FOUNDER)
    path = scenario_path(SCENARIO)
    scenario = load_scenario(path)
    # project_sync_from_scenario finds its project by the absolute scenario path, and the
    # demo stores the name relative to SCENARIOS_DIR (portable between checkouts): point an
    # existing demo project at the absolute path first so the sync updates it, not a copy.
    Project.objects.filter(agency=agency, sandbox_scenario=SCENARIO).update(sandbox_scenario=str(path))
    project = project_sync_from_scenario(scenario, agency=agency)
    project.sandbox_scenario = SCENARIO
    if project.created_by_id is None:
        project.created_by = consultant
    project.save(update_fields=["sandbox_scenario", "created_by", "updated_at"])
    project.founders.add(founder)
    return project


def _member(agency: Agency, username: str, password: str, email: str, role: str):
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
    user.email = email
    user.set_password(password)
    user.save()
    Membership.objects.update_or_create(user=user, agency=agency, defaults={"role": role})
    return user
