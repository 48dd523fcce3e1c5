"""Check modules, one per area; importing this package registers them all."""

from checks.engine.checks import (  # noqa: F401
    canonical,
    content,
    dns,
    dns_authority,
    dns_records,
    edge,
    email_records,
    email_spf,
    email_transactional,
    exposed,
    handover,
    headers,
    http,
    monitoring,
    tls,
    tls_protocols,
)
