"""Check modules, one per area; importing this package registers them all."""

from checks.engine.checks import dns, http, tls  # noqa: F401
