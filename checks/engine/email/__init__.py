"""Mail authentication for the email stage: SPF (RFC 7208), DKIM (RFC 6376), DMARC, MX.

Plain Python on top of ``checks.engine.net``: every DNS question goes through the audit's
``DnsClient`` (the sandbox, the outbound policy and the per-audit memo apply).
"""
