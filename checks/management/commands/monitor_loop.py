"""``manage.py monitor_loop``: the beat and the worker of monitoring in one process.

With Redis, Celery beat and a worker do this work (``make beat``, ``make worker``). The
embedded default has neither, so ``make serve`` runs this loop beside the web server: every
``MONITOR_TICK_S`` it claims the due monitors (the same conditional UPDATE as the beat, so it
may even run beside a beat without probing twice), probes them in this process, and sends the
alert deliveries whose attempt has come; every ``RETENTION_EVERY_S`` it runs the beat's
retention task too (hourly roll-ups, raw probes kept 7 days). ``--once`` runs one round.
"""

from __future__ import annotations

import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from checks.monitoring import alerts, scheduler
from checks.monitoring.retention import retention_run

RETENTION_EVERY_S = 600  # as the beat's monitor-retention entry


def loop_once() -> tuple[int, int]:
    """One round: ``(monitors probed, alert deliveries attempted)``."""
    claims = scheduler.claim_due()
    for batch in scheduler.batches(claims):
        scheduler.run_batch(batch)
    handed = alerts.hand_out()
    for delivery_id, attempt in handed:
        alerts.send(delivery_id, attempt)
    return len(claims), len(handed)


class Command(BaseCommand):
    help = "Probe due monitors and send due alerts in this process, every MONITOR_TICK_S (no Celery)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round, then exit")

    def handle(self, *args, **options):
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        self.stderr.write(f"monitor_loop: probing due monitors every {settings.MONITOR_TICK_S:g} s")
        retained_at = 0.0
        while not stop.is_set():
            if time.monotonic() - retained_at >= RETENTION_EVERY_S:
                retention_run()
                retained_at = time.monotonic()
            probed, sent = loop_once()
            if options["once"]:
                self.stdout.write(f"{probed} monitor(s) probed, {sent} alert(s) attempted")
                return
            stop.wait(settings.MONITOR_TICK_S)
            close_old_connections()  # a long-lived process: drop a connection the database closed
