"""Chat WebSockets accepted but not authenticated yet, counted per process (in all and per client
address) so that a flood of idle sockets is refused early (capped by settings.ws). In-process
only: each instance caps its own sockets."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from helpline.core.config import WebSocketSettings


class PendingSockets:
    """Sockets accepted and not authenticated yet, in this process: in all and per address."""

    def __init__(self) -> None:
        self.total = 0
        self.by_address: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def admit(self, address: str, limits: WebSocketSettings) -> Iterator[str | None]:
        """Count the socket while the block runs; yields why it is refused (None: admitted)."""
        if self.total >= limits.max_unauthenticated:
            yield "Too many connections are waiting to authenticate: try again later"
            return
        if self.by_address[address] >= limits.max_unauthenticated_per_ip:
            yield "Too many connections from this address are waiting to authenticate"
            return
        self.total += 1
        self.by_address[address] += 1
        try:
            yield None
        finally:
            self.total -= 1
            self.by_address[address] -= 1
            if self.by_address[address] <= 0:
                del self.by_address[address]
