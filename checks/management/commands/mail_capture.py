"""``manage.py mail_capture [--host H] [--port P]``: the capture server of the mail test.

An SMTP server (aiosmtpd) that accepts mail for ``MAIL_CAPTURE_DOMAIN`` only and keeps each
message in Redis (``RedisMailbox`` at ``REDIS_URL``) with the connecting address, HELO name
and envelope sender, where the audit worker running email.transactional reads it back. Point
the capture domain's MX record at the host running it; mail servers deliver to port 25
(RFC 5321 §4.5.4 — this process binds ``--port``, map 25 to it, as docker-compose.yml does).

Runs until SIGINT or SIGTERM. Refuses to start without ``MAIL_CAPTURE_DOMAIN`` or ``REDIS_URL``.
"""

from __future__ import annotations

import asyncio
import signal
import threading

from aiosmtpd.smtp import SMTP
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from checks.engine.email.mailbox import MAX_MESSAGE_BYTES, CaptureHandler, RedisMailbox
from checks.engine.hostnames import InvalidHostname, normalize_hostname

DEFAULT_HOST = "127.0.0.1"  # loopback unless told: which interface faces the internet is the operator's call
DEFAULT_PORT = 2525


class Command(BaseCommand):
    help = "Receive the transactional test mails for MAIL_CAPTURE_DOMAIN and keep them in Redis."

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ready = threading.Event()  # set once the server listens (tests wait on it)
        self.stop = threading.Event()  # set to shut the server down

    def add_arguments(self, parser):
        parser.add_argument(
            "--host", default=DEFAULT_HOST,
            help=f"address to listen on (default {DEFAULT_HOST}; 0.0.0.0 for every interface)",
        )
        parser.add_argument(
            "--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})",
        )

    def handle(self, *args, host: str, port: int, **options):
        domain = _capture_domain()
        if not settings.REDIS_URL:
            raise CommandError("set REDIS_URL: the audit workers read the captured mail from Redis")
        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not between 1 and 65535")
        handler = CaptureHandler(RedisMailbox(settings.REDIS_URL), domain)
        asyncio.run(self._serve(handler, domain, host, port))
        self.stdout.write("Capture server stopped.")

    async def _serve(self, handler: CaptureHandler, domain: str, host: str, port: int) -> None:
        """Listen (``CommandError`` at once if the address is taken), then serve until ``stop``."""
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(
                lambda: SMTP(
                    handler, hostname=domain, enable_SMTPUTF8=True,
                    # Refused at DATA with 552 (RFC 5321 §4.5.3.1.10) before it is buffered whole.
                    data_size_limit=MAX_MESSAGE_BYTES,
                ),
                host=host, port=port,
            )
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._stop_on_signals(loop)
        self.stdout.write(f"Capturing mail for {domain} on {host}:{port} (Ctrl-C stops).")
        self.ready.set()
        try:
            await loop.run_in_executor(None, self.stop.wait)
        finally:
            server.close()
            await server.wait_closed()

    def _stop_on_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        # Signal handlers can only be installed from the main thread (tests run it in another).
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self.stop.set)


def _capture_domain() -> str:
    """``MAIL_CAPTURE_DOMAIN`` normalised; raises ``CommandError`` when unset or not a name."""
    if not settings.MAIL_CAPTURE_DOMAIN:
        raise CommandError("set MAIL_CAPTURE_DOMAIN: the domain whose mail this server receives")
    try:
        return normalize_hostname(settings.MAIL_CAPTURE_DOMAIN)
    except InvalidHostname as exc:
        raise CommandError(f"MAIL_CAPTURE_DOMAIN: {exc}") from None
