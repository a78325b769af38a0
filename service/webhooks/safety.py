"""Where webhooks may be sent: https to public addresses, unless the operator allows a host.

A URL is checked when a webhook is made and again before every attempt (the setting may have changed).
Its name is checked again where it matters, when connecting: `SafeResolver` (service/webhooks/resolver.py)
is the HTTP client's resolver, so only the addresses it passes are ever connected to. A name that resolved to
a public address when the webhook was made and to 127.0.0.1 a minute later (DNS rebinding) is refused then.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 2000


class Refused(ValueError):
    """A URL or an address webhooks may not be sent to; the message says why."""


def address_of(text: str) -> IPAddress | None:
    """The IP address `text` is, or None where it is a name."""
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet: not private, loopback, link-local, shared, reserved
    or multicast. An IPv4 address written as IPv6 (::ffff:127.0.0.1) is judged as the IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class AllowedHosts:
    """The operator's exceptions (ML_WEBHOOK_ALLOW_HOSTS): host names, and addresses or networks."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def parse(cls, text: str) -> AllowedHosts:
        """From a comma-separated list such as `127.0.0.1, localhost, 10.1.0.0/16, receiver.internal`."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                names.add(item.lower().rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def host(self, host: str) -> bool:
        """Whether URLs naming this host are allowed http and any address."""
        address = address_of(host)
        if address is None:
            return host.lower().rstrip(".") in self.names
        return self.address(address)

    def address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def check_url(url: str, allowed: AllowedHosts) -> str:
    """The URL, if webhooks may be sent to it; else `Refused`, saying why and what to do."""
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as e:
        raise Refused(f"is not a URL ({e})") from None
    if parts.scheme not in ("https", "http") or not host:
        raise Refused("must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise Refused("must not carry a user name or password: deliveries are signed instead")
    if parts.fragment:
        raise Refused("must not have a #fragment")
    trusted = allowed.host(host)
    if parts.scheme == "http" and not trusted:
        raise Refused(f"must use https (http is allowed only for hosts in ML_WEBHOOK_ALLOW_HOSTS; {host} is not)")
    address = address_of(host)
    if not trusted and address is not None and not is_public(address):
        raise Refused(f"names a private, loopback or link-local address ({host}), which is not allowed")
    if not trusted and (host == "localhost" or host.endswith(".localhost")):
        raise Refused(f"names this machine ({host}), which is not allowed")
    return url.strip()
