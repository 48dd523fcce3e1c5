"""The panel's own ``manage.py check --deploy`` checks, beside Django's: what Django cannot
know is a development default in this project. Registered on import (``launchready/__init__``).
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from launchready.crypto import DEVELOPMENT_SECRET_PREFIX


@checks.register(checks.Tags.security, deploy=True)
def check_production_values(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``launchready.W101``: SECRET_KEY is still the development default (anyone who reads
    this repository could sign sessions and password-reset links). ``launchready.W102``:
    SITE_URL is not https:// (invite and password-reset links in mails would travel and open
    in clear, and HSTS never reaches the browser through them)."""
    found = []
    if str(settings.SECRET_KEY).startswith(DEVELOPMENT_SECRET_PREFIX):
        found.append(checks.Warning(
            "SECRET_KEY is the development default.",
            hint='Set SECRET_KEY (python -c "import secrets; print(secrets.token_urlsafe(50))").',
            id="launchready.W101",
        ))
    if not settings.SITE_URL.startswith("https://"):
        found.append(checks.Warning(
            f"SITE_URL is {settings.SITE_URL!r}: links in mails are not on HTTPS.",
            hint="Set SITE_URL to the panel's https:// address.",
            id="launchready.W102",
        ))
    return found
