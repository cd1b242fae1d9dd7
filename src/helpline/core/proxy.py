"""The client's address and scheme behind a trusted reverse proxy (HELPLINE_TRUSTED_PROXIES).

A request whose direct peer is a trusted proxy is taken to come from:

- ``X-Real-IP``, when it holds an address that is not itself a trusted proxy: the proxy sets it to
  the address it saw (nginx: ``proxy_set_header X-Real-IP $remote_addr``), and it is the one header
  a client cannot smuggle through a proxy that sets it. It wins over X-Forwarded-For, which some
  proxies pass on from the client as it came;
- otherwise ``X-Forwarded-For``, read from the right: the first hop that is not a trusted proxy
  (as uvicorn's proxy_headers do).

``X-Forwarded-Proto`` sets the scheme (https: HSTS). From any other peer these headers are
ignored: the address is the peer's. This replaces uvicorn's ``proxy_headers`` (which knows no
X-Real-IP), so it also works under any other ASGI server and in tests without one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SCHEMES = {"http", "https", "ws", "wss"}


def parse_ip(value: str) -> str | None:
    """The address in a header value (``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:443``,
    ``2001:db8::1``), normalised; None when it is not one."""
    value = value.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


class TrustedProxies:
    """The peers whose forwarding headers are believed: addresses or networks; "*" is everyone."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.everyone = False
        networks: list[IPNetwork] = []
        for entry in entries:
            entry = entry.strip()
            if entry == "*":
                self.everyone = True
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue  # not an address (a host name): never matches a peer
        self.networks = tuple(networks)

    def __contains__(self, host: object) -> bool:
        if self.everyone:
            return True
        if not isinstance(host, str):
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client_from_forwarded_for(self, value: str) -> str | None:
        """The rightmost hop of X-Forwarded-For that is not a trusted proxy (the leftmost when they
        all are); None when that hop is not an address."""
        hops = [hop.strip() for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            if hop not in self:
                return parse_ip(hop)
        return parse_ip(hops[0]) if hops else None


class ClientAddressMiddleware:
    """Sets the scope's ``client`` and ``scheme`` from a trusted proxy's headers (see the module)."""

    def __init__(self, app: ASGIApp, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        self.trusted = TrustedProxies(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            if peer is not None and peer[0] in self.trusted:
                scope = self._forwarded(scope)
        await self.app(scope, receive, send)

    def _forwarded(self, scope: Scope) -> Scope:
        real_ip = proto = None
        forwarded_for: list[str] = []
        for name, value in scope["headers"]:
            if name == b"x-real-ip":
                real_ip = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded_for.append(value.decode("latin-1"))
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").strip().lower()
        changed = dict(scope)
        if proto in SCHEMES:
            changed["scheme"] = proto.replace("http", "ws") if scope["type"] == "websocket" else proto
        client = parse_ip(real_ip) if real_ip is not None else None
        if client is None or (client in self.trusted and not self.trusted.everyone):
            # No X-Real-IP, or the proxy's own peer was a trusted proxy too (a balancer in front):
            # that one's X-Forwarded-For tells more. ("*" trusts every address: X-Real-IP it is.)
            client = self.trusted.client_from_forwarded_for(", ".join(forwarded_for)) if forwarded_for else None
        if client is not None:
            changed["client"] = (client, 0)
        return changed
