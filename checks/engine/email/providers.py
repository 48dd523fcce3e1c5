"""Who sends a project's mail: provider presets (``data/mail_providers.json``) or custom IPs.

A preset is the SPF include its provider tells customers to publish; the provider's sending
networks are read from that include at audit time (the provider keeps them current), so the
data file holds names, not address lists that go stale. Custom IPs are addresses or networks
the consultant types.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from checks.engine.email.spf import walk_record
from checks.engine.email.spf_records import SpfResult
from checks.engine.email.spf_syntax import SpfSyntaxError, parse_record
from checks.engine.net.dns import DnsClient

DATA = Path(__file__).resolve().parent.parent / "data" / "mail_providers.json"
MAX_SENDING_IPS = 50
MAX_ADDRESSES_TESTED = 16  # per provider: one address from each of its first 16 networks


class InvalidMailSetting(ValueError):
    """A sending provider or IP that cannot be used; the message says why, for the user."""


@dataclass(frozen=True)
class MailProvider:
    """A preset: ``spf_include`` is the name customers include; ``record`` the provider's
    suggested record; ``source`` its documentation; ``note`` where the include belongs."""

    key: str
    name: str
    spf_include: str
    record: str
    source: str
    note: str = ""


@cache
def mail_providers() -> dict[str, MailProvider]:
    """The presets by key (``google_workspace``, ``microsoft_365``, …), in file order."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    fields = ("key", "name", "spf_include", "record", "source")
    return {p["key"]: MailProvider(*(p[f] for f in fields), p.get("note", "")) for p in data["providers"]}


def mail_provider_key(value: str) -> str:
    """``value`` as a preset key ("" for none). Raises ``InvalidMailSetting`` for an unknown one."""
    key = (value or "").strip().lower()
    if key and key not in mail_providers():
        choices = ", ".join(mail_providers())
        raise InvalidMailSetting(f"{value!r} is not a sending provider: use one of {choices}")
    return key


def sending_networks(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Custom sending IPs, normalised (``192.0.2.10``, ``2001:db8::/48``), no repeats, at most
    ``MAX_SENDING_IPS``. Raises ``InvalidMailSetting`` for one that is not an IPv4/IPv6 address
    or network."""
    if len(values) > MAX_SENDING_IPS:
        raise InvalidMailSetting(f"a project may have at most {MAX_SENDING_IPS} sending IPs")
    networks = []
    for value in values:
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            raise InvalidMailSetting(
                f"{value!r} is not an IP address or network, like 192.0.2.10 or 192.0.2.0/24"
            ) from None
        networks.append(str(network.network_address) if network.num_addresses == 1 else str(network))
    return tuple(dict.fromkeys(networks))


@dataclass
class Senders:
    """Addresses to run check_host() for, and where they come from.

    ``error`` says why the provider's networks could not be read (its include has no record,
    a DNS failure); ``networks`` are the ones found, ``addresses`` the ones tested.
    """

    label: str
    networks: list[str]
    addresses: list[str]
    include: str | None = None
    source: str | None = None
    error: str | None = None


def provider_senders(dns_client: DnsClient, provider: MailProvider) -> Senders:
    """The provider's sending networks, read from its include's record tree (every ip4/ip6
    with a pass qualifier, in tree order), and one address from each of the first
    ``MAX_ADDRESSES_TESTED`` (its first address)."""
    senders = Senders(provider.name, [], [], include=provider.spf_include, source=provider.source)
    outcome = walk_record(dns_client, provider.spf_include)
    if outcome.result in (SpfResult.NONE, SpfResult.TEMPERROR) or outcome.problem == "syntax":
        senders.error = f"{provider.spf_include}: {outcome.summary}"
        return senders
    for node in outcome.tree.nodes():
        try:
            record = parse_record(node.record) if node.record else None
        except SpfSyntaxError:
            continue
        for mechanism in record.mechanisms if record else []:
            if mechanism.name in ("ip4", "ip6") and mechanism.qualifier == "+":
                senders.networks.append(str(mechanism.network))
    senders.networks = list(dict.fromkeys(senders.networks))
    if not senders.networks:
        senders.error = f"{provider.spf_include} lists no ip4/ip6 networks"
    senders.addresses = [
        str(ipaddress.ip_network(n).network_address) for n in senders.networks[:MAX_ADDRESSES_TESTED]
    ]
    return senders


def custom_senders(networks: tuple[str, ...]) -> Senders:
    """The consultant's IPs: an address as it is, a network by its first and last address."""
    addresses = []
    for text in networks:
        network = ipaddress.ip_network(text)
        addresses += [str(network.network_address), str(network[-1])]
    return Senders("the project's sending IPs", list(networks), list(dict.fromkeys(addresses)))
