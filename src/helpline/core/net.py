"""Client addresses: how much of one is kept (data minimisation)."""

from __future__ import annotations

import ipaddress

# What is kept of an address: enough to tell the network a request came from, not the device.
IPV4_PREFIX = 24
IPV6_PREFIX = 48


def truncate_ip(ip: str | None) -> str | None:
    """``ip`` with its host part zeroed: the /24 of an IPv4 address, the /48 of an IPv6 one (an
    IPv4-mapped IPv6 address counts as IPv4). None for an empty or invalid value."""
    if not ip:
        return None
    try:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    prefix = IPV4_PREFIX if addr.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)
