"""``manage.py monitor_loop``: monitoring on the embedded default, with no beat and no worker —
one round claims what is due, probes it in this process and records the probe."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from checks.models import Monitor, Probe


def test_one_round_probes_each_due_monitor_once(project, loopback, site):
    due = Monitor.objects.create(project=project, name="Homepage", url=site.url, keyword="Welcome",
                                 next_due_at=timezone.now() - timedelta(seconds=1))
    later = Monitor.objects.create(project=project, name="Later", url=site.url,
                                   next_due_at=timezone.now() + timedelta(minutes=5))
    out = StringIO()

    call_command("monitor_loop", "--once", stdout=out, stderr=StringIO())

    assert out.getvalue() == "1 monitor(s) probed, 0 alert(s) attempted\n"
    assert [(p.monitor_id, p.ok, p.status_code) for p in Probe.objects.all()] == [(due.pk, True, 200)]
    assert site.requests == 1
    due.refresh_from_db()
    assert due.state == "up"
    assert not Probe.objects.filter(monitor=later).exists()
    call_command("monitor_loop", "--once", stdout=StringIO(), stderr=StringIO())  # claimed: not due again
    assert Probe.objects.count() == 1
