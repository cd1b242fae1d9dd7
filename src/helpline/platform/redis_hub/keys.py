"""The Redis names of the hub (keys and channels), and the checks every Redis call needs."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Keys:
    """An answer's keys share a hash tag (``{<message_id>}``): one cluster slot, so a command may
    name both. Channels (pub/sub) are not scoped to a Redis database as keys are: a deployment
    on another database of the same server would hear this one's, so ``channels`` names
    the database (``channels_for``)."""

    prefix: str
    channels: str  # the channels' prefix

    @classmethod
    def channels_for(cls, prefix: str, database: int) -> Keys:
        """Names for a hub on this Redis database: database 0 keeps the plain names."""
        return cls(prefix, f"{prefix}:db{database}" if database else prefix)

    def stream(self, message_id: int) -> str:
        return f"{self.prefix}:gen:{{{message_id}}}"

    def meta(self, message_id: int) -> str:
        return f"{self.prefix}:gen:{{{message_id}}}:meta"

    def alive(self, origin: str) -> str:
        return f"{self.prefix}:instance:{origin}"

    def user_channel(self, user_id: int) -> str:
        return f"{self.channels}:user:{user_id}"

    @property
    def announcements(self) -> str:
        """Where answers are announced (open, done) and stops asked for."""
        return f"{self.channels}:generations"


def compact(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def checkpoint() -> None:
    """Re-raise a cancellation that a Redis call swallowed (redis-py 8.1 can return normally
    from a command interrupted by Task.cancel(), e.g. PubSub.unsubscribe)."""
    if cancelling():
        raise asyncio.CancelledError
