"""Fixtures for the API tests: the two-agency ``world`` with its stored audits and PDFs (the
web tests' ``stored``), a finding, a monitor and a deploy on each side, and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from checks.models import Monitor
from launchready.api.keys import key_create
from projects.findings import findings_sync
from projects.models import DeployEvent
from tests.web.conftest import stored  # noqa: F401  (a fixture)


@dataclass
class Keys:
    """Plain API keys: agency A's read-write and read-only keys (made by A's owner), B's
    read-write key (made by B's owner)."""

    a_write: str
    a_read: str
    b_write: str


@pytest.fixture
def keys(world) -> Keys:
    def make(side, scope):
        return key_create(agency=side.agency, name=f"CI {scope}", scope=scope, created_by=side.owner)[1]

    return Keys(a_write=make(world.a, "write"), a_read=make(world.a, "read"), b_write=make(world.b, "write"))


@pytest.fixture
def records(world, stored):  # noqa: F811  (the fixture imported above)
    """Each side's finished audit opens its finding; each side gets a monitor and a deploy."""
    for side, kept in ((world.a, stored["a"]), (world.b, stored["b"])):
        findings_sync(kept.done)
        Monitor.objects.create(project=side.project, name="Homepage", url=f"https://www.{side.project.apex_domain}/")
        DeployEvent.objects.create(
            project=side.project, environment="production", version="1.2.0", commit="abc123", actor="ci",
            deployed_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
            signature_sha256=f"{side.agency.slug:0<64}"[:64],
        )
    return stored


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}
