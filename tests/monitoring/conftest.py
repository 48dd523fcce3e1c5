"""Fixtures of the monitoring tests: loopback allowed for monitors and webhooks, no broker
(deliveries are sent by calling ``alerts.send``), a project, a site that can go down."""

from __future__ import annotations

import pytest

from tests.monitoring.support import Site


@pytest.fixture
def loopback(settings):
    """Monitors and webhooks may reach 127.0.0.0/8 (never in production); no REDIS_URL, so
    nothing is queued on a broker (on-commit sends do not run inside a test transaction)."""
    settings.MONITOR_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.REDIS_URL = ""
    settings.SITE_URL = "https://panel.example"
    return settings


@pytest.fixture
def project(db):
    from projects.models import Agency, Project

    agency = Agency.objects.create(name="Northwind Digital", slug="northwind")
    return Project.objects.create(agency=agency, name="Clubhouse", apex_domain="clubhouse.test")


@pytest.fixture
def site():
    server = Site()
    yield server
    server.stop()
