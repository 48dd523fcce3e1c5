"""Check modules, one per area; importing this package registers them all."""

from checks.engine.checks import (  # noqa: F401
    content,
    dns,
    dns_records,
    headers,
    http,
    tls,
    tls_protocols,
)
