"""``manage.py refresh_cloudflare_ranges [--output PATH]``: fetch Cloudflare's published IP
ranges and write them, with today's date, to the data file the Cloudflare checks read.

A thin wrapper over ``checks.engine.cloudflare.refresh_ranges``: the lists are fetched through
the audit's HTTP client on the production network profile, so the outbound policy applies. A
refused answer (HTML, garbage, empty, oversized) stops the command with a non-zero exit status
and leaves the file as it was.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from checks.engine.cloudflare import DATA_FILE, RangesRefreshError, refresh_ranges
from checks.engine.net.session import Net
from checks.network import production_profile


class Command(BaseCommand):
    help = "Fetch Cloudflare's published IP ranges and write them to the data file (with today's date)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", default=str(DATA_FILE),
            help=f"the JSON file to write (default: {DATA_FILE})",
        )

    def handle(self, *args, **options):
        output = Path(options["output"])
        with Net(production_profile()) as net:
            try:
                data = refresh_ranges(net.http, output)
            except RangesRefreshError as exc:
                raise CommandError(f"{exc}; {output} was not changed") from None
        self.stdout.write(
            f"wrote {len(data['ipv4'])} IPv4 and {len(data['ipv6'])} IPv6 ranges "
            f"(fetched {data['fetched']}) to {output}"
        )
